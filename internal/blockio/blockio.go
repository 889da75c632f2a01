// Package blockio is what an upload's reader and a store's writer agree on
// so that the store can write the reader's blocks where they are, without
// copying them: blocks aligned for direct I/O, and a write that may take
// the disk's time because its caller writes from a goroutine of its own.
package blockio

import (
	"io"
	"unsafe"
)

// Align is the alignment direct I/O (O_DIRECT) asks of a write's memory,
// file offset and length: the logical block size of the devices our stores
// run on is 512 or 4096 bytes.
const Align = 4096

// Make returns size bytes whose address is a multiple of Align, with no
// capacity past size. Go's heap does not move objects, so it stays aligned.
func Make(size int) []byte {
	b := make([]byte, size+Align)
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (Align - 1))
	if off != 0 {
		off = Align - off
	}
	return b[off : off+size : off+size]
}

// Aligned reports whether p starts at a multiple of Align.
func Aligned(p []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(p)))&(Align-1) == 0
}

// An InPlaceWriter can write a block where it is, rather than copy it to
// write it later.
type InPlaceWriter interface {
	io.Writer

	// WriteInPlace writes p as Write does, but may write it from p itself
	// and return only once it is written, which may take the disk's time.
	// A caller that writes from a goroutine of its own, so that waiting
	// holds up nothing else, calls it with blocks from Make; like Write,
	// it does not keep p once it returns.
	WriteInPlace(p []byte) (int, error)
}

// An AsyncWriter can write a block while its caller reads the next, from
// where the block is, and tell when it is done with it.
type AsyncWriter interface {
	InPlaceWriter

	// WriteAsync writes p as WriteInPlace does, but may return before p
	// is written, keeping p until it is: then it calls release, once for
	// every call, in the order of the calls, also when the write failed
	// or WriteAsync returned an error. release must not block, nor call
	// the writer. A write that fails after WriteAsync returned fails a
	// later WriteAsync, or whatever ends the writing (fsstore's PutBlob).
	WriteAsync(p []byte, release func()) (int, error)
}
