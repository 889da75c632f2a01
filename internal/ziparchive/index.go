package ziparchive

import (
	"bytes"
	"context"
	"hash/maphash"
	"math"
	"slices"
)

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
	// localLen is the local header's length once read (Entry.localLen),
	// accessed atomically; it fills what was padding.
	localLen uint32
}

// Per-entry costs of an index, for the budget.
const (
	indexedRecordCost = 40 // indexedRecord
	indexNameEndCost  = 4  // nameEnd
	indexTableCost    = 10 // up to two hash slots of 5 bytes per entry
	indexFixedCost    = 512
)

// Index is the central directory of one archive, read once and kept
// compact: every name in one byte slice, the fields needed to open an
// entry in a packed slice, a hash table for exact name lookups. It is
// immutable once built, safe for concurrent use.
type Index struct {
	names   []byte
	nameEnd []uint32 // entry i's name is names[nameEnd[i-1]:nameEnd[i]]
	recs    []indexedRecord
	table   []uint32 // open addressing: entry index + 1, 0 when empty
	tags    []uint8  // a byte of each slot's name hash, to skip most compares
	seed    maphash.Seed
}

// Len is the number of entries.
func (x *Index) Len() int { return len(x.recs) }

// Name is entry i's name; the caller must not change it.
func (x *Index) Name(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = x.nameEnd[i-1]
	}
	return x.names[start:x.nameEnd[i]]
}

// Cost is the index's size in bytes.
func (x *Index) Cost() int64 {
	return int64(cap(x.names)) + int64(cap(x.nameEnd))*indexNameEndCost +
		int64(cap(x.recs))*indexedRecordCost + int64(cap(x.table))*5 + indexFixedCost
}

// Entry returns entry i as Find would have given it.
func (x *Index) Entry(i int) *Entry {
	return x.entry(i, string(x.Name(i)))
}

// Lookup is Entry(Find(name)), nil when no entry is named name. The
// entry's Name is name itself (the same bytes), not one more copy.
func (x *Index) Lookup(name string) *Entry {
	i := x.Find(name)
	if i < 0 {
		return nil
	}
	return x.entry(i, name)
}

func (x *Index) entry(i int, name string) *Entry {
	r := x.recs[i]
	return &Entry{
		Name:             name,
		Flags:            r.flags,
		Method:           r.method,
		CRC32:            r.crc32,
		CompressedSize:   r.compressedSize,
		UncompressedSize: r.uncompressedSize,
		ExternalAttrs:    r.externalAttrs,
		HeaderOffset:     r.headerOffset,
		localLen:         &x.recs[i].localLen,
	}
}

// ExternalAttrs is entry i's external attributes (its Unix mode, when the
// high 16 bits are set).
func (x *Index) ExternalAttrs(i int) uint32 { return x.recs[i].externalAttrs }

// UncompressedSize is entry i's declared size.
func (x *Index) UncompressedSize(i int) uint64 { return x.recs[i].uncompressedSize }

// Find returns the number of the first entry (in central-directory order)
// named name, or -1.
func (x *Index) Find(name string) int {
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
		if x.tags[slot] == tag && string(x.Name(int(v-1))) == name {
			return int(v - 1)
		}
	}
}

// buildTable fills the hash table; of several entries with one name only
// the first is entered, so that it wins as in a walk.
func (x *Index) buildTable() {
	size := 1
	for size < len(x.recs)+len(x.recs)/2+1 { // a load of at most 2/3
		size <<= 1
	}
	x.table = make([]uint32, size)
	x.tags = make([]uint8, size)
	x.seed = maphash.MakeSeed()
	mask := uint64(size - 1)
	for i := range x.recs {
		name := x.Name(i)
		h := maphash.Bytes(x.seed, name)
		tag := uint8(h >> 56)
		for slot := h & mask; ; slot = (slot + 1) & mask {
			v := x.table[slot]
			if v == 0 {
				x.table[slot], x.tags[slot] = uint32(i+1), tag
				break
			}
			if x.tags[slot] == tag && bytes.Equal(x.Name(int(v-1)), name) {
				break // a later duplicate
			}
		}
	}
}

// indexBuilder collects records during a walk until they would exceed limit
// bytes; then it drops what it has and only counts on.
type indexBuilder struct {
	x        *Index
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

func newIndexBuilder(dir Directory, limit int64) *indexBuilder {
	b := &indexBuilder{x: &Index{}, limit: limit, fixedPer: indexedRecordCost + indexNameEndCost + indexTableCost,
		dirBytes: dir.End - dir.Start}
	if n := dir.Records; n <= uint64(b.dirBytes/CentralHeaderLen) {
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
	// An archive whose first names predict an index well over the limit is
	// taken as too big now, not after filling the limit: its build would
	// cost the limit in memory and most of a walk for nothing. (A wrong
	// guess only leaves one archive unindexed: it is then walked.)
	if float64(b.declared)*(float64(b.fixedPer)+avg) > 1.25*float64(b.limit) {
		b.over, b.x = true, nil
		return
	}
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

func (b *indexBuilder) add(rec *Record) {
	if b.over {
		return
	}
	x := b.x
	n := int64(len(x.recs) + 1)
	if int64(len(x.names)+len(rec.Name))+n*b.fixedPer+indexFixedCost > b.limit ||
		int64(len(x.names)+len(rec.Name)) > math.MaxUint32 || n > math.MaxUint32-1 {
		b.over = true
		b.x = nil
		return
	}
	if !b.reserved && len(x.recs) == cap(x.recs) {
		if b.reserve(); b.over {
			return
		}
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
func (b *indexBuilder) finish() *Index {
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

// BuildIndex walks the whole central directory of a once, calling visit
// (if any) with each record, and returns its Index: nil when the index
// would take more than limit bytes, known as soon as the first records
// predict it or the limit is reached (the walk then stops: visit does not
// see every record of an archive too big). Its errors are Archive.Walk's.
func BuildIndex(ctx context.Context, a *Archive, limit int64, visit func(*Record)) (*Index, error) {
	var b *indexBuilder
	err := a.Walk(ctx, func(dir Directory) {
		b = newIndexBuilder(dir, limit)
	}, func(rec *Record) (bool, error) {
		if visit != nil {
			visit(rec)
		}
		b.add(rec)
		// Once over, the rest of the walk would build nothing.
		return b.over, nil
	})
	if err != nil {
		return nil, err
	}
	return b.finish(), nil
}
