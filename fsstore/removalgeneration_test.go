package fsstore

import (
	"context"
	"os"
	"path/filepath"
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

// TestIdleBlobFileWithoutRemovals: an idle file is taken without a
// stat(2) while no blob file has been removed from its path by any Store
// on the directory (the removal generation is unchanged); after a
// removal, by another Store, of another key, one stat finds the file still
// at its path, and the next open needs none again; after the removal of
// its own key, the key is not found.
func TestIdleBlobFileWithoutRemovals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openTestStore(t, dir, WithoutFsync())
	_, ok := a.removals.load()
	require.True(t, ok, "a new store has a removal generation")
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

// TestIdleBlobFileWithoutGeneration: with no removal generation (one that
// could not be written on a full file system is removed), every idle file
// is checked with stat(2) until a removal writes one, and a blob another
// Store deletes is not served.
func TestIdleBlobFileWithoutGeneration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openTestStore(t, dir, WithoutFsync())
	b := openTestStore(t, dir, WithoutFsync())
	stats := countStats(t)
	for _, key := range []jobartifacts.BlobKey{"k", "other"} {
		_, err := a.PutBlob(ctx, key, strings.NewReader("bytes"))
		require.NoError(t, err)
	}
	require.NoError(t, os.Truncate(filepath.Join(dir, "removals"), 0))
	_, ok := a.removals.load()
	require.False(t, ok, "no generation")
	openAndClose(t, a, "k", []byte("bytes"))
	openAndClose(t, a, "k", []byte("bytes"))
	openAndClose(t, a, "k", []byte("bytes"))
	require.EqualValues(t, 2, stats.Load(), "a stat for every idle file taken")

	require.NoError(t, b.DeleteBlob(ctx, "other")) // writes a generation
	_, ok = a.removals.load()
	require.True(t, ok, "a removal writes a generation")
	openAndClose(t, a, "k", []byte("bytes"))
	openAndClose(t, a, "k", []byte("bytes"))
	require.EqualValues(t, 3, stats.Load(), "one stat, then none")
	require.NoError(t, b.DeleteBlob(ctx, "k"))
	_, err := a.OpenBlob(ctx, "k")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

// TestRemovalGenerationShared: a removal through one Store's generation
// file is seen by another's at once, whatever the removal returned; an
// emptied file has no generation; a closed one removes nothing.
func TestRemovalGenerationShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "removals")
	a, err := openRemovalGeneration(path)
	require.NoError(t, err)
	b, err := openRemovalGeneration(path)
	require.NoError(t, err)
	defer b.close()
	first, ok := a.load()
	require.True(t, ok, "a new file gets a generation")
	again, _ := b.load()
	require.Equal(t, first, again, "the second Open keeps it")

	removed := 0
	require.NoError(t, a.remove(func() error { removed++; return nil }))
	second, ok := b.load()
	require.True(t, ok)
	require.NotEqual(t, first, second, "a removal through a is seen by b")
	require.ErrorIs(t, b.remove(func() error { removed++; return os.ErrNotExist }), os.ErrNotExist, "rm's error, a new generation all the same")
	third, _ := a.load()
	require.NotEqual(t, second, third)
	require.Equal(t, 2, removed)

	// A generation that cannot be written is removed (newGeneration
	// empties the file): none to trust.
	require.NoError(t, b.w.Truncate(0))
	_, ok = a.load()
	require.False(t, ok, "emptied: none")

	require.NoError(t, a.close())
	_, ok = a.load()
	require.False(t, ok, "closed: none")
	require.ErrorIs(t, a.remove(func() error { t.Fatal("removed after close"); return nil }), ErrClosed)
}

// TestIdleBlobFileRemovedByAnotherProcess: a blob deleted by another
// process is not served from this one's idle file, whose stat the removal
// generation skips until then; another key's idle file is still served.
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

// TestIdleBlobFileRemoverDies: a process that dies between a blob's unlink
// and the removal generation after it has written the one before it, so
// the blob is not served from this process's idle file.
func TestIdleBlobFileRemoverDies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestStore(t, dir, WithoutFsync())
	_, err := s.PutBlob(ctx, "gone", strings.NewReader("gone bytes"))
	require.NoError(t, err)
	openAndClose(t, s, "gone", []byte("gone bytes"))
	openAndClose(t, s, "gone", []byte("gone bytes"))
	reports := runChildren(t, "delete-blob-dies", dir, 1, helperKeyEnv+"=gone")
	require.Equal(t, [][]string{{"unlinked gone"}}, reports)
	_, err = os.Lstat(s.blobFile("gone"))
	require.ErrorIs(t, err, os.ErrNotExist, "the child unlinked the file")
	_, err = s.OpenBlob(ctx, "gone")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

// TestDeleteBlobAfterCloseRemovesNothing: a delete after Close removes
// nothing (ErrClosed), neither through the Store nor through its removal
// generation.
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
