package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/s3store"
)

// PutBlob stores small blobs with one PUT and larger ones in parts; either
// way the bytes and attributes read back.
func TestPutBlobSizes(t *testing.T) {
	const part = 5 << 20
	f := newFixture(t, s3store.WithPartSize(part))
	tests := []struct {
		name      string
		size      int
		multipart bool
	}{
		{"Empty", 0, false},
		{"Small", 1000, false},
		{"JustUnderOnePart", part - 1, false},
		{"ExactlyOnePart", part, true},
		{"ThreePartsAndABit", 3*part + 12345, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := pseudoRandom(byte(10+i), tc.size)
			key := blobKey("archive")
			f.counter.reset()
			info, err := f.store.PutBlob(t.Context(), key, onlyReader{bytes.NewReader(data)})
			require.NoError(t, err)
			if tc.multipart {
				require.Equal(t, 2, f.counter.count("POST"), "one initiate and one complete")
				require.Equal(t, (tc.size+part-1)/part, f.counter.count("PUT"), "one PUT per part")
			} else {
				require.Equal(t, 1, f.counter.count("PUT"))
				require.Equal(t, 0, f.counter.count("POST"))
			}
			require.Equal(t, 1, f.counter.count("HEAD"), "for the modification time")
			require.Equal(t, int64(tc.size), info.Size)
			require.False(t, info.ModTime.IsZero())
			require.Regexp(t, `^"[^"]+"$`, info.ETag)

			b, err := f.store.OpenBlob(t.Context(), key)
			require.NoError(t, err)
			defer b.Close()
			require.Equal(t, info, b.Info(), "PutBlob returns the stored blob's attributes")
			rc, err := b.NewRangeReader(0, -1)
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			require.True(t, bytes.Equal(data, got))
		})
	}
}

// stallingReader yields its data, then signals and blocks until its
// context ends, as a client that stops sending does.
type stallingReader struct {
	ctx     context.Context
	data    io.Reader
	stalled chan struct{}
}

func (r *stallingReader) Read(p []byte) (int, error) {
	n, err := r.data.Read(p)
	if err == io.EOF {
		close(r.stalled)
		<-r.ctx.Done()
		return n, r.ctx.Err()
	}
	return n, err
}

// failingReader yields its data, then fails.
type failingReader struct{ data io.Reader }

var errBrokenUpload = errors.New("client went away")

func (r failingReader) Read(p []byte) (int, error) {
	n, err := r.data.Read(p)
	if err == io.EOF {
		return n, errBrokenUpload
	}
	return n, err
}

// A cancelled or failed put leaves nothing: no object, and no incomplete
// upload for the janitor to find.
func TestFailedPutLeavesNothing(t *testing.T) {
	const part = 5 << 20
	for _, size := range []int{1000, 2*part + 100} {
		t.Run("Cancelled"+sizeName(size), func(t *testing.T) {
			f := newFixture(t, s3store.WithPartSize(part))
			ctx, cancel := context.WithCancel(t.Context())
			r := &stallingReader{ctx: ctx, data: bytes.NewReader(pseudoRandom(20, size)), stalled: make(chan struct{})}
			go func() {
				<-r.stalled
				time.Sleep(50 * time.Millisecond)
				cancel()
			}()
			key := blobKey("archive")
			_, err := f.store.PutBlob(ctx, key, r)
			require.ErrorIs(t, err, context.Canceled)
			requireNothingUnder(t, f, key)
		})
		t.Run("ReadError"+sizeName(size), func(t *testing.T) {
			f := newFixture(t, s3store.WithPartSize(part))
			key := blobKey("archive")
			_, err := f.store.PutBlob(t.Context(), key, failingReader{bytes.NewReader(pseudoRandom(21, size))})
			require.ErrorIs(t, err, errBrokenUpload)
			requireNothingUnder(t, f, key)
		})
	}
	t.Run("CancelledBefore", func(t *testing.T) {
		f := newFixture(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		key := blobKey("archive")
		_, err := f.store.PutBlob(ctx, key, bytes.NewReader([]byte("bytes")))
		require.ErrorIs(t, err, context.Canceled)
		requireNothingUnder(t, f, key)
	})
}

func sizeName(size int) string {
	if size > 5<<20 {
		return "Multipart"
	}
	return "SinglePut"
}

// requireNothingUnder checks that key has no object, and the bucket no
// incomplete upload.
func requireNothingUnder(t *testing.T, f fixture, key jobartifacts.BlobKey) {
	t.Helper()
	_, err := f.store.OpenBlob(t.Context(), key)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	for up := range f.client.ListIncompleteUploads(t.Context(), f.bucket, "", true) {
		require.NoError(t, up.Err)
		t.Fatalf("incomplete upload left: %s %s", up.Key, up.UploadID)
	}
	n, err := f.store.AbortIncompleteUploads(t.Context(), 0)
	require.NoError(t, err)
	require.Zero(t, n)
}

// With create-only puts (the default), a single PUT to an existing key is
// ErrConflict and leaves the object. Whether the service also refuses a
// multipart completion over an existing key depends on it: the test logs
// what this one does, and checks that the blob is one whole version.
func TestPutExistingKey(t *testing.T) {
	const part = 5 << 20
	f := newFixture(t, s3store.WithPartSize(part))
	key := blobKey("archive")
	first := pseudoRandom(30, 1000)
	f.put2(t, key, first)

	_, err := f.store.PutBlob(t.Context(), key, bytes.NewReader(pseudoRandom(31, 2000)))
	require.ErrorIs(t, err, jobartifacts.ErrConflict, "single PUT over an existing key")
	require.Equal(t, first, f.read(t, key))
	for up := range f.client.ListIncompleteUploads(t.Context(), f.bucket, "", true) {
		t.Fatalf("incomplete upload left: %s", up.Key)
	}

	big := pseudoRandom(32, part+10)
	_, err = f.store.PutBlob(t.Context(), key, bytes.NewReader(big))
	if errors.Is(err, jobartifacts.ErrConflict) {
		t.Log("this service refuses a multipart completion over an existing key")
		require.Equal(t, first, f.read(t, key))
		for up := range f.client.ListIncompleteUploads(t.Context(), f.bucket, "", true) {
			t.Fatalf("incomplete upload left: %s", up.Key)
		}
	} else {
		require.NoError(t, err)
		t.Log("this service replaces an existing key on a multipart completion")
		require.Equal(t, big, f.read(t, key))
	}

	t.Run("CreateOnlyOff", func(t *testing.T) {
		s := f.second(t, s3store.WithCreateOnly(false))
		_, err := s.PutBlob(t.Context(), key, bytes.NewReader([]byte("replaced")))
		require.NoError(t, err)
		require.Equal(t, []byte("replaced"), f.read(t, key))
	})
}

func (f fixture) put2(t *testing.T, key jobartifacts.BlobKey, data []byte) {
	t.Helper()
	_, err := f.store.PutBlob(t.Context(), key, bytes.NewReader(data))
	require.NoError(t, err)
}

func (f fixture) read(t *testing.T, key jobartifacts.BlobKey) []byte {
	t.Helper()
	b, err := f.store.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()
	rc, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	return data
}

// An upload of unknown length allocates about one part, not minio-go's
// ~537 MiB default.
func TestPutBlobMemoryIsOnePart(t *testing.T) {
	const part = 8 << 20
	f := newFixture(t, s3store.WithPartSize(part))
	data := pseudoRandom(40, 40<<20)
	// A first put fills the part buffer pool.
	f.put(t, "warmup", data[:part+1])
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f.put(t, "archive", data)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a 40 MiB put in 8 MiB parts allocated %.1f MiB", float64(allocated)/(1<<20))
	require.Less(t, allocated, uint64(3*part))
}

// The janitor aborts incomplete uploads older than its age, only under the
// store's prefix.
func TestAbortIncompleteUploads(t *testing.T) {
	f := newFixture(t)
	core := minio.Core{Client: f.client}
	store := s3store.New(f.client, f.bucket, s3store.WithPrefix("blobs/"))
	mine, err := core.NewMultipartUpload(t.Context(), f.bucket, "blobs/projects/1/jobs/2/archive-1", minio.PutObjectOptions{})
	require.NoError(t, err)
	_, err = core.PutObjectPart(t.Context(), f.bucket, "blobs/projects/1/jobs/2/archive-1", mine, 1, bytes.NewReader([]byte("part")), 4, minio.PutObjectPartOptions{})
	require.NoError(t, err)
	_, err = core.NewMultipartUpload(t.Context(), f.bucket, "other/thing", minio.PutObjectOptions{})
	require.NoError(t, err)

	n, err := store.AbortIncompleteUploads(t.Context(), time.Hour)
	require.NoError(t, err)
	require.Zero(t, n, "younger than an hour")

	n, err = store.AbortIncompleteUploads(t.Context(), 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	var left []string
	for up := range f.client.ListIncompleteUploads(t.Context(), f.bucket, "", true) {
		require.NoError(t, up.Err)
		left = append(left, up.Key)
	}
	require.Equal(t, []string{"other/thing"}, left, "uploads outside the prefix stay")

	n, err = store.AbortIncompleteUploads(t.Context(), 0)
	require.NoError(t, err)
	require.Zero(t, n)
}
