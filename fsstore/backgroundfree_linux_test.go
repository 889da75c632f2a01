package fsstore

import (
	"bytes"
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// TestDeleteBlobSpaceFreedAfterReturn measures the file system: a large
// blob's space is still taken when DeleteBlob returns (a descriptor holds
// it) and comes back once the background close has run.
func TestDeleteBlobSpaceFreedAfterReturn(t *testing.T) {
	ctx := context.Background()
	mnt := mountTmpfs(t, "32m")
	s := openTestStore(t, filepath.Join(mnt, "store"), WithoutFsync())
	held := holdCloses(t) // after the store: its cleanup releases before Close waits
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

// TestPutBlobWaitsForFreesOnFullDisk: a PutBlob that finds the file system
// full while a deleted blob's blocks are still being freed waits for the
// free and stores its bytes, where it would otherwise fail with ENOSPC;
// with no free under way it fails at once, as before.
func TestPutBlobWaitsForFreesOnFullDisk(t *testing.T) {
	ctx := context.Background()
	mnt := mountTmpfs(t, "32m")
	s := openTestStore(t, filepath.Join(mnt, "store"), WithoutFsync(), WithSpaceReserve(0))
	held := holdCloses(t) // after the store: its cleanup releases before Close waits
	size := int(3 * backgroundFreeMinSize)
	_, err := s.PutBlob(ctx, "old", bytes.NewReader(bytes.Repeat([]byte{'o'}, size)))
	require.NoError(t, err)
	fillUp(t, filepath.Join(mnt, "filler"))

	require.NoError(t, s.DeleteBlob(ctx, "old"))
	<-held.closing // the old blob's blocks are still taken
	want := bytes.Repeat([]byte{'n'}, size)
	done := make(chan error, 1)
	go func() {
		_, err := s.PutBlob(ctx, "new", bytes.NewReader(want))
		done <- err
	}()
	require.Eventually(t, func() bool {
		s.frees.mu.Lock()
		defer s.frees.mu.Unlock()
		return s.frees.waits == 1
	}, 10*time.Second, time.Millisecond, "PutBlob waits for the free once the disk is full")
	select {
	case err := <-done:
		t.Fatalf("PutBlob returned (%v) while the free it waits for is held", err)
	default:
	}
	held.releaseAll()
	require.NoError(t, <-done)
	got, _ := readBlob(t, s, "new")
	require.True(t, bytes.Equal(want, got), "the new blob holds its bytes")

	// Full again with nothing being freed: ENOSPC at once, no wait.
	fillUp(t, filepath.Join(mnt, "filler2"))
	_, err = s.PutBlob(ctx, "more", bytes.NewReader(want))
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.Equal(t, 1, s.frees.waits)
	_, err = s.OpenBlob(ctx, "more")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}
