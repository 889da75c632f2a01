package jobartifacts

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// This file keeps, per archive version (blob key and ETag), a compact index
// of its central directory: every record's name in one byte slice, the
// fields needed to open an entry in a packed slice, a hash table for exact
// name lookups and, built on the first tree request, the sorted directory
// structure that tree pages are cut from. Indexes live in a cache bounded by
// a byte budget (WithArchiveIndexBudget), least recently used first out; an
// archive whose index would not fit is remembered as such and served by the
// streaming walk, as before.

// DefaultArchiveIndexBudget bounds the memory of all cached indexes of one
// Handler (WithArchiveIndexBudget): about 500k entries with 40-byte names.
const DefaultArchiveIndexBudget = 64 << 20

// indexedRecord is what a lookup needs of one central-directory record
// besides its name: 40 bytes.
type indexedRecord struct {
	compressedSize   uint64
	uncompressedSize uint64
	headerOffset     int64
	crc32            uint32
	externalAttrs    uint32
	flags            uint16
	method           uint16
}

// Per-entry costs of an index, for the budget.
const (
	indexedRecordCost = 40 // indexedRecord
	indexNameEndCost  = 4  // nameEnd
	indexTableCost    = 10 // up to two hash slots of 5 bytes per entry
	indexFixedCost    = 512
)

// archiveIndex is the central directory of one archive version, read once.
// It is immutable once built but for its tree, which is built on first use.
type archiveIndex struct {
	names   []byte
	nameEnd []uint32 // entry i's name is names[nameEnd[i-1]:nameEnd[i]]
	recs    []indexedRecord
	table   []uint32 // open addressing: entry index + 1, 0 when empty
	tags    []uint8  // a byte of each slot's name hash, to skip most compares
	seed    maphash.Seed

	treeOnce sync.Once
	tree     *archiveTree // nil when it would not fit the budget
}

func (x *archiveIndex) len() int { return len(x.recs) }

func (x *archiveIndex) name(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = x.nameEnd[i-1]
	}
	return x.names[start:x.nameEnd[i]]
}

// cost is the index's size in bytes without its tree.
func (x *archiveIndex) cost() int64 {
	return int64(cap(x.names)) + int64(cap(x.nameEnd))*indexNameEndCost +
		int64(cap(x.recs))*indexedRecordCost + int64(cap(x.table))*5 + indexFixedCost
}

// entry returns entry i as a lookup by walk would have given it.
func (x *archiveIndex) entry(i int) *ziparchive.Entry {
	r := x.recs[i]
	return &ziparchive.Entry{
		Name:             string(x.name(i)),
		Flags:            r.flags,
		Method:           r.method,
		CRC32:            r.crc32,
		CompressedSize:   r.compressedSize,
		UncompressedSize: r.uncompressedSize,
		ExternalAttrs:    r.externalAttrs,
		HeaderOffset:     r.headerOffset,
	}
}

// find returns the index of the first entry (in central-directory order)
// named name, or -1.
func (x *archiveIndex) find(name string) int {
	if len(x.table) == 0 {
		return -1
	}
	mask := uint64(len(x.table) - 1)
	h := maphash.String(x.seed, name)
	tag := uint8(h >> 56)
	for slot := h & mask; ; slot = (slot + 1) & mask {
		v := x.table[slot]
		if v == 0 {
			return -1
		}
		if x.tags[slot] == tag && string(x.name(int(v-1))) == name {
			return int(v - 1)
		}
	}
}

// buildTable fills the hash table; of several entries with one name only
// the first is entered, so that it wins as in a walk.
func (x *archiveIndex) buildTable() {
	size := 1
	for size < len(x.recs)+len(x.recs)/2+1 { // a load of at most 2/3
		size <<= 1
	}
	x.table = make([]uint32, size)
	x.tags = make([]uint8, size)
	x.seed = maphash.MakeSeed()
	mask := uint64(size - 1)
	for i := range x.recs {
		name := x.name(i)
		h := maphash.Bytes(x.seed, name)
		tag := uint8(h >> 56)
		for slot := h & mask; ; slot = (slot + 1) & mask {
			v := x.table[slot]
			if v == 0 {
				x.table[slot], x.tags[slot] = uint32(i+1), tag
				break
			}
			if x.tags[slot] == tag && bytes.Equal(x.name(int(v-1)), name) {
				break // a later duplicate
			}
		}
	}
}

// indexBuilder collects records during a walk until they would exceed limit
// bytes; then it drops what it has and only counts on.
type indexBuilder struct {
	x        *archiveIndex
	limit    int64
	over     bool
	fixedPer int64
	// declared is the record count the end record announces, if the
	// directory can hold that many; dirBytes is the directory's size.
	declared uint64
	dirBytes int64
	reserved bool // room for declared records has been made
}

// indexInitialRecords is how many records an index first makes room for:
// a lookup answered by the building walk must not wait for a large
// allocation. Past them it reserves room for all it expects, once.
const indexInitialRecords = 1024

func newIndexBuilder(dir ziparchive.Directory, limit int64) *indexBuilder {
	b := &indexBuilder{x: &archiveIndex{}, limit: limit, fixedPer: indexedRecordCost + indexNameEndCost + indexTableCost,
		dirBytes: dir.End - dir.Start}
	if n := dir.Records; n <= uint64(b.dirBytes/ziparchive.CentralHeaderLen) {
		b.declared = n
	}
	n := min(b.declared, indexInitialRecords)
	b.x.recs = make([]indexedRecord, 0, n)
	b.x.nameEnd = make([]uint32, 0, n)
	b.x.names = make([]byte, 0, n*32)
	return b
}

// reserve makes room, once, for the records the end record announces and
// for names as long on average as the first ones.
func (b *indexBuilder) reserve() {
	b.reserved = true
	x := b.x
	if b.declared <= uint64(len(x.recs)) || len(x.recs) == 0 {
		return
	}
	avg := float64(len(x.names)) / float64(len(x.recs))
	// What is reserved stays within the limit, so that an archive too big
	// for it costs about the limit, once, before it is known as such.
	n := min(b.declared, uint64(float64(b.limit)/(float64(b.fixedPer)+avg*1.1)))
	if n <= uint64(len(x.recs)) {
		return
	}
	recs := make([]indexedRecord, len(x.recs), n)
	copy(recs, x.recs)
	nameEnd := make([]uint32, len(x.nameEnd), n)
	copy(nameEnd, x.nameEnd)
	nameCap := min(int64(avg*float64(n)*1.1)+64, b.dirBytes)
	names := make([]byte, len(x.names), max(nameCap, int64(len(x.names))))
	copy(names, x.names)
	x.recs, x.nameEnd, x.names = recs, nameEnd, names
}

func (b *indexBuilder) add(rec *ziparchive.Record) {
	if b.over {
		return
	}
	x := b.x
	n := int64(len(x.recs) + 1)
	if int64(len(x.names)+len(rec.Name))+n*b.fixedPer+indexFixedCost > b.limit ||
		len(x.names)+len(rec.Name) > math.MaxUint32 || n > math.MaxUint32-1 {
		b.over = true
		b.x = nil
		return
	}
	if !b.reserved && len(x.recs) == cap(x.recs) {
		b.reserve()
	}
	x.names = append(x.names, rec.Name...)
	x.nameEnd = append(x.nameEnd, uint32(len(x.names)))
	x.recs = append(x.recs, indexedRecord{
		compressedSize:   rec.CompressedSize,
		uncompressedSize: rec.UncompressedSize,
		headerOffset:     rec.HeaderOffset,
		crc32:            rec.CRC32,
		externalAttrs:    rec.ExternalAttrs,
		flags:            rec.Flags,
		method:           rec.Method,
	})
}

// finish returns the index, or nil when it went over its limit.
func (b *indexBuilder) finish() *archiveIndex {
	if b.over {
		return nil
	}
	x := b.x
	// Growing by append leaves up to half unused.
	if cap(x.names) > len(x.names)+len(x.names)/8 {
		x.names = slices.Clone(x.names)
	}
	if cap(x.recs) > len(x.recs)+len(x.recs)/8 {
		x.recs = slices.Clone(x.recs)
		x.nameEnd = slices.Clone(x.nameEnd)
	}
	x.buildTable()
	return x
}

// archiveIndexCache holds the indexes of one Handler.
type archiveIndexCache struct {
	budget int64

	mu       sync.Mutex
	used     int64
	entries  map[string]*cachedIndex
	head     cachedIndex // sentinel of the LRU ring: head.next is the most recent
	building map[string]*indexBuild
}

// cachedIndex is one archive version in the cache; idx is nil for an
// archive whose index does not fit the budget.
type cachedIndex struct {
	key        string
	idx        *archiveIndex
	cost       int64
	prev, next *cachedIndex
}

// indexBuild is a build under way, which other requests may wait for.
type indexBuild struct {
	done chan struct{}
	idx  *archiveIndex // nil: over budget (when err is nil)
	err  error
}

func newArchiveIndexCache(budget int64) *archiveIndexCache {
	c := &archiveIndexCache{budget: budget, entries: make(map[string]*cachedIndex), building: make(map[string]*indexBuild)}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

// archiveCacheKey names one version of one blob; "" (no caching) when the
// blob has no ETag to tell versions apart.
func archiveCacheKey(key BlobKey, info BlobInfo) string {
	if info.ETag == "" || key == "" {
		return ""
	}
	return string(key) + "\x00" + info.ETag
}

func (c *archiveIndexCache) enabled(key string) bool {
	return c != nil && c.budget > 0 && key != ""
}

// lookupLocked returns the cached index (touching it) and whether there is
// one; idx is nil for an archive known to be too big.
func (c *archiveIndexCache) lookupLocked(key string) (idx *archiveIndex, ok bool) {
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
func (c *archiveIndexCache) store(key string, idx *archiveIndex) {
	cost := int64(len(key) + 128)
	if idx != nil {
		cost += idx.cost()
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
func (c *archiveIndexCache) grow(key string, idx *archiveIndex, delta int64) {
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
func (c *archiveIndexCache) index(ctx context.Context, key string, ra io.ReaderAt, size int64) (*archiveIndex, error) {
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
func (c *archiveIndexCache) buildNow(ctx context.Context, key string, ra io.ReaderAt, size int64) (*archiveIndex, error) {
	idx, err := buildArchiveIndex(ctx, ra, size, c.budget, nil)
	if err == nil {
		c.store(key, idx)
	}
	return idx, err
}

func (c *archiveIndexCache) finishBuild(key string, b *indexBuild) {
	if b.err == nil {
		c.store(key, b.idx)
	}
	c.mu.Lock()
	delete(c.building, key)
	c.mu.Unlock()
	close(b.done)
}

// findEntry finds the entry named name as findZipEntryByWalk does, through
// the index when there is one. Without one it walks to the entry as
// before, then builds the index in the background while the entry is
// served, so that a cold lookup is answered as fast as before; wait, which
// the caller must call before it closes ra, lets the build finish. Requests arriving while a build runs
// walk on their own, as before.
func (c *archiveIndexCache) findEntry(ctx context.Context, key string, ra io.ReaderAt, size int64, name string) (entry *ziparchive.Entry, wait func(), err error) {
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
	if c.building[key] != nil {
		c.mu.Unlock()
		e, err := findZipEntryByWalk(ctx, ra, size, name)
		return e, noWait, err
	}
	b := &indexBuild{done: make(chan struct{})}
	c.building[key] = b
	c.mu.Unlock()

	// This request walks to its entry as before, then builds the index
	// while the entry is being served: the answer never waits for the
	// build, nor shares the CPU with it.
	e, err := findZipEntryByWalk(ctx, ra, size, name)
	go func() {
		b.idx, b.err = buildArchiveIndex(ctx, ra, size, c.budget, nil)
		c.finishBuild(key, b)
	}()
	return e, func() { <-b.done }, err
}

// indexedEntry looks name up in idx.
func indexedEntry(idx *archiveIndex, name string) (*ziparchive.Entry, func(), error) {
	i := idx.find(name)
	if i < 0 {
		return nil, func() {}, fmt.Errorf("%w: no entry %q in archive", ErrNotFound, name)
	}
	return idx.entry(i), func() {}, nil
}

// buildArchiveIndex walks the whole central directory once, calling visit
// (if any) with each record, and returns its index: nil when the index
// would take more than limit bytes. The walk's errors are
// walkCentralDirectory's.
func buildArchiveIndex(ctx context.Context, ra io.ReaderAt, size int64, limit int64, visit func(*ziparchive.Record)) (*archiveIndex, error) {
	var b *indexBuilder
	err := walkCentralDirectoryDir(ctx, ra, size, func(dir ziparchive.Directory) {
		b = newIndexBuilder(dir, limit)
	}, func(rec *ziparchive.Record) (bool, error) {
		if visit != nil {
			visit(rec)
		}
		b.add(rec)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return b.finish(), nil
}
