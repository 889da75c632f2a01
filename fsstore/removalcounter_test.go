package fsstore

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// countStats counts the stat(2) calls that check idle blob files, for one
// test.
func countStats(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	orig := statBlobPath
	statBlobPath = func(path string) (fileID, error) {
		n.Add(1)
		return orig(path)
	}
	t.Cleanup(func() { statBlobPath = orig })
	return &n
}

// TestIdleBlobFileWithoutRemovals: where the removal counter is mapped
// (Linux), an idle file is taken without a stat(2) while no blob file has
// been removed from its path by any Store on the directory; after a
// removal, by another Store, of another key, one stat finds the file still
// at its path, and the next open needs none again; after the removal of
// its own key, the key is not found.
func TestIdleBlobFileWithoutRemovals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openTestStore(t, dir, WithoutFsync())
	if _, ok := a.removals.load(); !ok {
		t.Skip("the removal counter is not mapped here: every idle file is checked with stat(2) (TestIdleBlobFileUncounted)")
	}
	b := openTestStore(t, dir, WithoutFsync())
	stats := countStats(t)
	for _, key := range []string{"kept", "other", "again"} {
		_, err := a.PutBlob(ctx, jobartifacts.BlobKey(key), strings.NewReader(key+" bytes"))
		require.NoError(t, err)
	}
	openAndClose(t, a, "kept", []byte("kept bytes"))
	openAndClose(t, a, "kept", []byte("kept bytes"))
	openAndClose(t, a, "kept", []byte("kept bytes"))
	require.Zero(t, stats.Load(), "nothing removed: the idle file is taken without a stat")

	require.NoError(t, b.DeleteBlob(ctx, "other"))
	openAndClose(t, a, "kept", []byte("kept bytes"))
	require.EqualValues(t, 1, stats.Load(), "a removal elsewhere: one stat")
	openAndClose(t, a, "kept", []byte("kept bytes"))
	require.EqualValues(t, 1, stats.Load(), "and none after it")

	require.NoError(t, b.DeleteBlob(ctx, "kept"))
	_, err := a.OpenBlob(ctx, "kept")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound, "deleted by the other Store: not served from the idle file")

	// Deleted and put again: the new bytes, not the idle file's.
	openAndClose(t, a, "again", []byte("again bytes"))
	require.NoError(t, b.DeleteBlob(ctx, "again"))
	_, err = b.PutBlob(ctx, "again", strings.NewReader("new bytes"))
	require.NoError(t, err)
	openAndClose(t, a, "again", []byte("new bytes"))
}

// TestIdleBlobFileUncounted: without a mapped counter (other systems, or a
// file system that refuses the mapping), every idle file is checked with
// stat(2), and a blob another Store deletes is not served.
func TestIdleBlobFileUncounted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openTestStore(t, dir, WithoutFsync())
	b := openTestStore(t, dir, WithoutFsync())
	unmapCounter(a.removals.mapped)
	a.removals.mapped = nil
	stats := countStats(t)
	_, err := a.PutBlob(ctx, "k", strings.NewReader("k bytes"))
	require.NoError(t, err)
	openAndClose(t, a, "k", []byte("k bytes"))
	openAndClose(t, a, "k", []byte("k bytes"))
	openAndClose(t, a, "k", []byte("k bytes"))
	require.EqualValues(t, 2, stats.Load(), "a stat for every idle file taken")
	require.NoError(t, b.DeleteBlob(ctx, "k"))
	_, err = a.OpenBlob(ctx, "k")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

// TestIdleBlobFileRemovedByAnotherProcess: a blob deleted by another
// process is not served from this one's idle file, whose check the removal
// counter skips until then; another key's idle file is still served.
func TestIdleBlobFileRemovedByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestStore(t, dir, WithoutFsync())
	for _, key := range []string{"gone", "stays"} {
		_, err := s.PutBlob(ctx, jobartifacts.BlobKey(key), strings.NewReader(key+" bytes"))
		require.NoError(t, err)
		openAndClose(t, s, jobartifacts.BlobKey(key), []byte(key+" bytes"))
		openAndClose(t, s, jobartifacts.BlobKey(key), []byte(key+" bytes"))
	}
	reports := runChildren(t, "delete-blob", dir, 1, helperKeyEnv+"=gone")
	require.Equal(t, [][]string{{"deleted gone"}}, reports)
	_, err := s.OpenBlob(ctx, "gone")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	openAndClose(t, s, "stays", []byte("stays bytes"))
}

// TestDeleteBlobAfterCloseRemovesNothing: a Store closed while it deletes
// counts the removal before its counter closes, and a delete after Close
// removes nothing (ErrClosed).
func TestDeleteBlobAfterCloseRemovesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, WithoutFsync())
	require.NoError(t, err)
	_, err = s.PutBlob(ctx, "k", strings.NewReader("k bytes"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.DeleteBlob(ctx, "k"), ErrClosed)
	require.ErrorIs(t, s.removals.remove(func() error { t.Fatal("removed after close"); return nil }), ErrClosed)
	other := openTestStore(t, dir)
	openAndClose(t, other, "k", []byte("k bytes"))
}
