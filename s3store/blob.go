package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/ciartifacts/jobartifacts"
)

// OpenBlob asks for the object's attributes (one HEAD request) and returns
// a Blob whose reads are ranged GETs conditional on the object's ETag, made
// with ctx. A missing object is ErrNotFound.
func (s *Store) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	obj := s.objectName(key)
	st, err := s.client.StatObject(ctx, s.bucket, obj, minio.StatObjectOptions{})
	if err != nil {
		return nil, s.readError("open", key, err)
	}
	return &blob{
		store:  s,
		ctx:    ctx,
		key:    key,
		object: obj,
		etag:   st.ETag,
		info: jobartifacts.BlobInfo{
			Size:    st.Size,
			ModTime: st.LastModified,
			ETag:    quoteETag(st.ETag),
		},
	}, nil
}

// readError maps an error of a request reading key: a missing object, or
// one that no longer has the ETag the Blob was opened with (deleted and
// written again), is ErrNotFound.
func (s *Store) readError(op string, key jobartifacts.BlobKey, err error) error {
	if isNoSuchKey(err) || isPreconditionFailed(err) {
		return fmt.Errorf("s3store: %s blob %q: %w (%w)", op, key, jobartifacts.ErrNotFound, err)
	}
	return fmt.Errorf("s3store: %s blob %q: %w", op, key, err)
}

// quoteETag makes S3's ETag (minio-go strips the quotes) an HTTP entity tag.
func quoteETag(etag string) string { return `"` + etag + `"` }

// errNegativeOffset is ReadAt's answer to an offset before the start.
var errNegativeOffset = errors.New("s3store: negative offset")

// blob is an open object. It keeps OpenBlob's context, as the BlobStore
// contract asks: every request of its reads is made with it.
type blob struct {
	store  *Store
	ctx    context.Context
	key    jobartifacts.BlobKey
	object string
	etag   string // unquoted, as minio-go's If-Match wants it
	info   jobartifacts.BlobInfo

	// mu guards the read-ahead window and closed. ReadAt holds it across its
	// GET: the window is one buffer, and concurrent readers of the central
	// directory mostly want the same bytes.
	mu     sync.Mutex
	closed bool
	// window holds the object's bytes [windowOff, windowOff+len(window)).
	window    []byte
	windowOff int64
	// next is the window size of the next fetch: it doubles while reads
	// continue where the window ends, and falls back to the minimum on a
	// jump.
	next int
}

// Info returns the attributes read by OpenBlob.
func (b *blob) Info() jobartifacts.BlobInfo { return b.info }

// Close drops the read-ahead window; later reads fail with fs.ErrClosed.
// Range readers already returned stay usable until closed themselves.
func (b *blob) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.window = nil
	return nil
}

// ReadAt reads as io.ReaderAt does, from a read-ahead window: a read outside
// the window fetches a new one, which covers the read and at least the
// window size (growing while reads are sequential), placed so that reads
// near the end of the object also cache the bytes before them, as a zip's
// central directory is read. A read larger than the largest window goes to
// p directly, uncached.
func (b *blob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	size := b.info.Size
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, fs.ErrClosed
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if off >= size {
		return 0, io.EOF
	}
	want := p[:min(int64(len(p)), size-off)]
	n := 0
	for n < len(want) {
		pos := off + int64(n)
		if pos >= b.windowOff && pos < b.windowOff+int64(len(b.window)) {
			n += copy(want[n:], b.window[pos-b.windowOff:])
			continue
		}
		rest := want[n:]
		if len(rest) > b.store.cfg.readAheadMax {
			if err := b.fetch(rest, pos); err != nil {
				return n, err
			}
			n += len(rest)
			continue
		}
		if err := b.fill(pos, len(rest)); err != nil {
			return n, err
		}
	}
	if len(want) < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fill replaces the window with one holding [pos, pos+need) and more.
// The caller holds mu.
func (b *blob) fill(pos int64, need int) error {
	cfg := b.store.cfg
	if b.window != nil && pos == b.windowOff+int64(len(b.window)) {
		b.next = min(2*max(b.next, len(b.window)), cfg.readAheadMax)
	} else {
		b.next = cfg.readAheadMin
	}
	size := max(need, b.next)
	end := min(b.info.Size, pos+int64(size))
	start := max(0, min(pos, end-int64(size)))
	if cap(b.window) < int(end-start) {
		b.window = make([]byte, end-start, max(int(end-start), min(2*cap(b.window), cfg.readAheadMax)))
	}
	b.window = b.window[:end-start]
	b.windowOff = start
	if err := b.fetch(b.window, start); err != nil {
		b.window = b.window[:0]
		return err
	}
	return nil
}

// fetch reads len(p) bytes at off with one ranged GET.
func (b *blob) fetch(p []byte, off int64) error {
	rc, err := b.get(off, int64(len(p)))
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, p); err != nil {
		return fmt.Errorf("s3store: read blob %q: %w", b.key, err)
	}
	return nil
}

// NewRangeReader starts one ranged GET of the object and returns its body.
func (b *blob) NewRangeReader(offset, length int64) (io.ReadCloser, error) {
	size := b.info.Size
	if offset < 0 || offset > size {
		return nil, fmt.Errorf("s3store: range reader of blob %q: offset %d outside [0, %d]", b.key, offset, size)
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, fs.ErrClosed
	}
	if length < 0 || offset+length > size {
		length = size - offset
	}
	if length == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	return b.get(offset, length)
}

// get sends a GET of length (> 0) bytes at off, conditional on the ETag.
func (b *blob) get(off, length int64) (io.ReadCloser, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetMatchETag(b.etag); err != nil {
		return nil, fmt.Errorf("s3store: read blob %q: %w", b.key, err)
	}
	if err := opts.SetRange(off, off+length-1); err != nil {
		return nil, fmt.Errorf("s3store: read blob %q: %w", b.key, err)
	}
	rc, _, _, err := b.store.core.GetObject(b.ctx, b.store.bucket, b.object, opts)
	if err != nil {
		return nil, b.store.readError("read", b.key, err)
	}
	return rc, nil
}
