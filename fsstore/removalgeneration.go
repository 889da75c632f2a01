package fsstore

import (
	"os"
	"sync"
)

// An idle blob file (blobfiles.go) may be served only while the key's path
// still names it. A stat(2) of the path says so, at about a sixth of a
// small download's CPU in the handler; the removal generation says it for
// the price of a load from memory when no blob file has been removed from
// its path since the last stat. Blob files leave their paths only by
// unlink(2) in DeleteBlob and PutBlob's take-back (link(2) never replaces
// one), and each of those then replaces the generation in the file
// "removals" with a fresh random value, in whichever process it ran, as
// every metadata write replaces meta.lock's. OpenBlob reads the generation
// before it finds a file at a path: the same value later means that no
// removal ended in between, so the path still names the file. A removal
// still under way may go unseen, as it may by a stat taken just before its
// unlink: OpenBlob and DeleteBlob run concurrently then. A generation that
// cannot be written (a full file system) is removed instead: none, and
// every idle file is checked with stat until the next removal writes one.
// A removal replaces the generation twice, before its unlink and after it:
// a process that dies between the two leaves a generation that no idle
// file found before the removal began was found under. Only a file found
// in the instant between the first write and the unlink could then be
// taken unchecked, for the rest of its 5 s.

// removalGeneration is the file "removals", read as meta.lock is
// (generationFile: a load from a shared mapping on Linux, else a pread)
// and written with newGeneration.
type removalGeneration struct {
	// mu is held shared while the files are used, and alone by close.
	mu     sync.RWMutex
	read   *generationFile
	w      *os.File
	closed bool
}

func openRemovalGeneration(path string) (*removalGeneration, error) {
	w, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	// A new file gets a generation (two Opens may both write one: the
	// later replaces the earlier, which only costs a stat).
	if fi, err := w.Stat(); err == nil && fi.Size() < 8 {
		_ = newGeneration(w)
	}
	read, err := openGenerationFile(path)
	if err != nil {
		w.Close()
		return nil, err
	}
	return &removalGeneration{read: read, w: w}, nil
}

// load returns the generation, and false when there is none to trust
// (none written, or closed).
func (g *removalGeneration) load() (uint64, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return 0, false
	}
	n := g.read.load()
	return n, n != 0
}

// remove runs rm, the removal of a blob file from its path, between two
// new generations: the one before, in case this process dies before the
// one after; the one after, which readers that loaded the first see,
// whatever rm returns (a path already gone was someone's removal, and a
// new generation costs only a stat). Once closed it removes nothing:
// ErrClosed. close waits for a removal under way, so none goes without its
// new generations.
func (g *removalGeneration) remove(rm func() error) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return ErrClosed
	}
	// Failing both to write and to empty the file leaves nothing to do.
	_ = newGeneration(g.w)
	err := rm()
	_ = newGeneration(g.w)
	return err
}

// close closes the files, once the removals under way are done.
func (g *removalGeneration) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.read.close()
	return g.w.Close()
}
