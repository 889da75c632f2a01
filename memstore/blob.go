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
	"sync/atomic"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// errNegativeOffset is ReadAt's answer to an offset before the start.
var errNegativeOffset = errors.New("memstore: negative offset")

// blobVersion is one stored content of a key. It is never changed once
// stored: a put makes a new version, so readers of the old one are unaffected.
type blobVersion struct {
	data []byte
	info jobartifacts.BlobInfo
}

// OpenBlob opens the blob stored under key, or returns ErrNotFound. The
// returned Blob keeps ctx: once ctx is done, its ReadAt fails with ctx's
// error.
func (s *Store) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	v, ok := s.blobs[key]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memstore: blob %q: %w", key, jobartifacts.ErrNotFound)
	}
	return &openBlob{ctx: ctx, version: v}, nil
}

// PutBlob reads r to the end into a new slice and then stores it under key,
// replacing any blob there. On any error, including ctx ending while r is
// read, nothing is stored.
func (s *Store) PutBlob(ctx context.Context, key jobartifacts.BlobKey, r io.Reader) (jobartifacts.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return jobartifacts.BlobInfo{}, err
	}
	data, err := io.ReadAll(contextReader{ctx: ctx, r: r})
	if err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("memstore: put blob %q: %w", key, err)
	}
	sum := sha256.Sum256(data)
	v := &blobVersion{
		data: data,
		info: jobartifacts.BlobInfo{
			Size:    int64(len(data)),
			ModTime: time.Now().UTC(),
			ETag:    `"` + hex.EncodeToString(sum[:]) + `"`,
		},
	}
	s.mu.Lock()
	s.blobs[key] = v
	s.mu.Unlock()
	return v.info, nil
}

// DeleteBlob removes the blob, or returns ErrNotFound. Blobs opened before
// keep reading their bytes.
func (s *Store) DeleteBlob(ctx context.Context, key jobartifacts.BlobKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blobs[key]; !ok {
		return fmt.Errorf("memstore: blob %q: %w", key, jobartifacts.ErrNotFound)
	}
	delete(s.blobs, key)
	return nil
}

// contextReader stops reading once ctx is done, so that a cancelled upload
// is not stored.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
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
	if b.closed.Load() {
		return 0, fs.ErrClosed
	}
	if err := b.ctx.Err(); err != nil {
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

// Close releases the blob; later reads fail with fs.ErrClosed.
func (b *openBlob) Close() error {
	b.closed.Store(true)
	return nil
}

// Info returns the size, modification time and ETag of the opened version.
func (b *openBlob) Info() jobartifacts.BlobInfo { return b.version.info }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
