package jobartifacts

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// smallCopyLimit is the longest copy from a FileBlob that is read with one
// pread into a pooled buffer and written, rather than sent with sendfile:
// sendfile from the store's descriptor costs three lseeks besides (placing
// the file's offset at the copy's start, reading where the kernel stopped,
// putting it back for the store), and net/http first copies 512 bytes
// through a buffer of its own anyway. Below this length, those system calls
// cost more than copying the bytes once more (a tiny archive: nine system
// calls a request become six). Memory: one buffer of this size a request in
// flight, and only while its copy runs.
const smallCopyLimit = 32 << 10

// smallCopyBuffers lends copySmall its buffer.
var smallCopyBuffers = sync.Pool{New: func() any { return new([smallCopyLimit]byte) }}

// copySmall copies lr (at most smallCopyLimit bytes of c from its offset)
// to w: one ReadAt of the blob, one Write. A read that fails or ends short
// is the blob's failure, as in Read; w's errors are returned as they are.
func (c *blobContent) copySmall(w io.Writer, lr *io.LimitedReader) (int64, error) {
	buf := smallCopyBuffers.Get().(*[smallCopyLimit]byte)
	defer smallCopyBuffers.Put(buf)
	p, err := c.readSmall(buf[:min(lr.N, smallCopyLimit)])
	lr.N -= int64(len(p))
	if len(p) > 0 {
		n, werr := w.Write(p)
		if werr != nil {
			return int64(n), werr
		}
	}
	return int64(len(p)), err
}

// readSmall fills p (or what is left of the blob, if less) from c's offset
// and moves the offset past what it read.
func (c *blobContent) readSmall(p []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fs.ErrClosed
	}
	c.sentFromFile = false
	if left := c.size - c.off; int64(len(p)) > left {
		p = p[:max(left, 0)]
	}
	if len(p) == 0 {
		return nil, io.EOF
	}
	c.closeRange() // a range open at c.off would not follow the offset
	n, err := c.blob.ReadAt(p, c.off)
	c.off += int64(n)
	switch {
	case n == len(p):
		return p, nil
	case err == nil || errors.Is(err, io.EOF):
		return p[:n], c.fail(fmt.Errorf("blob ended at %d of %d bytes: %w", c.off, c.size, io.ErrUnexpectedEOF))
	default:
		return p[:n], c.fail(err)
	}
}
