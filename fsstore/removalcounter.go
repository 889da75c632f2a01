package fsstore

import (
	"os"
	"sync"
)

// An idle blob file (blobfiles.go) may be served only while the key's path
// still names it. A stat(2) of the path says so, at about a sixth of a
// small download's CPU in the handler; the removal counter says it for
// free when no blob file has been removed from its path since the last
// stat. Blob files leave their paths only by unlink(2) in DeleteBlob and
// PutBlob's take-back (link(2) never replaces one), and each of those adds
// one to the counter once the unlink is done, in whichever process it ran.
// OpenBlob reads the counter before it finds a file at a path: the same
// count later means that no removal ended in between, so the path still
// names the file. A removal still under way may go unseen, as it may by a
// stat taken just before its unlink: OpenBlob and DeleteBlob run
// concurrently then.

// removalCounter is the file "removals": 8 bytes, a count in the machine's
// byte order, changed only by atomic adds to a shared mapping of the file
// (every process on the directory maps the same page). Where it cannot be
// mapped, it counts nothing and every idle file is checked with stat(2);
// the mapping works on a file system either for every process or for none,
// so no process can remove without counting while another trusts the
// count.
type removalCounter struct {
	// mu is held shared while the mapping is used, and alone by close.
	mu     sync.RWMutex
	f      *os.File
	mapped []byte // the file's first page, shared and writable, or nil
	closed bool
}

func openRemovalCounter(path string) (*removalCounter, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	// Made 8 bytes long by the first Open; never shortened, so
	// truncating to 8 when another Open just did changes nothing.
	if fi, err := f.Stat(); err != nil || fi.Size() < 8 {
		if err := f.Truncate(8); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &removalCounter{f: f, mapped: mapCounter(f)}, nil
}

// load returns the count, and false when there is none to trust (not
// mapped, closed, or the file lost its bytes).
func (c *removalCounter) load() (uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.mapped == nil {
		return 0, false
	}
	return loadCounter(c.mapped)
}

// remove runs rm, the removal of a blob file from its path, and counts it
// whatever rm returns (a path already gone was someone's removal, counted
// by them). Once the counter is closed it removes nothing: ErrClosed. A
// close waits for a removal under way, so none goes uncounted.
func (c *removalCounter) remove(rm func() error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	err := rm()
	if c.mapped != nil {
		addCounter(c.mapped)
	}
	return err
}

// close unmaps and closes the file, once the removals under way are done.
func (c *removalCounter) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.mapped != nil {
		unmapCounter(c.mapped)
		c.mapped = nil
	}
	return c.f.Close()
}
