package jobartifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// This file keeps, per archive version (blob key and ETag), the engine's
// compact index of its central directory (ziparchive.Index) and, built on
// the first tree request, the sorted directory structure that tree pages
// are cut from. Indexes live in a cache bounded by
// a byte budget (WithArchiveIndexBudget), least recently used first out; an
// archive whose index would not fit is remembered as such and served by the
// streaming walk, as before.

// DefaultArchiveIndexBudget bounds the memory of all cached indexes of one
// Handler (WithArchiveIndexBudget): 256 MiB, about 2.5M entries with
// 40-byte names, or a million-entry archive with its tree (96 + 8 to 50 MiB
// by the directory structure) and more beside it. It is a ceiling, not an
// allocation: only archives that are requested are indexed.
const DefaultArchiveIndexBudget = 256 << 20

// archiveIndex is the index of one archive version and its tree, built on
// first use.
type archiveIndex struct {
	*ziparchive.Index

	treeOnce sync.Once
	tree     *archiveTree // nil when it would not fit the budget
}

// archiveIndexCache holds the indexes of one Handler.
type archiveIndexCache struct {
	budget int64

	mu       sync.Mutex
	used     int64
	entries  map[archiveVersion]*cachedIndex
	head     cachedIndex // sentinel of the LRU ring: head.next is the most recent
	building map[archiveVersion]*indexBuild
	// closed: no detached build starts (close); detached counts those
	// that run.
	closed   bool
	detached sync.WaitGroup
}

// cachedIndex is one archive version in the cache; idx is nil for an
// archive whose index does not fit the budget.
type cachedIndex struct {
	key        archiveVersion
	idx        *archiveIndex
	cost       int64
	prev, next *cachedIndex
}

// indexBuild is a build under way, which other requests may wait for.
type indexBuild struct {
	done chan struct{}
	idx  *archiveIndex // nil: over budget (when err is nil)
	err  error
	// cancel ends a detached build early (close); nil for the others,
	// which end with their request.
	cancel context.CancelFunc
}

func newArchiveIndexCache(budget int64) *archiveIndexCache {
	c := &archiveIndexCache{budget: budget, entries: make(map[archiveVersion]*cachedIndex), building: make(map[archiveVersion]*indexBuild)}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

// archiveVersion names one version of one blob: its key and ETag. A
// struct, not the two joined, so that naming one allocates nothing.
type archiveVersion struct {
	blob BlobKey
	etag string
}

// archiveCacheKey names one version of one blob; the zero archiveVersion
// (no caching) when the blob has no ETag to tell versions apart.
func archiveCacheKey(key BlobKey, info BlobInfo) archiveVersion {
	if info.ETag == "" || key == "" {
		return archiveVersion{}
	}
	return archiveVersion{blob: key, etag: info.ETag}
}

func (c *archiveIndexCache) enabled(key archiveVersion) bool {
	return c != nil && c.budget > 0 && key != archiveVersion{}
}

// lookupLocked returns the cached index (touching it) and whether there is
// one; idx is nil for an archive known to be too big.
func (c *archiveIndexCache) lookupLocked(key archiveVersion) (idx *archiveIndex, ok bool) {
	e := c.entries[key]
	if e == nil {
		return nil, false
	}
	c.unlink(e)
	c.pushFront(e)
	return e.idx, true
}

func (c *archiveIndexCache) unlink(e *cachedIndex) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (c *archiveIndexCache) pushFront(e *cachedIndex) {
	e.prev, e.next = &c.head, c.head.next
	c.head.next.prev = e
	c.head.next = e
}

// store enters an index (or the note that it is too big) and evicts the
// least recently used until the budget holds.
func (c *archiveIndexCache) store(key archiveVersion, idx *archiveIndex) {
	cost := int64(len(key.blob) + len(key.etag) + 128)
	if idx != nil {
		cost += idx.Cost()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[key]; old != nil {
		c.unlink(old)
		c.used -= old.cost
	}
	e := &cachedIndex{key: key, idx: idx, cost: cost}
	c.entries[key] = e
	c.pushFront(e)
	c.used += cost
	c.evictLocked()
}

// grow adds delta bytes to a cached index's cost (its tree was built).
func (c *archiveIndexCache) grow(key archiveVersion, idx *archiveIndex, delta int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil && e.idx == idx {
		e.cost += delta
		c.used += delta
		c.evictLocked()
	}
}

func (c *archiveIndexCache) evictLocked() {
	for c.used > c.budget && c.head.prev != &c.head {
		e := c.head.prev
		c.unlink(e)
		delete(c.entries, e.key)
		c.used -= e.cost
	}
}

// index returns the archive's index, building it (one build per archive
// version however many requests ask at once) if needed. A nil index and nil
// error mean the archive is too big for the budget (or caching is off): the
// caller streams.
func (c *archiveIndexCache) index(ctx context.Context, key archiveVersion, ra io.ReaderAt, size int64) (*archiveIndex, error) {
	if !c.enabled(key) {
		return nil, nil
	}
	c.mu.Lock()
	if idx, ok := c.lookupLocked(key); ok {
		c.mu.Unlock()
		return idx, nil
	}
	if b := c.building[key]; b != nil {
		c.mu.Unlock()
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("jobartifacts: reading archive: %w", ctx.Err())
		}
		if b.err != nil {
			// Another request's failure (its client may have gone): read
			// the archive ourselves.
			return c.buildNow(ctx, key, ra, size)
		}
		return b.idx, nil
	}
	b := &indexBuild{done: make(chan struct{})}
	c.building[key] = b
	c.mu.Unlock()
	b.idx, b.err = buildArchiveIndex(ctx, ra, size, c.budget, nil)
	c.finishBuild(key, b)
	return b.idx, b.err
}

// buildNow builds without registering (after a shared build failed).
func (c *archiveIndexCache) buildNow(ctx context.Context, key archiveVersion, ra io.ReaderAt, size int64) (*archiveIndex, error) {
	idx, err := buildArchiveIndex(ctx, ra, size, c.budget, nil)
	if err == nil {
		c.store(key, idx)
	}
	return idx, err
}

func (c *archiveIndexCache) finishBuild(key archiveVersion, b *indexBuild) {
	if b.err == nil {
		c.store(key, b.idx)
	}
	c.mu.Lock()
	delete(c.building, key)
	c.mu.Unlock()
	close(b.done)
}

// blobOpener opens a blob again (a Store does) for an index build that
// outlives its request. An interface, not a closure over the blob's key,
// so that handing the Store over allocates nothing.
type blobOpener interface {
	OpenBlob(ctx context.Context, key BlobKey) (Blob, error)
}

// findEntry finds the entry named name as findZipEntryByWalk does, through
// the index when there is one. Without one it walks to the entry as
// before and starts the index build, so that a cold lookup is answered as
// fast as before and never shares its request with the build: with reopen,
// the build reads a blob of its own (key's, opened by reopen) and outlives
// the request (wait does nothing); without, it reads ra, and wait, which
// the caller must call before it closes ra, lets it finish. Requests
// arriving while a build runs walk on their own, as before.
func (c *archiveIndexCache) findEntry(ctx context.Context, key archiveVersion, ra io.ReaderAt, size int64, name string,
	reopen blobOpener) (entry *ziparchive.Entry, wait func(), err error) {
	noWait := func() {}
	if !c.enabled(key) {
		e, err := findZipEntryByWalk(ctx, ra, size, name)
		return e, noWait, err
	}
	c.mu.Lock()
	if idx, ok := c.lookupLocked(key); ok {
		c.mu.Unlock()
		if idx == nil {
			e, err := findZipEntryByWalk(ctx, ra, size, name)
			return e, noWait, err
		}
		return indexedEntry(idx, name)
	}
	if c.building[key] != nil || (reopen != nil && c.closed) {
		c.mu.Unlock()
		e, err := findZipEntryByWalk(ctx, ra, size, name)
		return e, noWait, err
	}
	b := &indexBuild{done: make(chan struct{})}
	c.building[key] = b
	var buildCtx context.Context
	if reopen != nil {
		// The build keeps the request's values but not its end: a client
		// gone does not waste the work, and the response is not held for
		// it. close cancels it.
		buildCtx, b.cancel = context.WithTimeout(context.WithoutCancel(ctx), detachedBuildTimeout)
		c.detached.Add(1)
	}
	c.mu.Unlock()

	e, err := findZipEntryByWalk(ctx, ra, size, name)
	if reopen == nil {
		go func() {
			b.idx, b.err = buildArchiveIndex(ctx, ra, size, c.budget, nil)
			c.finishBuild(key, b)
		}()
		return e, func() { <-b.done }, err
	}
	go c.buildDetached(buildCtx, key, size, reopen, b)
	return e, noWait, err
}

// buildDetached builds the index of key from a blob of its own, until ctx
// (made by findEntry, cancelled by b.cancel) ends.
func (c *archiveIndexCache) buildDetached(ctx context.Context, key archiveVersion, size int64, reopen blobOpener, b *indexBuild) {
	defer c.detached.Done()
	defer c.finishBuild(key, b)
	defer b.cancel()
	blob, err := reopen.OpenBlob(ctx, key.blob)
	if err != nil {
		b.err = fmt.Errorf("jobartifacts: reopening archive to index it: %w", err)
		return
	}
	defer blob.Close()
	if info := blob.Info(); info.Size != size || !sameVersion(key, info) {
		b.err = errors.New("jobartifacts: archive changed while being indexed")
		return
	}
	b.idx, b.err = buildArchiveIndex(ctx, blob, size, c.budget, nil)
}

// detachedBuildTimeout bounds an index build that no request waits for.
const detachedBuildTimeout = 5 * time.Minute

// close starts no detached build from now on, cancels those under way and
// waits for them to end (and close their blobs), or for ctx.
func (c *archiveIndexCache) close(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	c.closed = true
	for _, b := range c.building {
		if b.cancel != nil {
			b.cancel()
		}
	}
	c.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		c.detached.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobartifacts: waiting for archive index builds: %w", ctx.Err())
	}
}

// sameVersion tells whether info is the version that key (archiveCacheKey)
// names.
func sameVersion(key archiveVersion, info BlobInfo) bool {
	return key.etag == info.ETag
}

// indexedEntry looks name up in idx.
func indexedEntry(idx *archiveIndex, name string) (*ziparchive.Entry, func(), error) {
	e := idx.Lookup(name)
	if e == nil {
		return nil, func() {}, fmt.Errorf("%w: no entry %q in archive", ErrNotFound, name)
	}
	return e, func() {}, nil
}

// buildArchiveIndex is ziparchive.BuildIndex over ra, its errors this
// package's (walkCentralDirectory's).
func buildArchiveIndex(ctx context.Context, ra io.ReaderAt, size int64, limit int64, visit func(*ziparchive.Record)) (*archiveIndex, error) {
	idx, err := ziparchive.BuildIndex(ctx, ziparchive.NewArchive(ra, size), limit, visit)
	if err != nil || idx == nil {
		return nil, archiveError(err)
	}
	return &archiveIndex{Index: idx}, nil
}
