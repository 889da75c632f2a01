package fsstore

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/ciartifacts/jobartifacts/internal/blockio"
)

// asyncDirectWrites is how many direct writes of one blob may be in flight
// at once. In bench/compare.sh's upload rounds (1 GiB) on the 2-core VM,
// an alternative server beside the store without fsync: with four, 1.50 s
// against 1.78 s writing every block around the cache synchronously, as
// before (11 rounds); against the cache alone 1.16 vs 1.29 and 1.66 vs
// 1.53 in two runs. One or two in flight were faster than four in some
// runs and slower than the cache alone in others: within this VM's noise.
const asyncDirectWrites = 4

// asyncPreallocate is how far past the end of what is written an
// asyncWriter allocates the file's space ahead of its direct writes.
const asyncPreallocate = 64 << 20

// asyncCachedFirst is how much of an upload a store without fsync writes
// through the page cache before it starts writing around it: the answer to
// a small upload would otherwise wait for the disk. PutBlob in process
// (BenchmarkPutBlobAsync) took 6.3 ms for 1 MiB and 7.7 for 2 MiB written
// both ways from the first block, 4.0 and 4.9 through the cache; from
// 8 MiB to 32 MiB the two took the same time, at 64 MiB 81-113 ms against
// 119-138 through the cache.
const asyncCachedFirst = 4 << 20

// cachesFirst reports whether WriteAsync writes p through the page cache
// because the upload is still small: its first asyncCachedFirst bytes, or
// a short block (its last) before the AIO writes began.
func (w *directWriter) cachesFirst(p []byte) bool {
	if !w.allowAsync || w.asyncTried || w.direct || w.block != nil {
		return false
	}
	return w.off+int64(len(p)) <= asyncCachedFirst || len(p) < directBlockSize
}

// asyncWriter writes the blocks of a blob whose caller can wait for them
// (blockio.AsyncWriter: the handler's uploads) two ways at once: while
// fewer than asyncDirectWrites are in flight, a block goes to the disk
// with O_DIRECT, submitted asynchronously (Linux AIO) from where it is;
// otherwise it is written through the page cache at once. The disk and
// the cache then share an upload: a disk slower than the upload only takes
// the blocks it keeps up with, and those cost no CPU to copy into the
// cache and write back.
//
// The two need each other's help on ext4: a synchronous direct write holds
// the file's inode lock until the disk is done, and every buffered write
// waits for it (writing both ways from two goroutines was slower than the
// cache alone). A submitted write lets go of the lock once submitted, but
// only when it does not extend the file; so the file's space is allocated
// ahead of the writes (fallocate), and the file cut back to what was
// written at the end.
//
// Each block is released once it is written, a block through the cache
// before one still on its way to the disk: the caller reads into it again
// meanwhile.
type asyncWriter struct {
	w  *directWriter // its f, at, off, wb and err
	df *os.File      // f opened again with O_DIRECT

	submit func(p []byte, off int64, seq uint64) error
	reap   func() (seq uint64, res int64, err error)
	end    func() // gives the AIO context back (aioContexts), or ends it
	ctx    aioContext

	// eventsLost: the reaper could not have an event, and the context may
	// still have writes in flight. Written by the reaper, read once reaped
	// is closed.
	eventsLost bool

	// slots holds a token per direct write in flight; submitted one per
	// write submitted and not yet waited for by the reaper.
	slots     chan struct{}
	submitted chan struct{}
	reaped    chan struct{} // closed when the reaper has ended

	noDirect     atomic.Bool  // a direct write was refused: the cache only
	directWrites atomic.Int64 // blocks written with O_DIRECT
	allocEnd     int64        // the file's allocated end; the caller's
	noPrealloc   bool         // fallocate refused: no more tries

	mu     sync.Mutex
	next   uint64                 // sequence number of the next block
	blocks map[uint64]*asyncBlock // blocks not yet released
	err    error                  // first error of any write
}

// asyncBlock is one block of the caller's, until released.
type asyncBlock struct {
	p       []byte
	off     int64
	release func()
	direct  bool // its direct write is in flight (a.mu)
}

// startAsync makes w write asynchronously from now on; false when it
// cannot here (no AIO, no O_DIRECT for the file, or blocks already
// written the other way), and w goes on synchronously.
func (w *directWriter) startAsync() bool {
	if w.asyncTried {
		return w.async != nil
	}
	w.asyncTried = true
	if !w.allowAsync || w.err != nil || w.buffered || w.direct || w.block != nil || w.off%directAlign != 0 {
		return false
	}
	ctx, err := aioContexts.get()
	if err != nil {
		return false
	}
	df, err := openDirect(w.f.Name())
	if err != nil {
		aioContexts.put(ctx)
		return false
	}
	a := &asyncWriter{
		w:         w,
		df:        df,
		slots:     make(chan struct{}, asyncDirectWrites),
		submitted: make(chan struct{}, asyncDirectWrites),
		reaped:    make(chan struct{}),
		blocks:    make(map[uint64]*asyncBlock, 2*asyncDirectWrites),
		allocEnd:  w.off,
	}
	fd := df.Fd()
	a.submit = func(p []byte, off int64, seq uint64) error { return ctx.submitWrite(fd, p, off, seq) }
	a.reap = ctx.reap
	a.ctx = ctx
	a.end = func() {
		if a.eventsLost {
			// Writes may still be in flight: io_destroy waits for them.
			ctx.destroy()
			return
		}
		aioContexts.put(ctx)
	}
	w.async = a
	go a.reaper()
	return true
}

// WriteAsync writes p at the end of what is written: submitted with
// O_DIRECT when a direct write may start, else through the page cache
// before it returns. It calls release once p is written (or its write
// failed): release must not block. An error of a write that ended
// in the background is returned by a later WriteAsync, or by finish.
func (w *directWriter) WriteAsync(p []byte, release func()) (int, error) {
	if w.cachesFirst(p) {
		if w.err != nil {
			release()
			return 0, w.err
		}
		n, err := w.writeBuffered(p)
		release()
		return n, err
	}
	// An upload that starts with less than a full block is small: not
	// worth an AIO context.
	if (w.async == nil && len(p) < directBlockSize) || !w.startAsync() {
		n, err := w.WriteInPlace(p)
		release()
		return n, err
	}
	a := w.async
	if err := a.failed(); err != nil {
		release()
		return 0, err
	}
	b := &asyncBlock{p: p, off: w.off, release: release}
	seq := a.enqueue(b)
	if a.mayWriteDirect(p, w.off) {
		a.preallocate(w.off + int64(len(p)))
		if err := a.submit(p, w.off, seq); err == nil {
			a.markSubmitted(b)
			a.submitted <- struct{}{}
			w.off += int64(len(p))
			// Counted as written: wb's windows are the file's.
			w.wb.wrote(len(p))
			return len(p), nil
		}
		// Refused at submission (the file system cannot, or the
		// system is out of AIO): through the cache from now on.
		a.noDirect.Store(true)
		<-a.slots
	}
	n, err := w.at.WriteAt(p, w.off)
	w.off += int64(n)
	w.wb.wrote(n)
	if err != nil {
		w.err = err
	}
	a.finished(seq, err)
	return n, err
}

var _ blockio.AsyncWriter = (*directWriter)(nil)

// mayWriteDirect reports whether p may be written at off with O_DIRECT
// now, and if so takes a place in flight for it.
func (a *asyncWriter) mayWriteDirect(p []byte, off int64) bool {
	if len(p) == 0 || len(p)%directAlign != 0 || off%directAlign != 0 || !blockio.Aligned(p) || a.noDirect.Load() {
		return false
	}
	select {
	case a.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// preallocate allocates the file's space up to past end, ahead of the
// writes; a file system that refuses (no fallocate, no space) is not
// asked again, and its direct writes that extend the file wait for the
// disk as synchronous ones do.
func (a *asyncWriter) preallocate(end int64) {
	if a.noPrealloc || end <= a.allocEnd {
		return
	}
	to := end + asyncPreallocate
	if err := preallocate(a.w.f, a.allocEnd, to-a.allocEnd); err != nil {
		a.noPrealloc = true
		return
	}
	a.allocEnd = to
}

// enqueue records b as not yet released and returns its sequence number.
func (a *asyncWriter) enqueue(b *asyncBlock) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	seq := a.next
	a.next++
	a.blocks[seq] = b
	return seq
}

// finished releases block seq, written (or failed with err).
func (a *asyncWriter) finished(seq uint64, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil && a.err == nil {
		a.err = err
	}
	a.releaseLocked(seq)
}

// releaseLocked releases block seq; a.mu is held.
func (a *asyncWriter) releaseLocked(seq uint64) {
	b := a.blocks[seq]
	delete(a.blocks, seq)
	b.release()
}

// markSubmitted records that b's direct write is in flight.
func (a *asyncWriter) markSubmitted(b *asyncBlock) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b.direct = true
}

// block returns block seq, not yet released.
func (a *asyncWriter) block(seq uint64) *asyncBlock {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.blocks[seq]
}

func (a *asyncWriter) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// reaper waits for each direct write's event. A write the disk refused or
// cut short is written again, what is left of it, through the page cache
// (which also waits for space being freed, as every write of PutBlob
// does); EINVAL, a device asking for larger alignment, sends every later
// block through the cache too. It ends once submitted is closed and every
// write in flight is reaped.
func (a *asyncWriter) reaper() {
	defer close(a.reaped)
	var lost error // the events cannot be had: fail the writes instead
	for range a.submitted {
		if lost != nil {
			a.failDirect(lost)
			continue
		}
		seq, res, err := a.reap()
		if err != nil {
			lost = fmt.Errorf("direct writes: %w", err)
			a.eventsLost = true
			a.noDirect.Store(true)
			a.failDirect(lost)
			continue
		}
		b := a.block(seq)
		var werr error
		switch {
		case res == int64(len(b.p)):
			a.directWrites.Add(1)
		case res < 0:
			if errors.Is(aioErrno(res), syscall.EINVAL) {
				a.noDirect.Store(true)
			}
			_, werr = a.w.at.WriteAt(b.p, b.off)
		default:
			_, werr = a.w.at.WriteAt(b.p[res:], b.off+res)
		}
		<-a.slots
		a.finished(seq, werr)
	}
}

// failDirect marks every direct write in flight failed with err: their
// events cannot be had. Their blocks are released; the blob fails.
func (a *asyncWriter) failDirect(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
	}
	for seq, b := range a.blocks {
		if b.direct {
			select {
			case <-a.slots:
			default:
			}
			a.releaseLocked(seq)
		}
	}
}

// stop waits for the direct writes in flight and gives the AIO context
// back; it returns the first error of any write.
func (a *asyncWriter) stop() error {
	if a.submitted == nil {
		return a.failed()
	}
	close(a.submitted)
	<-a.reaped
	a.submitted = nil
	a.end()
	if err := a.df.Close(); err != nil && a.failed() == nil {
		return err
	}
	return a.failed()
}

// finish stops the writes and cuts the file back to what was written,
// if its space was allocated past that.
func (a *asyncWriter) finish() error {
	if err := a.stop(); err != nil {
		return err
	}
	if a.allocEnd > a.w.off {
		if err := a.w.f.Truncate(a.w.off); err != nil {
			return err
		}
		a.allocEnd = a.w.off
	}
	return nil
}
