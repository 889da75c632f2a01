package fsstore

import (
	"bytes"
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// heldCloses replaces closeHeldFile for one test: every close of a held
// descriptor is reported on closing, then waits until release is closed.
type heldCloses struct {
	closing chan *os.File
	release chan struct{}
	once    sync.Once
}

// releaseAll lets every held close, and the ones after, go on.
func (h *heldCloses) releaseAll() { h.once.Do(func() { close(h.release) }) }

func holdCloses(t *testing.T) *heldCloses {
	h := &heldCloses{closing: make(chan *os.File, 64), release: make(chan struct{})}
	orig := closeHeldFile
	closeHeldFile = func(f *os.File) error {
		h.closing <- f
		<-h.release
		return orig(f)
	}
	t.Cleanup(func() {
		h.releaseAll()
		closeHeldFile = orig
	})
	return h
}

func setBackgroundFreeMinSize(t *testing.T, n int64) {
	orig := backgroundFreeMinSize
	backgroundFreeMinSize = n
	t.Cleanup(func() { backgroundFreeMinSize = orig })
}

// TestDeleteBlobFreesInBackground: DeleteBlob of a large blob returns with
// the key gone while a descriptor of the unlinked file, which holds its
// blocks, is still open; that one is closed afterwards, and Close waits
// for it.
func TestDeleteBlobFreesInBackground(t *testing.T) {
	ctx := context.Background()
	held := holdCloses(t)
	s, err := Open(t.TempDir(), WithoutFsync())
	require.NoError(t, err)
	big := bytes.Repeat([]byte("blob"), int(backgroundFreeMinSize)/4)
	_, err = s.PutBlob(ctx, "big", bytes.NewReader(big))
	require.NoError(t, err)
	openAndClose(t, s, "big", big) // and an idle file too

	require.NoError(t, s.DeleteBlob(ctx, "big"))
	var f *os.File
	select {
	case f = <-held.closing:
	case <-time.After(10 * time.Second):
		t.Fatal("no descriptor of the deleted blob was handed over to be closed")
	}
	_, err = s.OpenBlob(ctx, "big")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound, "the key is gone at once")
	require.NoFileExists(t, s.blobFile("big"))
	require.Zero(t, s.blobFiles.idle())
	var st syscall.Stat_t
	require.NoError(t, syscall.Fstat(int(f.Fd()), &st))
	require.Zero(t, st.Nlink, "the held descriptor is the unlinked file's")
	require.EqualValues(t, len(big), st.Size)

	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) before the deleted blob's space was freed", err)
	case <-time.After(50 * time.Millisecond):
	}
	held.releaseAll()
	require.NoError(t, <-closed)
	require.True(t, isClosed(f))
}

// TestDeleteBlobFreesSmallBlobsInCaller: a blob under
// backgroundFreeMinSize is freed by the unlink itself; no descriptor is
// held for it.
func TestDeleteBlobFreesSmallBlobsInCaller(t *testing.T) {
	ctx := context.Background()
	held := holdCloses(t)
	s := openTestStore(t, t.TempDir(), WithoutFsync())
	_, err := s.PutBlob(ctx, "small", bytes.NewReader([]byte("small")))
	require.NoError(t, err)
	require.NoError(t, s.DeleteBlob(ctx, "small"))
	require.NoFileExists(t, s.blobFile("small"))
	require.Empty(t, held.closing)
}

// TestDeleteBlobFreesInCallerPastBound: with maxBackgroundFrees under way,
// the next DeleteBlob frees its blob before it returns, rather than hold
// one more descriptor.
func TestDeleteBlobFreesInCallerPastBound(t *testing.T) {
	ctx := context.Background()
	setBackgroundFreeMinSize(t, 1)
	held := holdCloses(t)
	s := openTestStore(t, t.TempDir(), WithoutFsync())
	keys := make([]jobartifacts.BlobKey, maxBackgroundFrees+1)
	for i := range keys {
		keys[i] = jobartifacts.BlobKey("projects/1/jobs/1/archive-" + string(rune('a'+i)))
		_, err := s.PutBlob(ctx, keys[i], bytes.NewReader([]byte(keys[i])))
		require.NoError(t, err)
	}
	for _, key := range keys[:maxBackgroundFrees] {
		require.NoError(t, s.DeleteBlob(ctx, key))
		<-held.closing
	}
	last := make(chan error)
	go func() { last <- s.DeleteBlob(ctx, keys[maxBackgroundFrees]) }()
	<-held.closing // this close runs in DeleteBlob itself: it has not returned
	select {
	case err := <-last:
		t.Fatalf("DeleteBlob returned (%v) before freeing past the bound", err)
	default:
	}
	held.releaseAll()
	require.NoError(t, <-last)
	s.frees.wait()
}

// TestDeleteBlobRestoresReserveAfterFree: the reserve given back to a full
// file system is made again once the deleted blob's space is freed, not
// before.
func TestDeleteBlobRestoresReserveAfterFree(t *testing.T) {
	ctx := context.Background()
	setBackgroundFreeMinSize(t, 1)
	held := holdCloses(t)
	s := openTestStore(t, t.TempDir(), WithoutFsync())
	_, err := s.PutBlob(ctx, "k", bytes.NewReader([]byte("k")))
	require.NoError(t, err)
	require.True(t, s.releaseReserve())

	require.NoError(t, s.DeleteBlob(ctx, "k"))
	<-held.closing
	require.NoFileExists(t, s.reserveFile(), "made again before the space was freed")
	held.releaseAll()
	s.frees.wait()
	fi, err := os.Stat(s.reserveFile())
	require.NoError(t, err)
	require.EqualValues(t, DefaultSpaceReserve, fi.Size())
}
