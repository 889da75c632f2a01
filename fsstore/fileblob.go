package fsstore

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/ciartifacts/jobartifacts"
)

// fileBlob is a Blob over an open blob file, which it owns alone until it
// is closed. It keeps the context of OpenBlob, as the BlobStore contract
// asks.
type fileBlob struct {
	bf     *blobFile
	ctx    context.Context
	idle   *blobFiles // where Close leaves the file
	closed atomic.Bool
	// fileUsed: File handed the file out, and its offset may have moved.
	fileUsed atomic.Bool
	// firstRange is the Blob's first range reader, in the Blob's own
	// memory (a download makes one); firstRangeTaken: it is handed out.
	firstRange      rangeReader
	firstRangeTaken atomic.Bool
}

// rangeReader is a range reader of a fileBlob, which reads with its
// ReadAt. Closing it releases nothing.
type rangeReader struct{ io.SectionReader }

func (*rangeReader) Close() error { return nil }

// ReadAt reads the file as io.ReaderAt does; concurrent calls are safe. It
// fails with the open's context error once that context is done, and with
// fs.ErrClosed after Close.
func (b *fileBlob) ReadAt(p []byte, off int64) (int, error) {
	if b.closed.Load() {
		return 0, fs.ErrClosed
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.bf.f.ReadAt(p, off)
}

// NewRangeReader returns a reader of length bytes from offset (to the end
// when length is negative or runs past it), reading the open file with
// pread(2) at its own offset, so that several readers and ReadAt may run at
// once. Its reads fail like ReadAt's once the open's context is done or the
// Blob is closed; closing the reader itself releases nothing.
func (b *fileBlob) NewRangeReader(offset, length int64) (io.ReadCloser, error) {
	size := b.bf.info.Size
	switch {
	case offset < 0:
		return nil, fmt.Errorf("fsstore: range at negative offset %d", offset)
	case offset > size:
		return nil, fmt.Errorf("fsstore: range at offset %d past the end (%d bytes)", offset, size)
	}
	if b.closed.Load() {
		return nil, fs.ErrClosed
	}
	if err := b.ctx.Err(); err != nil {
		return nil, err
	}
	n := size - offset
	if length >= 0 && length < n {
		n = length
	}
	r := &b.firstRange
	if b.firstRangeTaken.Swap(true) {
		r = new(rangeReader)
	}
	r.SectionReader = *io.NewSectionReader(b, offset, n)
	return r, nil
}

// Close gives the file back to the Store, which keeps it idle for the next
// OpenBlob of the key or closes it; later reads fail with fs.ErrClosed, and
// so does a second Close.
func (b *fileBlob) Close() error {
	if b.closed.Swap(true) {
		return fs.ErrClosed
	}
	if b.fileUsed.Load() {
		// The next Blob's caller finds the offset at 0, as after an open.
		if _, err := b.bf.f.Seek(0, io.SeekStart); err != nil {
			return b.bf.f.Close()
		}
	}
	b.idle.put(b.bf)
	return nil
}

var _ jobartifacts.FileBlob = (*fileBlob)(nil)

// File returns the open file, for the handler's sendfile
// (jobartifacts.FileBlob); fileBlob itself reads it only with pread.
func (b *fileBlob) File() *os.File {
	b.fileUsed.Store(true)
	return b.bf.f
}

// Info returns the size, modification time and ETag of the opened file.
func (b *fileBlob) Info() jobartifacts.BlobInfo { return b.bf.info }
