package s3store_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/s3store"
)

// put stores data under a fresh key and returns the key.
func (f fixture) put(t *testing.T, name string, data []byte) jobartifacts.BlobKey {
	t.Helper()
	key := blobKey(name)
	info, err := f.store.PutBlob(t.Context(), key, onlyReader{bytes.NewReader(data)})
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), info.Size)
	return key
}

func TestOpenBlobIsOneHEAD(t *testing.T) {
	f := newFixture(t)
	data := pseudoRandom(1, 1000)
	key := f.put(t, "archive", data)
	f.counter.reset()
	b, err := f.store.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, 1, f.counter.count("HEAD"))
	require.Equal(t, 0, f.counter.count("GET"))
	info := b.Info()
	require.Equal(t, int64(1000), info.Size)
	require.False(t, info.ModTime.IsZero())
	require.Regexp(t, `^"[^"]+"$`, info.ETag)
}

// A streaming read is one ranged GET, however it is read: 8 MiB in 32 KiB
// reads costs one request.
func TestRangeReaderIsOneGET(t *testing.T) {
	f := newFixture(t, s3store.WithPartSize(5<<20))
	data := pseudoRandom(2, 8<<20)
	key := f.put(t, "archive", data)
	b, err := f.store.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()

	tests := []struct {
		name        string
		off, length int64
		want        []byte
		gets        int
	}{
		{name: "Whole", off: 0, length: -1, want: data, gets: 1},
		{name: "WholeByLength", off: 0, length: int64(len(data)), want: data, gets: 1},
		{name: "Middle", off: 1000, length: 5 << 20, want: data[1000 : 1000+5<<20], gets: 1},
		{name: "ToTheEnd", off: 7 << 20, length: -1, want: data[7<<20:], gets: 1},
		{name: "PastTheEnd", off: 8<<20 - 10, length: 100, want: data[8<<20-10:], gets: 1},
		{name: "AtSize", off: 8 << 20, length: -1, want: []byte{}, gets: 0},
		{name: "Empty", off: 5, length: 0, want: []byte{}, gets: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.counter.reset()
			rc, err := b.NewRangeReader(tc.off, tc.length)
			require.NoError(t, err)
			got := &bytes.Buffer{}
			_, err = io.CopyBuffer(struct{ io.Writer }{got}, struct{ io.Reader }{rc}, make([]byte, 32<<10))
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			require.True(t, bytes.Equal(tc.want, got.Bytes()), "bytes of %s", tc.name)
			require.Equal(t, tc.gets, f.counter.count("GET"), "GETs")
			require.Equal(t, tc.gets, f.counter.count("ranged GET"), "ranged GETs")
		})
	}

	_, err = b.NewRangeReader(8<<20+1, 1)
	require.Error(t, err, "offset past Size")
	_, err = b.NewRangeReader(-1, 1)
	require.Error(t, err, "negative offset")
}

// Several range readers of one Blob read at once.
func TestRangeReadersAtOnce(t *testing.T) {
	f := newFixture(t)
	data := pseudoRandom(3, 300_000)
	key := f.put(t, "archive", data)
	b, err := f.store.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()
	r1, err := b.NewRangeReader(0, 100_000)
	require.NoError(t, err)
	r2, err := b.NewRangeReader(100_000, -1)
	require.NoError(t, err)
	got2, err := io.ReadAll(r2)
	require.NoError(t, err)
	got1, err := io.ReadAll(r1)
	require.NoError(t, err)
	require.NoError(t, r1.Close())
	require.NoError(t, r2.Close())
	require.Equal(t, data, append(got1, got2...))
}

// Sequential 32 KiB ReadAts over 4 MiB (http.ServeContent's pattern over a
// SectionReader) cost a handful of GETs, not 128.
func TestReadAtSequentialReadsAhead(t *testing.T) {
	f := newFixture(t)
	data := pseudoRandom(4, 4<<20)
	key := f.put(t, "archive", data)
	b, err := f.store.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()
	f.counter.reset()
	got := make([]byte, 0, len(data))
	p := make([]byte, 32<<10)
	for off := 0; off < len(data); off += len(p) {
		n, err := b.ReadAt(p, int64(off))
		if off+len(p) < len(data) {
			require.NoError(t, err)
		}
		got = append(got, p[:n]...)
	}
	require.True(t, bytes.Equal(data, got))
	gets := f.counter.count("GET")
	t.Logf("4 MiB in 32 KiB ReadAts: %d GETs", gets)
	// 64 KiB, 128 KiB, …, 1 MiB, then 1 MiB windows: 8 GETs.
	require.LessOrEqual(t, gets, 10)
}

// Reading a zip's end: the end record near the end, then the central
// directory before it. One window covers them.
func TestReadAtNearTheEndCachesTheTail(t *testing.T) {
	f := newFixture(t)
	data := pseudoRandom(5, 3<<20)
	key := f.put(t, "archive", data)
	b, err := f.store.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()
	f.counter.reset()
	size := len(data)
	reads := []struct{ off, n int }{
		{size - 22, 22},                // end of central directory record
		{size - 22 - 20, 20},           // zip64 locator
		{size - 40_000, 4096},          // central directory start
		{size - 40_000 + 4096, 30_000}, // and on
	}
	for _, r := range reads {
		p := make([]byte, r.n)
		n, err := b.ReadAt(p, int64(r.off))
		require.Equal(t, r.n, n)
		if r.off+r.n < size {
			require.NoError(t, err)
		}
		require.Equal(t, data[r.off:r.off+r.n], p)
	}
	require.Equal(t, 1, f.counter.count("GET"))
}

// ReadAt follows io.ReaderAt at the edges; a read larger than the window
// bypasses it and is still exact.
func TestReadAtEdges(t *testing.T) {
	f := newFixture(t, s3store.WithReadAhead(16<<10, 64<<10))
	data := pseudoRandom(6, 200_000)
	key := f.put(t, "archive", data)
	b, err := f.store.OpenBlob(t.Context(), key)
	require.NoError(t, err)

	p := make([]byte, 150_000) // larger than the window
	n, err := b.ReadAt(p, 10)
	require.NoError(t, err)
	require.Equal(t, 150_000, n)
	require.Equal(t, data[10:150_010], p)

	n, err = b.ReadAt(make([]byte, 100), 199_950)
	require.Equal(t, 50, n)
	require.ErrorIs(t, err, io.EOF)
	n, err = b.ReadAt(make([]byte, 1), 200_000)
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF)
	_, err = b.ReadAt(make([]byte, 1), -1)
	require.Error(t, err)

	require.NoError(t, b.Close())
	_, err = b.ReadAt(make([]byte, 1), 0)
	require.ErrorIs(t, err, fs.ErrClosed)
	_, err = b.NewRangeReader(0, 1)
	require.ErrorIs(t, err, fs.ErrClosed)
}

func TestReadAtConcurrent(t *testing.T) {
	f := newFixture(t, s3store.WithReadAhead(4<<10, 64<<10))
	data := pseudoRandom(7, 1<<20)
	key := f.put(t, "archive", data)
	b, err := f.store.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()

	var wg sync.WaitGroup
	errs := make(chan error, 160)
	for i := range 160 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			off := r.IntN(len(data))
			n := 1 + r.IntN(min(100_000, len(data)-off))
			p := make([]byte, n)
			got, err := b.ReadAt(p, int64(off))
			if err != nil && !(err == io.EOF && off+n == len(data)) {
				errs <- fmt.Errorf("ReadAt(%d, %d): %w", n, off, err)
				return
			}
			if got != n || !bytes.Equal(p, data[off:off+n]) {
				errs <- fmt.Errorf("ReadAt(%d, %d): wrong bytes", n, off)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestOpenMissingIsNotFound(t *testing.T) {
	f := newFixture(t)
	_, err := f.store.OpenBlob(t.Context(), blobKey("missing"))
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

// A Blob opened before a delete (on another replica) fails its next read
// with ErrNotFound; it never reads other bytes.
func TestReadAfterDelete(t *testing.T) {
	f := newFixture(t)
	other := f.second(t)
	data := pseudoRandom(8, 100_000)
	key := f.put(t, "archive", data)
	b, err := other.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()

	require.NoError(t, f.store.DeleteBlob(t.Context(), key))
	_, err = b.NewRangeReader(0, -1)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	_, err = b.ReadAt(make([]byte, 10), 0)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)

	// A new object under the key (never done by the handler: keys are not
	// reused) is not read through the old Blob: every GET names its ETag.
	_, err = f.client.PutObject(t.Context(), f.bucket, string(key), bytes.NewReader([]byte("other bytes")), 11, minio.PutObjectOptions{})
	require.NoError(t, err)
	_, err = b.NewRangeReader(0, -1)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

// Reads are made with OpenBlob's context.
func TestReadAfterOpenContextDone(t *testing.T) {
	f := newFixture(t)
	key := f.put(t, "archive", pseudoRandom(9, 1000))
	ctx, cancel := context.WithCancel(t.Context())
	b, err := f.store.OpenBlob(ctx, key)
	require.NoError(t, err)
	defer b.Close()
	cancel()
	_, err = b.ReadAt(make([]byte, 10), 0)
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.NewRangeReader(0, 10)
	require.ErrorIs(t, err, context.Canceled)
}

func TestDeleteBlob(t *testing.T) {
	f := newFixture(t)
	key := f.put(t, "archive", []byte("bytes"))
	require.NoError(t, f.store.DeleteBlob(t.Context(), key))
	_, err := f.store.OpenBlob(t.Context(), key)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	require.NoError(t, f.store.DeleteBlob(t.Context(), key), "deleting again")
	require.NoError(t, f.store.DeleteBlob(t.Context(), blobKey("never-stored")), "deleting a missing blob")
}

// archive/zip over a Blob, as a central directory is read: the end
// records, then the directory in small sequential reads. A 3 MiB archive
// of 3,000 entries (a 150 KiB directory) costs a few GETs.
func TestZipCentralDirectoryGETs(t *testing.T) {
	f := newFixture(t)
	var archive bytes.Buffer
	zw := zip.NewWriter(&archive)
	for i := range 3000 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("out/dir%02d/file%04d.txt", i%50, i), Method: zip.Store})
		require.NoError(t, err)
		_, err = w.Write(pseudoRandom(byte(i), 1000))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	key := f.put(t, "archive", archive.Bytes())

	b, err := f.store.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()
	f.counter.reset()
	zr, err := zip.NewReader(b, b.Info().Size)
	require.NoError(t, err)
	require.Len(t, zr.File, 3000)
	gets := f.counter.count("GET")
	t.Logf("central directory of %d entries in a %d KiB archive: %d GETs", len(zr.File), archive.Len()>>10, gets)
	require.LessOrEqual(t, gets, 4)
}
