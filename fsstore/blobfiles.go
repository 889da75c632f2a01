package fsstore

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// DefaultIdleBlobFiles is how many blob files a Store keeps open once their
// Blobs are closed (see WithIdleBlobFiles).
const DefaultIdleBlobFiles = 256

// idleBlobFileTTL is how long a blob file stays open unused: a blob that
// another process deletes keeps its disk space until then.
const idleBlobFileTTL = 5 * time.Second

// blobFile is an open blob file and what OpenBlob found out about it. A
// Blob owns it alone (its file offset is the Blob's caller's) until it is
// closed; then the file waits in blobFiles for the next OpenBlob of its key.
type blobFile struct {
	f    *os.File
	key  jobartifacts.BlobKey
	id   fileID
	info jobartifacts.BlobInfo
	// drops is blobFiles.drops when the file was opened or taken: a put
	// that finds it changed closes the file, which may be a deleted blob's.
	drops uint64
	// removals is the removal generation read before the file was last
	// found at the key's path (counted: there was one).
	removals uint64
	counted  bool

	// Guarded by blobFiles.mu while idle.
	older, newer *blobFile // every idle file, oldest first
	keyNext      *blobFile // the key's other idle files, newest first
	idleSince    time.Time
}

// blobFiles keeps the files of closed Blobs open and idle, at most max of
// them and for at most ttl each, so that the next OpenBlob of a key costs a
// stat(2) of its path rather than open(2), fstat(2) and close(2). It hands
// an idle file to one Blob at a time, never shares one.
type blobFiles struct {
	mu             sync.Mutex
	max            int
	ttl            time.Duration
	byKey          map[jobartifacts.BlobKey]*blobFile
	oldest, newest *blobFile
	n              int
	timer          *time.Timer // set while files are idle
	closed         bool
	// drops counts drop calls, so that the file of a Blob open while its
	// key was deleted is closed at put, not kept idle on a deleted blob's
	// disk space. Written under mu; read without it by OpenBlob.
	drops atomic.Uint64
}

func newBlobFiles(max int) *blobFiles {
	return &blobFiles{max: max, ttl: idleBlobFileTTL, byKey: make(map[jobartifacts.BlobKey]*blobFile)}
}

// take returns the key's most recently idle file, no longer idle, or nil.
func (c *blobFiles) take(key jobartifacts.BlobKey) *blobFile {
	c.mu.Lock()
	defer c.mu.Unlock()
	bf := c.byKey[key]
	if bf == nil {
		return nil
	}
	if bf.keyNext == nil {
		delete(c.byKey, key)
	} else {
		c.byKey[key] = bf.keyNext
	}
	c.unlink(bf)
	return bf
}

// put keeps bf idle, closing the oldest idle file if there are max already.
// It closes bf instead once the Store is closed, when max is 0, or when a
// key was dropped since bf was opened or taken (it may have been bf's:
// deletions are rare, and telling which key costs more than a reopen).
func (c *blobFiles) put(bf *blobFile) {
	c.mu.Lock()
	if c.closed || c.max <= 0 || c.drops.Load() != bf.drops {
		c.mu.Unlock()
		bf.f.Close()
		return
	}
	var evicted *blobFile
	if c.n >= c.max {
		evicted = c.oldest
		c.removeIdle(evicted)
	}
	bf.idleSince = time.Now()
	bf.keyNext = c.byKey[bf.key]
	c.byKey[bf.key] = bf
	bf.older, bf.newer = c.newest, nil
	if c.newest != nil {
		c.newest.newer = bf
	} else {
		c.oldest = bf
	}
	c.newest = bf
	c.n++
	if c.timer == nil {
		c.timer = time.AfterFunc(c.ttl, c.expire)
	}
	c.mu.Unlock()
	if evicted != nil {
		evicted.f.Close()
	}
}

// drop closes the key's idle files (the blob is gone).
func (c *blobFiles) drop(key jobartifacts.BlobKey) {
	c.mu.Lock()
	var dropped []*blobFile
	for bf := c.byKey[key]; bf != nil; bf = bf.keyNext {
		dropped = append(dropped, bf)
	}
	delete(c.byKey, key)
	for _, bf := range dropped {
		c.unlink(bf)
	}
	c.drops.Add(1)
	c.mu.Unlock()
	for _, bf := range dropped {
		bf.f.Close()
	}
}

// expire closes the files idle for ttl, and runs again when the next one
// will have been.
func (c *blobFiles) expire() {
	c.mu.Lock()
	var expired []*blobFile
	now := time.Now()
	for c.oldest != nil && now.Sub(c.oldest.idleSince) >= c.ttl {
		bf := c.oldest
		c.removeIdle(bf)
		expired = append(expired, bf)
	}
	switch {
	case c.closed:
	case c.oldest != nil:
		c.timer.Reset(c.ttl - now.Sub(c.oldest.idleSince))
	default:
		c.timer = nil
	}
	c.mu.Unlock()
	for _, bf := range expired {
		bf.f.Close()
	}
}

// close closes every idle file; later puts close theirs.
func (c *blobFiles) close() {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	bf := c.oldest
	c.oldest, c.newest, c.n = nil, nil, 0
	clear(c.byKey)
	c.mu.Unlock()
	for ; bf != nil; bf = bf.newer {
		bf.f.Close()
	}
}

// idle returns how many files are idle.
func (c *blobFiles) idle() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// removeIdle takes bf out of the idle files, its key's list included.
// c.mu must be held.
func (c *blobFiles) removeIdle(bf *blobFile) {
	p := c.byKey[bf.key]
	if p == bf {
		if bf.keyNext == nil {
			delete(c.byKey, bf.key)
		} else {
			c.byKey[bf.key] = bf.keyNext
		}
	} else {
		for p.keyNext != bf {
			p = p.keyNext
		}
		p.keyNext = bf.keyNext
	}
	c.unlink(bf)
}

// unlink takes bf out of the list of every idle file (not its key's).
// c.mu must be held.
func (c *blobFiles) unlink(bf *blobFile) {
	if bf.older != nil {
		bf.older.newer = bf.newer
	} else {
		c.oldest = bf.newer
	}
	if bf.newer != nil {
		bf.newer.older = bf.older
	} else {
		c.newest = bf.older
	}
	bf.older, bf.newer, bf.keyNext = nil, nil, nil
	c.n--
}
