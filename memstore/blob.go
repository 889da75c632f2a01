package memstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ctxio"
)

// Errors of reads out of bounds.
var (
	errNegativeOffset = errors.New("memstore: negative offset")
	errPastEnd        = errors.New("memstore: range starts past the end")
)

// blobVersion is the content of a key. It is never changed once stored.
type blobVersion struct {
	data []byte
	info jobartifacts.BlobInfo
}

// OpenBlob opens the blob stored under key, or returns ErrNotFound. The
// returned Blob keeps ctx: once ctx is done, its reads fail with ctx's
// error.
func (s *Store) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := s.st
	st.mu.RLock()
	v, ok := st.blobs[key]
	st.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memstore: blob %q: %w", key, jobartifacts.ErrNotFound)
	}
	return &openBlob{ctx: ctx, version: v}, nil
}

// PutBlob reads r to the end into a new slice and stores it under key if
// key is new; an existing key is ErrConflict and keeps its bytes. On any
// error, including ctx ending while r is read, nothing is stored.
func (s *Store) PutBlob(ctx context.Context, key jobartifacts.BlobKey, r io.Reader) (jobartifacts.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return jobartifacts.BlobInfo{}, err
	}
	st := s.st
	// Fail early rather than read a whole upload for nothing; the check
	// that counts is the one under the write lock below.
	st.mu.RLock()
	_, taken := st.blobs[key]
	st.mu.RUnlock()
	if taken {
		return jobartifacts.BlobInfo{}, errTaken(key)
	}
	data, err := io.ReadAll(ctxio.NewReader(ctx, r))
	if err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("memstore: put blob %q: %w", key, err)
	}
	sum := sha256.Sum256(data)
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, taken := st.blobs[key]; taken {
		return jobartifacts.BlobInfo{}, errTaken(key)
	}
	v := &blobVersion{
		data: data,
		info: jobartifacts.BlobInfo{
			Size:    int64(len(data)),
			ModTime: st.now().UTC(),
			ETag:    `"` + hex.EncodeToString(sum[:]) + `"`,
		},
	}
	st.blobs[key] = v
	return v.info, nil
}

func errTaken(key jobartifacts.BlobKey) error {
	return fmt.Errorf("memstore: put blob %q: key exists: %w", key, jobartifacts.ErrConflict)
}

// DeleteBlob removes the blob; a missing blob is no error. Blobs opened
// before keep reading their bytes.
func (s *Store) DeleteBlob(ctx context.Context, key jobartifacts.BlobKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.blobs, key)
	return nil
}

// SignedURL returns an error wrapping ErrNotSupported: memory has no URL.
func (s *Store) SignedURL(ctx context.Context, key jobartifacts.BlobKey, opts jobartifacts.SignedURLOptions) (string, error) {
	return "", fmt.Errorf("memstore: signed URL for %q: %w", key, jobartifacts.ErrNotSupported)
}

// ListBlobs returns, in key order, up to limit blobs whose key starts with
// prefix and sorts after pageToken, and the next page's token ("" after the
// last page).
func (s *Store) ListBlobs(ctx context.Context, prefix, pageToken string, limit int) ([]jobartifacts.BlobAttributes, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		return nil, "", fmt.Errorf("memstore: list limit %d: %w", limit, errBadLimit)
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	var keys []jobartifacts.BlobKey
	for key := range st.blobs {
		if strings.HasPrefix(string(key), prefix) && string(key) > pageToken {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	next := ""
	if len(keys) > limit {
		keys = keys[:limit]
		next = string(keys[limit-1])
	}
	var page []jobartifacts.BlobAttributes
	for _, key := range keys {
		info := st.blobs[key].info
		page = append(page, jobartifacts.BlobAttributes{Key: key, Size: info.Size, ModTime: info.ModTime})
	}
	return page, next, nil
}

// openBlob is a Blob over an immutable version. It keeps the context of
// OpenBlob, as the BlobStore contract asks.
type openBlob struct {
	ctx     context.Context
	version *blobVersion
	closed  atomic.Bool
}

// ReadAt reads as io.ReaderAt does. It fails with the open's context error
// once that context is done, and with fs.ErrClosed after Close.
func (b *openBlob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	if err := b.usable(); err != nil {
		return 0, err
	}
	data := b.version.data
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	n := copy(p, data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// NewRangeReader returns a reader of length bytes from offset (to the end
// when length is negative or runs past it). Its reads fail like ReadAt's
// once the open's context is done or the Blob is closed.
func (b *openBlob) NewRangeReader(offset, length int64) (io.ReadCloser, error) {
	size := int64(len(b.version.data))
	switch {
	case offset < 0:
		return nil, errNegativeOffset
	case offset > size:
		return nil, fmt.Errorf("%w: offset %d, size %d", errPastEnd, offset, size)
	}
	if err := b.usable(); err != nil {
		return nil, err
	}
	end := size
	if length >= 0 && length < size-offset {
		end = offset + length
	}
	return &rangeReader{blob: b, r: ctxio.NewReader(b.ctx, bytes.NewReader(b.version.data[offset:end]))}, nil
}

// usable reports why the blob cannot be read, if it cannot.
func (b *openBlob) usable() error {
	if b.closed.Load() {
		return fs.ErrClosed
	}
	return b.ctx.Err()
}

// Close releases the blob; later reads fail with fs.ErrClosed.
func (b *openBlob) Close() error {
	b.closed.Store(true)
	return nil
}

// Info returns the size, modification time and ETag of the opened version.
func (b *openBlob) Info() jobartifacts.BlobInfo { return b.version.info }

// rangeReader is a NewRangeReader reader; it stops when its Blob closes.
type rangeReader struct {
	blob   *openBlob
	r      io.Reader
	closed atomic.Bool
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.closed.Load() || r.blob.closed.Load() {
		return 0, fs.ErrClosed
	}
	return r.r.Read(p)
}

func (r *rangeReader) Close() error {
	r.closed.Store(true)
	return nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
