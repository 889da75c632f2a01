package jobartifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// blobContent gives http.ServeContent the io.ReadSeeker it wants over a
// Blob, reading through Blob.NewRangeReader: a Seek only moves the offset,
// and the first Read after it opens one range from there, so a whole
// download costs one request on object storage and a Range request one per
// range. The range opened is as long as ServeContent's copy in progress
// when copyWriter told it (a single range, or the whole): a small range of
// a large object then fetches only its bytes, and its connection is reused
// rather than cut. A copy whose length is not told (a part of a
// multi-range body, copied through a pipe) opens a range as long as the
// read that asks for it, and each next one twice as long as the last, up
// to maxGrowingRange: a short part costs one range of its own bytes (its
// reads are cut to its length), a long one a few ranges, and no part opens
// the rest of the object. ServeContent drops read errors once the headers are out, so
// blobContent remembers the first one (Failure) for the handler to log and
// abort the response with.
//
// A mutex guards it: for a multi-range request ServeContent reads in a
// goroutine of its own, which may still run after ServeContent returned
// (the client went away); after Close it opens nothing.
type blobContent struct {
	blob Blob
	size int64

	mu  sync.Mutex
	off int64
	r   io.ReadCloser // open at off, or nil
	// rEnd is where r ends (size, or the end of a bounded range).
	rEnd int64
	// copyEnd is where the copy in progress stops, if known (else 0): the
	// end of the next range opened at off.
	copyEnd int64
	// grow is the length of the next range opened when copyEnd is not
	// known, if longer than the read asking (0 after a Seek).
	grow    int64
	failure error
	closed  bool
	// sentFromFile: the last bytes went by sendfile (fileContent).
	sentFromFile bool
	// viaFile is what readSeeker hands out for a FileBlob, and out what
	// serve hands ServeContent, in c's own allocation.
	viaFile fileContent
	out     copyWriter
}

// maxGrowingRange bounds the ranges opened for a copy of unknown length:
// past it, each costs a request per 16 MiB, and a range read in part
// wastes at most that much.
const maxGrowingRange = 16 << 20

func newBlobContent(b Blob, size int64) *blobContent {
	return &blobContent{blob: b, size: size}
}

// serve answers r with the blob through http.ServeContent.
func (c *blobContent) serve(w http.ResponseWriter, r *http.Request, modtime time.Time) {
	rs := c.readSeeker()
	// A pooled buffer may be written only over HTTP/1, where a Write has
	// sent or failed with its bytes when it returns (see entryBuffers).
	small := rs == io.ReadSeeker(&c.viaFile) && r.ProtoMajor == 1
	c.out = copyWriter{ResponseWriter: w, content: c, readSeeker: rs, small: small}
	http.ServeContent(&c.out, r, "", modtime, rs)
}

// readSeeker is what to hand ServeContent: c itself, or, for a FileBlob,
// c with the file offered to net/http's sendfile.
func (c *blobContent) readSeeker() io.ReadSeeker {
	if fb, ok := c.blob.(FileBlob); ok {
		c.viaFile = fileContent{blobContent: c, fileBlob: fb}
		return &c.viaFile
	}
	return c
}

func (c *blobContent) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, fs.ErrClosed
	}
	c.sentFromFile = false
	if c.off >= c.size {
		return 0, io.EOF
	}
	if c.r == nil {
		if c.copyEnd > c.off {
			c.rEnd = min(c.copyEnd, c.size)
		} else {
			n := max(int64(len(p)), c.grow)
			c.grow = min(2*n, maxGrowingRange)
			c.rEnd = min(c.off+n, c.size)
		}
		length := c.rEnd - c.off
		if c.rEnd == c.size {
			length = -1 // to the end
		}
		r, err := c.blob.NewRangeReader(c.off, length)
		if err != nil {
			return 0, c.fail(err)
		}
		c.r = r
	}
	if max := c.rEnd - c.off; int64(len(p)) > max {
		p = p[:max]
	}
	n, err := c.r.Read(p)
	c.off += int64(n)
	if c.off >= c.rEnd && c.rEnd < c.size {
		// The bounded range is read: a read past the copy's end (none
		// from ServeContent) opens another.
		c.closeRange()
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
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
		c.copyEnd, c.grow = 0, 0
	}
	return offset, nil
}

// copying tells c that a copy of n bytes from its offset starts (n > 0) or
// ended (n == 0).
func (c *blobContent) copying(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.copyEnd, c.grow = 0, 0
	if n > 0 {
		c.copyEnd = c.off + n
	}
}

// copyWriter is the ResponseWriter handed to ServeContent with a
// blobContent: ServeContent sends a single range, or the whole, with
// io.CopyN, so ReadFrom gets an *io.LimitedReader around the content, whose
// N tells the content how long a range to open. The Range header is left to
// ServeContent: what it copies is what it decided. Anything else (a
// multi-range body, read from a pipe) is copied as before.
type copyWriter struct {
	http.ResponseWriter
	content    *blobContent
	readSeeker io.ReadSeeker // what ServeContent was given
	// small: a copy of at most smallCopyLimit bytes goes through
	// copySmall (a FileBlob, over HTTP/1).
	small bool
}

// ReadFrom passes the copy's length to the content, then the copy to the
// ResponseWriter's own ReadFrom (sendfile for a FileBlob), if any; a short
// copy from a file is read in one piece and written instead.
func (w *copyWriter) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok && lr.R == w.readSeeker {
		if w.small && lr.N <= smallCopyLimit {
			return w.content.copySmall(w.ResponseWriter, lr)
		}
		w.content.copying(lr.N)
		defer w.content.copying(0)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *copyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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

// fileContent is blobContent over a FileBlob, with a way to sendfile(2).
// ServeContent copies with io.CopyN, so the response's ReadFrom gets an
// *io.LimitedReader around the content; net's sendfile takes the reader
// inside it when that reader is a syscall.Conn, and sends from the file's
// current offset. fileContent is that syscall.Conn: it places the file's
// offset at its own before the kernel sends, and takes the offset back
// after. Anything else (a response writer without ReadFrom, TLS) reads
// through blobContent.Read as before.
type fileContent struct {
	*blobContent
	fileBlob FileBlob
	// file is fileBlob's, asked for when sendfile is about to use it: a
	// response that never gets there (HEAD, TLS, a range under 512
	// bytes) leaves the file's offset alone, which fsstore then need not
	// put back (an lseek) when the Blob closes.
	file *os.File
	// positioned is what SyscallConn hands out, in the content's own
	// allocation: sendfile uses it before ServeContent's copy returns,
	// and nothing else asks for it meanwhile.
	positioned positionedFile
}

// SyscallConn offers the file to net's sendfile.
func (c *fileContent) SyscallConn() (syscall.RawConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fs.ErrClosed
	}
	if c.off >= c.size {
		return nil, io.EOF // nothing to send: ReadFrom falls back to Read, which says EOF
	}
	if c.file == nil {
		if c.file = c.fileBlob.File(); c.file == nil {
			return nil, errNoFile // ReadFrom falls back to Read
		}
	}
	rc, err := c.file.SyscallConn()
	if err != nil {
		return nil, err
	}
	c.positioned = positionedFile{c: c, rc: rc}
	return &c.positioned, nil
}

// errNoFile: a FileBlob without a file to send from.
var errNoFile = errors.New("jobartifacts: no file to send from")

// positionedFile is the file's RawConn, with its offset at the content's
// for the duration of a Read (sendfile). Writes and Control go to the file.
type positionedFile struct {
	c  *fileContent
	rc syscall.RawConn
}

func (p *positionedFile) Control(f func(fd uintptr)) error           { return p.rc.Control(f) }
func (p *positionedFile) Write(f func(fd uintptr) (done bool)) error { return p.rc.Write(f) }

// Read runs f (net's sendfile) with the file's offset at the content's,
// then moves the content to where the kernel stopped (see afterServe).
func (p *positionedFile) Read(f func(fd uintptr) (done bool)) error {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fs.ErrClosed
	}
	// A failure here leaves sendfile unused: ReadFrom falls back to Read.
	if _, err := c.file.Seek(c.off, io.SeekStart); err != nil {
		return err
	}
	c.closeRange() // open at the old offset
	err := p.rc.Read(f)
	pos, serr := c.file.Seek(0, io.SeekCurrent)
	if serr != nil {
		// Where the kernel stopped is unknown: nothing more can be sent.
		c.off = c.size
		_ = c.fail(fmt.Errorf("after sendfile: %w", serr))
		return err
	}
	c.off = pos
	c.sentFromFile = true
	return err
}

// afterServe checks, once ServeContent is done, a sendfile that stopped
// short of the blob's end: net/http drops sendfile's errors as ServeContent
// drops read errors, so one byte read there through the Blob tells a failed
// disk, or a blob shorter than its size, from the end of a range or a
// client gone (write errors are not the blob's failure). It costs one read,
// and only for responses that end before the blob does.
func (c *blobContent) afterServe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sentFromFile || c.failure != nil || c.off >= c.size {
		return
	}
	var probe [1]byte
	if _, err := c.blob.ReadAt(probe[:], c.off); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return // the request's end (a client gone), which the copy met first
		}
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("blob ended at %d of %d bytes: %w", c.off, c.size, io.ErrUnexpectedEOF)
		}
		_ = c.fail(fmt.Errorf("sendfile stopped at %d of %d bytes: %w", c.off, c.size, err))
	}
}
