package ziparchive

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// TestIndexFindMatchesWalk: every name found through the index is the
// entry a walk finds (the first of equal names); a missing one is -1; an
// index over its limit is nil.
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
		require.Equal(t, want, idx.Entry(i), e.Name)
		require.Equal(t, e.Name, string(idx.Name(i)))
	}
	require.Equal(t, -1, idx.Find("missing"))
	require.Positive(t, idx.Cost())

	over, err := BuildIndex(context.Background(), a, idx.Cost()/2, nil)
	require.NoError(t, err)
	require.Nil(t, over)
}
