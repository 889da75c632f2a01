package fsstore

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/ciartifacts/jobartifacts/internal/blockio"
)

// directBlockSize is the size of the blocks a directWriter writes with
// O_DIRECT: large enough that a write's fixed cost is small, small enough
// that two of them per upload are cheap to keep.
const directBlockSize = 1 << 20

// directAlign is the alignment O_DIRECT asks of a write's memory, file
// offset and length. A device that asks for more refuses the write
// (EINVAL), and the directWriter writes through the page cache instead.
const directAlign = blockio.Align

// directBlocks holds aligned blocks between uploads.
var directBlocks = sync.Pool{New: func() any {
	b := blockio.Make(directBlockSize)
	return &b
}}

// directWriter writes a new blob's file around the page cache: full blocks
// go to the disk with O_DIRECT from aligned blocks of its own, written by a
// goroutine while the next block fills, so that the disk's time overlaps
// the time the bytes take to arrive; the last, partial block is written
// through the page cache, and the fsync before the link then has only that
// and the file's metadata to write. A blob written once and read later
// (many archives are never downloaded) costs no page-cache memory and no
// copy into it, and the writeback of a large upload no longer competes with
// the upload for the CPU.
//
// A caller that writes aligned blocks from a goroutine of its own (the
// handler's uploads) uses WriteInPlace, which writes them from where they
// are, without the copy, and returns once they are on the disk.
//
// Where O_DIRECT is refused (a file system without it, such as older
// tmpfs, or a device with larger blocks), it writes through the page cache,
// starting the writeback of each window as PutBlob does (wb).
//
// Write, WriteInPlace, finish and abort are called one at a time, not
// concurrently (the handler's uploads write from a goroutine of their
// own, then finish from the request's).
type directWriter struct {
	f *os.File
	// at writes f: f itself, or a spaceWaitingFile of it.
	at io.WriterAt
	// setDirect sets or clears O_DIRECT on f (tests replace it).
	setDirect func(f *os.File, on bool) error
	wb        *writeback // buffered writes only; nil: none
	block     *[]byte    // being filled; nil until the first Write
	n         int        // bytes in block
	off       int64      // file offset of block
	spare     int        // blocks still to take from directBlocks (at most two in use)

	// The writing goroutine, once O_DIRECT is set: full blocks go out on
	// todo and come back on done with the error of their write, if any.
	todo     chan directBlock
	done     chan directBlock
	direct   bool  // O_DIRECT was set, and the goroutine runs
	buffered bool  // O_DIRECT refused: everything goes through the page cache
	err      error // first error: nothing more is written

	// directBlocks counts the blocks written with O_DIRECT, and cached
	// says O_DIRECT could not be set again after a refused write, so that
	// the goroutine's next writes go through the cache; both are the
	// goroutine's until stop returns.
	directBlocks int
	cached       bool

	// async writes the blocks of WriteAsync, once asyncTried; nil where
	// it cannot, or where allowAsync is false: WriteAsync then writes as
	// WriteInPlace does.
	async      *asyncWriter
	asyncTried bool
	allowAsync bool
}

// directBlock is a write for the goroutine: p at off. b is the pooled
// block p is in, nil for a caller's block (WriteInPlace).
type directBlock struct {
	p   []byte
	b   *[]byte
	off int64
	err error
}

func newDirectWriter(f *os.File, wb *writeback) *directWriter {
	return &directWriter{f: f, at: f, setDirect: setDirect, wb: wb, spare: 2}
}

func (w *directWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.buffered {
		return w.writeBuffered(p)
	}
	written := 0
	for len(p) > 0 {
		if w.block == nil {
			if w.block = w.takeBlock(); w.block == nil {
				return written, w.err
			}
		}
		c := copy((*w.block)[w.n:], p)
		w.n += c
		written += c
		p = p[c:]
		if w.n < len(*w.block) {
			continue
		}
		if !w.direct && !w.startDirect() {
			// Refused: this block and all that follows through the
			// page cache.
			if _, err := w.writeBuffered((*w.block)[:w.n]); err != nil {
				return written, err
			}
			w.release(w.block)
			w.block, w.n = nil, 0
			n, err := w.writeBuffered(p)
			return written + n, err
		}
		w.flush()
	}
	return written, nil
}

// flush hands the block being filled to the goroutine; its length is a
// multiple of directAlign.
func (w *directWriter) flush() {
	w.todo <- directBlock{p: (*w.block)[:w.n], b: w.block, off: w.off}
	w.off += int64(w.n)
	w.block, w.n = nil, 0
}

// WriteInPlace writes p as Write does, but the whole alignment units at its
// start it writes with O_DIRECT from p itself, and returns once they are
// written: no copy, where p's address is aligned and the file's end is
// (what came before fills whole units; a partial block of the directWriter
// is written first). The rest of p it takes as Write does.
func (w *directWriter) WriteInPlace(p []byte) (int, error) {
	k := len(p) &^ (directAlign - 1)
	if w.err != nil || w.buffered || k == 0 || w.n%directAlign != 0 || !blockio.Aligned(p) {
		return w.Write(p)
	}
	if !w.direct && !w.startDirect() {
		return w.Write(p)
	}
	if w.n > 0 {
		w.flush()
	}
	w.todo <- directBlock{p: p[:k], off: w.off}
	// Wait for p: the goroutine writes in order, so the pooled blocks
	// before it come back first.
	for {
		d := <-w.done
		if d.err != nil && w.err == nil {
			w.err = d.err
		}
		if d.b == nil {
			break
		}
		w.release(d.b)
	}
	if w.err != nil {
		return 0, w.err
	}
	w.off += int64(k)
	n, err := w.Write(p[k:])
	return k + n, err
}

// takeBlock returns an empty block: a new one while fewer than two are in
// use, else the one the goroutine wrote last, once it has. nil when that
// write failed (w.err).
func (w *directWriter) takeBlock() *[]byte {
	if w.spare > 0 {
		w.spare--
		return directBlocks.Get().(*[]byte)
	}
	d := <-w.done
	if d.err != nil {
		w.err = d.err
		w.release(d.b)
		return nil
	}
	return d.b
}

func (w *directWriter) release(b *[]byte) {
	directBlocks.Put(b)
	w.spare++
}

// startDirect sets O_DIRECT on the file and starts the writing goroutine;
// false when the file system refuses it.
func (w *directWriter) startDirect() bool {
	if w.setDirect(w.f, true) != nil {
		w.buffered = true
		return false
	}
	w.direct = true
	w.todo, w.done = make(chan directBlock, 1), make(chan directBlock, 2)
	go func() {
		for d := range w.todo {
			d.err = w.writeDirect(d.p, d.off)
			w.done <- d
		}
		close(w.done)
	}()
	return true
}

// writeDirect writes b at off with O_DIRECT set. A device that refuses
// the alignment (EINVAL) gets the block through the page cache, and the
// next block tries O_DIRECT again.
func (w *directWriter) writeDirect(b []byte, off int64) error {
	_, err := w.at.WriteAt(b, off)
	if err == nil {
		if !w.cached {
			w.directBlocks++
		}
		return nil
	}
	if w.cached || !errors.Is(err, syscall.EINVAL) || w.setDirect(w.f, false) != nil {
		return err
	}
	if _, err := w.at.WriteAt(b, off); err != nil {
		return err
	}
	w.cached = w.setDirect(w.f, true) != nil
	return nil
}

// writeBuffered writes p through the page cache at the end of what is
// written, starting the writeback of every full window.
func (w *directWriter) writeBuffered(p []byte) (int, error) {
	n, err := w.at.WriteAt(p, w.off)
	w.off += int64(n)
	w.wb.wrote(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// stop waits for the goroutine's writes and ends it, keeping the first
// error, and clears O_DIRECT so that what follows goes through the page
// cache.
func (w *directWriter) stop() {
	if !w.direct {
		return
	}
	close(w.todo)
	for d := range w.done {
		if d.err != nil && w.err == nil {
			w.err = d.err
		}
		w.release(d.b)
	}
	w.direct = false
	if err := w.setDirect(w.f, false); err != nil && w.err == nil {
		w.err = err
	}
}

// finish writes what is left of the last block through the page cache and
// returns the first error of any write. The fsync that follows is the
// caller's.
func (w *directWriter) finish() error {
	w.stop()
	if w.async != nil {
		if err := w.async.finish(); err != nil && w.err == nil {
			w.err = err
		}
	}
	if w.block != nil {
		if w.err == nil && w.n > 0 {
			w.writeBuffered((*w.block)[:w.n])
		}
		w.release(w.block)
		w.block, w.n = nil, 0
	}
	return w.err
}

// abort ends the goroutine, if finish did not, and gives back the blocks;
// what was written stays for the caller to remove.
func (w *directWriter) abort() {
	w.stop()
	if w.async != nil {
		w.async.stop()
	}
	if w.block != nil {
		w.release(w.block)
		w.block = nil
	}
}
