//go:build linux

package fsstore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRemovalCounterShared: two counters on one file (two Stores, or two
// processes: one page cache) see each other's adds at once; a file
// truncated behind their back counts nothing, without killing the process,
// and its adds are dropped; a counter closed removes nothing.
func TestRemovalCounterShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "removals")
	a, err := openRemovalCounter(path)
	require.NoError(t, err)
	b, err := openRemovalCounter(path)
	require.NoError(t, err)
	defer b.close()
	n, ok := a.load()
	require.True(t, ok, "mapped")
	require.Zero(t, n)
	removed := 0
	require.NoError(t, a.remove(func() error { removed++; return nil }))
	require.ErrorIs(t, b.remove(func() error { removed++; return os.ErrNotExist }), os.ErrNotExist, "rm's error, counted all the same")
	require.Equal(t, 2, removed)
	for _, c := range []*removalCounter{a, b} {
		n, ok := c.load()
		require.True(t, ok)
		require.EqualValues(t, 2, n, "both adds seen by both")
	}
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.EqualValues(t, 8, fi.Size())

	require.NoError(t, os.Truncate(path, 0))
	_, ok = a.load()
	require.False(t, ok, "truncated: no count (the fault is recovered)")
	require.NoError(t, a.remove(func() error { return nil }), "the add is dropped, not a crash")

	require.NoError(t, a.close())
	_, ok = a.load()
	require.False(t, ok, "closed: no count")
	require.ErrorIs(t, a.remove(func() error { t.Fatal("removed after close"); return nil }), ErrClosed)
}
