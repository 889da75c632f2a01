package fsstore

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeleteBlobSpaceFreedAfterReturn measures the file system: a large
// blob's space is still taken when DeleteBlob returns (a descriptor holds
// it) and comes back once the background close has run.
func TestDeleteBlobSpaceFreedAfterReturn(t *testing.T) {
	ctx := context.Background()
	held := holdCloses(t)
	mnt := mountTmpfs(t, "32m")
	s := openTestStore(t, filepath.Join(mnt, "store"), WithoutFsync())
	size := int(2 * backgroundFreeMinSize)
	_, err := s.PutBlob(ctx, "big", bytes.NewReader(bytes.Repeat([]byte{'b'}, size)))
	require.NoError(t, err)
	before := freeBytes(t, mnt)

	require.NoError(t, s.DeleteBlob(ctx, "big"))
	<-held.closing
	require.Less(t, freeBytes(t, mnt), before+uint64(size)/2, "the held descriptor keeps the blocks")
	held.releaseAll()
	s.frees.wait()
	require.GreaterOrEqual(t, freeBytes(t, mnt), before+uint64(size), "the blocks are free")
}
