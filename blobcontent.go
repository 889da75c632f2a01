package jobartifacts

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// blobContent gives http.ServeContent the io.ReadSeeker it wants over a
// Blob, reading through Blob.NewRangeReader: a Seek only moves the offset,
// and the first Read after it opens one range from there to the end, so a
// whole download costs one request on object storage and a Range request one
// per range. ServeContent drops read errors once the headers are out, so
// blobContent remembers the first one (Failure) for the handler to log and
// abort the response with.
//
// A mutex guards it: for a multi-range request ServeContent reads in a
// goroutine of its own, which may still run after ServeContent returned
// (the client went away); after Close it opens nothing.
type blobContent struct {
	blob Blob
	size int64

	mu      sync.Mutex
	off     int64
	r       io.ReadCloser // open at off, or nil
	failure error
	closed  bool
}

func newBlobContent(b Blob, size int64) *blobContent {
	return &blobContent{blob: b, size: size}
}

func (c *blobContent) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, fs.ErrClosed
	}
	if c.off >= c.size {
		return 0, io.EOF
	}
	if c.r == nil {
		r, err := c.blob.NewRangeReader(c.off, -1)
		if err != nil {
			return 0, c.fail(err)
		}
		c.r = r
	}
	if max := c.size - c.off; int64(len(p)) > max {
		p = p[:max]
	}
	n, err := c.r.Read(p)
	c.off += int64(n)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF) && c.off >= c.size:
		return n, io.EOF
	case errors.Is(err, io.EOF):
		return n, c.fail(fmt.Errorf("blob ended at %d of %d bytes: %w", c.off, c.size, io.ErrUnexpectedEOF))
	default:
		return n, c.fail(err)
	}
}

// fail records the first read failure. c.mu must be held.
func (c *blobContent) fail(err error) error {
	if c.failure == nil {
		c.failure = err
	}
	return err
}

// Failure returns the first read failure, if any.
func (c *blobContent) Failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failure
}

func (c *blobContent) Seek(offset int64, whence int) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += c.off
	case io.SeekEnd:
		offset += c.size
	default:
		return 0, errors.New("blobContent.Seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("blobContent.Seek: negative position")
	}
	if offset != c.off {
		c.closeRange()
		c.off = offset
	}
	return offset, nil
}

// closeRange closes the open range, if any. c.mu must be held.
func (c *blobContent) closeRange() {
	if c.r != nil {
		_ = c.r.Close()
		c.r = nil
	}
}

// Close closes the open range, if any, and makes later reads fail; the
// Blob is the caller's.
func (c *blobContent) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.closeRange()
	return nil
}
