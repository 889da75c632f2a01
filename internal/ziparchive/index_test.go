package ziparchive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// TestIndexFindMatchesWalk: every name found through the index (Find and
// Entry, or Lookup) is the entry a walk finds (the first of equal names); a
// missing one is -1 (nil); an index over its limit is nil.
func TestIndexFindMatchesWalk(t *testing.T) {
	entries := []ziptest.Entry{ziptest.Stored("dup.txt", "first"), ziptest.Stored("dup.txt", "second"), {Name: "dir/"}}
	for i := range 3000 {
		entries = append(entries, ziptest.Stored(fmt.Sprintf("d%02d/f%05d.txt", i%37, i), "x"))
	}
	archive := ziptest.Build(t, entries...)
	a := NewArchive(bytes.NewReader(archive), int64(len(archive)))
	var visited int
	idx, err := BuildIndex(context.Background(), a, 1<<30, func(*Record) { visited++ })
	require.NoError(t, err)
	require.Equal(t, len(entries), idx.Len())
	require.Equal(t, len(entries), visited)
	for _, e := range entries {
		want, err := a.Find(context.Background(), e.Name)
		require.NoError(t, err)
		i := idx.Find(e.Name)
		require.GreaterOrEqual(t, i, 0, e.Name)
		got := idx.Entry(i)
		require.NotNil(t, got.localLen)
		looked := idx.Lookup(e.Name)
		require.Same(t, got.localLen, looked.localLen)
		got.localLen, looked.localLen = nil, nil
		require.Equal(t, want, got, e.Name)
		require.Equal(t, want, looked, e.Name)
		require.Equal(t, e.Name, string(idx.Name(i)))
	}
	require.Equal(t, -1, idx.Find("missing"))
	require.Nil(t, idx.Lookup("missing"))
	require.Positive(t, idx.Cost())

	over, err := BuildIndex(context.Background(), a, idx.Cost()/2, nil)
	require.NoError(t, err)
	require.Nil(t, over)
}

// headerReads counts the reads that start at one offset.
type headerReads struct {
	ra    *bytes.Reader
	at    int64
	count int
}

func (h *headerReads) ReadAt(p []byte, off int64) (int, error) {
	if off == h.at {
		h.count++
	}
	return h.ra.ReadAt(p, off)
}

// TestIndexKeepsLocalHeaderLength: an entry from an Index has its local
// header read by the first EntryReader only (and the same data read by
// all); a bad local header is never kept, so it fails every time.
func TestIndexKeepsLocalHeaderLength(t *testing.T) {
	ctx := context.Background()
	archive := ziptest.Build(t, ziptest.Stored("a.txt", "alpha"), ziptest.Stored("b.txt", "bravo"))
	a := NewArchive(bytes.NewReader(archive), int64(len(archive)))
	idx, err := BuildIndex(ctx, a, 1<<20, nil)
	require.NoError(t, err)
	e := idx.Entry(idx.Find("b.txt"))
	reads := &headerReads{ra: bytes.NewReader(archive), at: e.HeaderOffset}
	counted := NewArchive(reads, int64(len(archive)))
	for range 3 {
		er, err := counted.NewEntryReader(ctx, idx.Entry(idx.Find("b.txt")), nil, nil)
		require.NoError(t, err)
		data, err := io.ReadAll(er)
		require.NoError(t, err)
		require.Equal(t, "bravo", string(data))
		require.NoError(t, er.Close())
	}
	require.Equal(t, 1, reads.count)

	bad := bytes.Clone(archive)
	bad[e.HeaderOffset] = 'X' // the local header's signature
	badIdx, err := BuildIndex(ctx, NewArchive(bytes.NewReader(bad), int64(len(bad))), 1<<20, nil)
	require.NoError(t, err)
	for range 2 {
		_, err := NewArchive(bytes.NewReader(bad), int64(len(bad))).NewEntryReader(ctx, badIdx.Entry(badIdx.Find("b.txt")), nil, nil)
		require.ErrorIs(t, err, ErrFormat)
	}
}
