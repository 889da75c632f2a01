package jobartifacts

import (
	"errors"
	"fmt"
	"io"
)

// blobContent gives http.ServeContent the io.ReadSeeker it wants over a
// Blob, reading through Blob.NewRangeReader: a Seek only moves the offset,
// and the first Read after it opens one range from there to the end, so a
// whole download costs one request on object storage and a Range request one
// per range. ServeContent drops read errors once the headers are out, so
// blobContent remembers the first one (failure) for the handler to log and
// abort the response with.
type blobContent struct {
	blob    Blob
	size    int64
	off     int64
	r       io.ReadCloser // open at off, or nil
	failure error
}

func newBlobContent(b Blob, size int64) *blobContent {
	return &blobContent{blob: b, size: size}
}

func (c *blobContent) Read(p []byte) (int, error) {
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

func (c *blobContent) fail(err error) error {
	if c.failure == nil {
		c.failure = err
	}
	return err
}

func (c *blobContent) Seek(offset int64, whence int) (int64, error) {
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

func (c *blobContent) closeRange() {
	if c.r != nil {
		_ = c.r.Close()
		c.r = nil
	}
}

// Close closes the open range, if any; the Blob is the caller's.
func (c *blobContent) Close() error {
	c.closeRange()
	return nil
}
