package fsstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// openedFile returns the blobFile behind an fsstore Blob.
func openedFile(t *testing.T, b jobartifacts.Blob) *blobFile {
	t.Helper()
	fb, ok := b.(*fileBlob)
	require.True(t, ok)
	return fb.bf
}

// isClosed tells whether the Store closed f (os.File refuses every call
// once closed, whatever became of the descriptor number).
func isClosed(f *os.File) bool {
	_, err := f.Stat()
	return err != nil && errors.Is(err, fs.ErrClosed)
}

// openAndClose opens key, checks its bytes and closes it, leaving its file
// idle; it returns that file.
func openAndClose(t *testing.T, s *Store, key jobartifacts.BlobKey, want []byte) *blobFile {
	t.Helper()
	b, err := s.OpenBlob(context.Background(), key)
	require.NoError(t, err)
	got, err := io.ReadAll(io.NewSectionReader(b, 0, b.Info().Size))
	require.NoError(t, err)
	require.Equal(t, want, got)
	bf := openedFile(t, b)
	require.NoError(t, b.Close())
	return bf
}

// TestIdleBlobFileReused: a closed Blob's file serves the next OpenBlob of
// its key, with its offset back at 0 after File was used, and a closed
// Blob reads nothing through the file it gave back.
func TestIdleBlobFileReused(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), WithoutFsync())
	data := []byte("the archive's bytes")
	info, err := s.PutBlob(ctx, "a/blob", bytes.NewReader(data))
	require.NoError(t, err)

	b, err := s.OpenBlob(ctx, "a/blob")
	require.NoError(t, err)
	f := b.(jobartifacts.FileBlob).File()
	_, err = io.ReadAll(f) // moves the offset to the end
	require.NoError(t, err)
	rr, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Close(), fs.ErrClosed)
	_, err = b.ReadAt(make([]byte, 1), 0)
	require.ErrorIs(t, err, fs.ErrClosed, "a closed Blob's file may serve another Blob")
	_, err = rr.Read(make([]byte, 1))
	require.ErrorIs(t, err, fs.ErrClosed)

	b2, err := s.OpenBlob(ctx, "a/blob")
	require.NoError(t, err)
	defer b2.Close()
	require.Same(t, f, b2.(jobartifacts.FileBlob).File(), "the idle file is taken")
	require.Equal(t, info, b2.Info())
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	require.Equal(t, data, got, "the offset is back at 0")

	b3, err := s.OpenBlob(ctx, "a/blob")
	require.NoError(t, err)
	defer b3.Close()
	require.NotSame(t, f, b3.(jobartifacts.FileBlob).File(), "an idle file serves one Blob at a time")
}

// TestIdleBlobFileNotServedAfterDelete: a blob deleted by another Store on
// the directory (another process, a sweeper) is not found, however its file
// is linked elsewhere; put again, its new bytes are served. A Blob opened
// before the delete keeps reading the old bytes.
func TestIdleBlobFileNotServedAfterDelete(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reader := openTestStore(t, dir, WithoutFsync())
	other := openTestStore(t, dir, WithoutFsync())
	const key = "projects/1/jobs/100/archive"
	old := []byte("old bytes")
	_, err := other.PutBlob(ctx, key, bytes.NewReader(old))
	require.NoError(t, err)
	openAndClose(t, reader, key, old)
	held, err := reader.OpenBlob(ctx, key) // takes the idle file
	require.NoError(t, err)
	defer held.Close()
	stale := openAndClose(t, reader, key, old) // a second file, idle
	require.Equal(t, 1, reader.blobFiles.idle())

	// A hard link (a backup, say) keeps the file's link count above 0
	// after the delete: the stat of the key's path must decide.
	require.NoError(t, os.Link(reader.blobFile(key), filepath.Join(dir, "backup")))
	require.NoError(t, other.DeleteBlob(ctx, key))
	_, err = reader.OpenBlob(ctx, key)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	require.True(t, isClosed(stale.f), "the stale idle file is closed")
	require.Zero(t, reader.blobFiles.idle())

	got := make([]byte, len(old))
	_, err = held.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, old, got, "a Blob opened before the delete keeps its bytes")
	require.NoError(t, held.Close()) // idle again, stale
	require.Equal(t, 1, reader.blobFiles.idle())

	// Same size and modification time, another file.
	renewed := []byte("new bytes")
	ts := time.Unix(1_700_000_000, 0)
	for _, s := range []*Store{reader, other} {
		s.now = func() time.Time { return ts }
	}
	_, err = other.PutBlob(ctx, key, bytes.NewReader(renewed))
	require.NoError(t, err)
	openAndClose(t, reader, key, renewed)
	require.NoError(t, other.DeleteBlob(ctx, key))
	_, err = other.PutBlob(ctx, key, bytes.NewReader(old))
	require.NoError(t, err)
	bf := openAndClose(t, reader, key, old)
	again, err := reader.OpenBlob(ctx, key)
	require.NoError(t, err)
	defer again.Close()
	require.Same(t, bf, openedFile(t, again), "the file that the key names is taken")
	sum := sha256.Sum256(old)
	require.Equal(t, etag(sum[:]), again.Info().ETag)
}

// TestDeleteBlobClosesIdleFiles: DeleteBlob closes the Store's idle files
// of the blob at once, so that its disk space is freed.
func TestDeleteBlobClosesIdleFiles(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), WithoutFsync())
	_, err := s.PutBlob(ctx, "k", bytes.NewReader([]byte("x")))
	require.NoError(t, err)
	bf := openAndClose(t, s, "k", []byte("x"))
	require.NoError(t, s.DeleteBlob(ctx, "k"))
	require.True(t, isClosed(bf.f))
	require.Zero(t, s.blobFiles.idle())
}

// TestDeleteBlobWhileOpen: a Blob open while its Store deletes its key
// closes its file at Close rather than keep a deleted blob's disk space
// idle; a Blob of another key, open meanwhile, is closed too (the Store
// does not tell which key went), and the next opens keep theirs again.
func TestDeleteBlobWhileOpen(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), WithoutFsync())
	for _, key := range []jobartifacts.BlobKey{"gone", "other"} {
		_, err := s.PutBlob(ctx, key, bytes.NewReader([]byte(key)))
		require.NoError(t, err)
	}
	gone, err := s.OpenBlob(ctx, "gone")
	require.NoError(t, err)
	other, err := s.OpenBlob(ctx, "other")
	require.NoError(t, err)
	require.NoError(t, s.DeleteBlob(ctx, "gone"))

	goneFile, otherFile := openedFile(t, gone), openedFile(t, other)
	require.NoError(t, gone.Close())
	require.True(t, isClosed(goneFile.f), "a deleted blob's file was kept idle")
	require.NoError(t, other.Close())
	require.True(t, isClosed(otherFile.f))
	require.Zero(t, s.blobFiles.idle())

	bf := openAndClose(t, s, "other", []byte("other"))
	require.False(t, isClosed(bf.f))
	require.Equal(t, 1, s.blobFiles.idle())
}

// TestIdleBlobFilesBound: at most WithIdleBlobFiles files stay idle, the
// most recently closed; 0 keeps none.
func TestIdleBlobFilesBound(t *testing.T) {
	ctx := context.Background()
	for _, limit := range []int{0, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			s := openTestStore(t, t.TempDir(), WithoutFsync(), WithIdleBlobFiles(limit))
			var files []*blobFile
			for i := range 10 {
				key := jobartifacts.BlobKey(fmt.Sprintf("blob/%d", i))
				_, err := s.PutBlob(ctx, key, bytes.NewReader([]byte(key)))
				require.NoError(t, err)
				files = append(files, openAndClose(t, s, key, []byte(key)))
				require.LessOrEqual(t, s.blobFiles.idle(), limit)
			}
			require.Equal(t, limit, s.blobFiles.idle())
			for i, bf := range files {
				require.Equal(t, i < len(files)-limit, isClosed(bf.f), "file %d", i)
			}
		})
	}
	s := openTestStore(t, t.TempDir(), WithIdleBlobFiles(-1))
	require.Equal(t, DefaultIdleBlobFiles, s.blobFiles.max)
}

// TestIdleBlobFilesExpire: an idle file is closed once unused for the
// Store's idle time, even when nothing else happens.
func TestIdleBlobFilesExpire(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), WithoutFsync())
	s.blobFiles.ttl = 20 * time.Millisecond
	_, err := s.PutBlob(ctx, "k", bytes.NewReader([]byte("x")))
	require.NoError(t, err)
	first := openAndClose(t, s, "k", []byte("x"))
	require.Eventually(t, func() bool { return isClosed(first.f) }, 5*time.Second, 5*time.Millisecond)
	require.Zero(t, s.blobFiles.idle())
	second := openAndClose(t, s, "k", []byte("x")) // the timer runs again
	require.NotSame(t, first, second)
	require.Eventually(t, func() bool { return isClosed(second.f) }, 5*time.Second, 5*time.Millisecond)
}

// TestCloseClosesIdleBlobFiles: Store.Close closes the idle files; a Blob
// open across it stays readable, and its Close then closes its file.
func TestCloseClosesIdleBlobFiles(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), WithoutFsync())
	require.NoError(t, err)
	var idle []*blobFile
	for i := range 5 {
		key := jobartifacts.BlobKey(fmt.Sprintf("blob/%d", i))
		_, err := s.PutBlob(ctx, key, bytes.NewReader([]byte(key)))
		require.NoError(t, err)
		idle = append(idle, openAndClose(t, s, key, []byte(key)))
	}
	open, err := s.OpenBlob(ctx, "blob/0")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	for i, bf := range idle[1:] {
		require.True(t, isClosed(bf.f), "idle file %d", i+1)
	}
	got := make([]byte, 6)
	_, err = open.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, "blob/0", string(got))
	require.NoError(t, open.Close())
	require.True(t, isClosed(idle[0].f))
}

// TestIdleBlobFilesConcurrent: many goroutines opening, reading and
// closing a few keys, with deletes and puts under them, only ever read a
// blob's own bytes (run with -race).
func TestIdleBlobFilesConcurrent(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), WithoutFsync(), WithIdleBlobFiles(4))
	keys := []jobartifacts.BlobKey{"k/0", "k/1", "k/2", "k/3", "k/4", "k/5"}
	for _, key := range keys {
		_, err := s.PutBlob(ctx, key, bytes.NewReader([]byte(key)))
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				key := keys[(g+i)%len(keys)]
				if g == 0 && i%10 == 0 {
					_ = s.DeleteBlob(ctx, key)
					_, _ = s.PutBlob(ctx, key, bytes.NewReader([]byte(key)))
					continue
				}
				b, err := s.OpenBlob(ctx, key)
				if err != nil {
					continue // deleted just now
				}
				got := make([]byte, len(key)+1)
				n, _ := b.ReadAt(got, 0)
				b.Close()
				if string(got[:n]) != string(key) {
					errs <- fmt.Errorf("%s: read %q", key, got[:n])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, s.blobFiles.idle(), 4)
}
