package fsstore

import (
	"errors"
	"os"
	"sync"
	"syscall"
)

// A deleted file's blocks are freed when its last descriptor is closed, or
// at unlink(2) when none is open; for a large file that is the file
// system's slowest work: ~0.3 s per GiB on ext4, more when it is mounted
// with discard. DeleteBlob does not make its caller wait for it. For a blob
// of at least backgroundFreeMinSize it opens the file before the unlink and
// hands that descriptor to backgroundFrees, which closes it in the
// background: the key is gone when DeleteBlob returns, its space a moment
// later. The handler deletes the blob of an upload it does not record (the
// same bytes uploaded again, a conflict) before it answers; that answer no
// longer waits for the space.

// backgroundFreeMinSize is the size from which DeleteBlob frees a blob's
// blocks in the background: below it, freeing them costs about as much as a
// goroutine and an open(2).
var backgroundFreeMinSize int64 = 4 << 20

// maxBackgroundFrees bounds the descriptors held for freeing at once: a
// sweep of many large blobs frees the ones past it in the caller, as
// without backgroundFrees, rather than hold a descriptor each.
const maxBackgroundFrees = 16

// closeHeldFile closes a descriptor held for freeing; tests replace it to
// see when that happens.
var closeHeldFile = (*os.File).Close

// backgroundFrees closes, in goroutines of its own, the last descriptors of
// deleted blob files, a bounded number at once. Store.Close waits for them.
type backgroundFrees struct {
	mu      sync.Mutex
	done    *sync.Cond // signalled when pending drops to zero
	pending int
	freed   uint64 // frees done so far
	closed  bool
	waits   int // writes that waited for frees (tests)
}

func newBackgroundFrees() *backgroundFrees {
	b := &backgroundFrees{}
	b.done = sync.NewCond(&b.mu)
	return b
}

// free closes f and then runs after, in the background unless the frees
// are closed or maxBackgroundFrees are under way; then in the caller. It
// reports whether it returned before they ran.
func (b *backgroundFrees) free(f *os.File, after func()) bool {
	b.mu.Lock()
	if b.closed || b.pending >= maxBackgroundFrees {
		b.mu.Unlock()
		_ = closeHeldFile(f)
		after()
		return false
	}
	b.pending++
	b.mu.Unlock()
	go func() {
		_ = closeHeldFile(f)
		after()
		b.mu.Lock()
		b.pending--
		b.freed++
		if b.pending == 0 {
			b.done.Broadcast()
		}
		b.mu.Unlock()
	}()
	return true
}

// wait returns once the frees under way when it was called, and any begun
// meanwhile, are done.
func (b *backgroundFrees) wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.pending > 0 {
		b.done.Wait()
	}
}

// close waits for the frees under way; later ones run in their caller.
func (b *backgroundFrees) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wait()
}

// A write that meets a full file system just after a DeleteBlob would
// succeed a moment later, once the deleted blob's blocks are free: PutBlob
// writes through a spaceWaitingFile, which then waits for this Store's
// frees and tries once more. Frees of other processes cannot be waited for.

// spaceWaitingFile is a new blob's file whose WriteAt, refused for lack of
// space (ENOSPC) while frees are under way or just done, waits for them and
// writes the rest once more.
type spaceWaitingFile struct {
	*os.File
	frees *backgroundFrees
}

func (f spaceWaitingFile) WriteAt(p []byte, off int64) (int, error) {
	mark := f.frees.mark()
	n, err := f.File.WriteAt(p, off)
	if err == nil || !errors.Is(err, syscall.ENOSPC) || !f.frees.waitSince(mark) {
		return n, err
	}
	m, err := f.File.WriteAt(p[n:], off+int64(n))
	return n + m, err
}

// mark returns the count of frees done, for waitSince.
func (b *backgroundFrees) mark() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.freed
}

// waitSince waits for the frees under way, and reports whether space may
// have come back since mark: frees were under way, or some ended since.
func (b *backgroundFrees) waitSince(mark uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == 0 && b.freed == mark {
		return false
	}
	b.waits++
	for b.pending > 0 {
		b.done.Wait()
	}
	return true
}
