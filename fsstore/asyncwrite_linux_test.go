//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package fsstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ciartifacts/jobartifacts/internal/blockio"
	"github.com/stretchr/testify/require"
)

// asyncCaller writes data through WriteAsync as the handler's uploads do:
// blocks of size from a few of its own, each read into again only once
// released, and checks that every block is released once.
type asyncCaller struct {
	t        testing.TB
	mu       sync.Mutex
	released []int // block numbers, in the order released
	free     chan []byte
}

func newAsyncCaller(t testing.TB, blocks, size int) *asyncCaller {
	c := &asyncCaller{t: t, free: make(chan []byte, blocks)}
	for range blocks {
		c.free <- blockio.Make(size)
	}
	return c
}

// write writes data in blocks of the caller's and returns the first error.
func (c *asyncCaller) write(w blockio.AsyncWriter, data []byte) error {
	i := 0
	for len(data) > 0 {
		b := <-c.free
		n := copy(b, data)
		data = data[n:]
		p, num := b[:n], i
		i++
		_, err := w.WriteAsync(p, func() {
			c.mu.Lock()
			c.released = append(c.released, num)
			c.mu.Unlock()
			// Read into again at once: a write still under way from
			// it would write these bytes.
			clear(b)
			c.free <- b
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkReleases checks that blocks 0..n-1 were released once each.
func (c *asyncCaller) checkReleases(n int) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Len(c.t, c.released, n)
	seen := make([]bool, n)
	for _, num := range c.released {
		require.False(c.t, seen[num], "block %d released twice", num)
		seen[num] = true
	}
}

// aioHere reports whether dir's file system takes O_DIRECT and the kernel
// takes AIO.
func aioHere(t testing.TB, dir string) bool {
	t.Helper()
	if !directIOHere(t, dir) {
		return false
	}
	ctx, err := newAIOContext(1)
	if err != nil {
		return false
	}
	ctx.destroy()
	return true
}

func TestDirectWriterAsync(t *testing.T) {
	dir := t.TempDir()
	if !aioHere(t, dir) {
		t.Skipf("%s: no O_DIRECT or no AIO here", dir)
	}
	const mib = directBlockSize
	for _, size := range []int{mib, 3*mib + 12345, asyncCachedFirst, asyncCachedFirst + 12345, asyncCachedFirst + mib, 40 * mib, 40*mib + directAlign} {
		for _, blocks := range []int{1, 3, 8} {
			data := randomBytes(size, uint64(size+blocks))
			f, err := os.CreateTemp(dir, "blob")
			require.NoError(t, err)
			w := newDirectWriter(f, nil)
			w.allowAsync = true
			c := newAsyncCaller(t, blocks, mib)
			require.NoError(t, c.write(w, data))
			require.NoError(t, w.finish())
			w.abort()
			c.checkReleases((size + mib - 1) / mib)
			if size-size%mib <= asyncCachedFirst {
				// A small upload, all through the cache: its
				// answer does not wait for the disk.
				require.Nil(t, w.async, "size %d: AIO was used", size)
				require.False(t, w.direct, "size %d: O_DIRECT was used", size)
			} else {
				require.NotNil(t, w.async, "size %d: AIO was not used", size)
				require.Positive(t, w.async.directWrites.Load(), "no block went with O_DIRECT")
			}
			fi, err := f.Stat()
			require.NoError(t, err)
			require.EqualValues(t, size, fi.Size(), "the space allocated ahead was not cut back")
			require.NoError(t, f.Close())
			got, err := os.ReadFile(f.Name())
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got), "size %d, %d blocks: the file differs", size, blocks)
		}
	}
}

// fakeAIO stands in for the kernel's AIO in the tests of failures: each
// submitted write is done by pwrite when reaped, or fails as outcome says.
// Writes are counted from 1 in the order submitted (or refused).
type fakeAIO struct {
	f         *os.File
	submitted chan fakeWrite
	// outcome returns what the i-th write does: write the first n bytes
	// of it and report res, or fail the reap.
	outcome func(i int, size int) (n int, res int64, reapErr error)
	refuse  func(i int) error // at submission
	count   int               // writes submitted or refused
}

type fakeWrite struct {
	p   []byte
	off int64
	seq uint64
	i   int
}

func (a *fakeAIO) install(w *directWriter) {
	w.async.submit = func(p []byte, off int64, seq uint64) error {
		a.count++
		if a.refuse != nil {
			if err := a.refuse(a.count); err != nil {
				return err
			}
		}
		a.submitted <- fakeWrite{p: p, off: off, seq: seq, i: a.count}
		return nil
	}
	w.async.reap = func() (uint64, int64, error) {
		fw := <-a.submitted
		n, res, err := len(fw.p), int64(len(fw.p)), error(nil)
		if a.outcome != nil {
			n, res, err = a.outcome(fw.i, len(fw.p))
		}
		if err != nil {
			return 0, 0, err
		}
		if _, werr := a.f.WriteAt(fw.p[:n], fw.off); werr != nil {
			return 0, 0, werr
		}
		return fw.seq, res, nil
	}
}

func TestDirectWriterAsyncFailures(t *testing.T) {
	dir := t.TempDir()
	if !aioHere(t, dir) {
		t.Skipf("%s: no O_DIRECT or no AIO here", dir)
	}
	const mib = directBlockSize
	errReap := errors.New("reap failed")
	tests := []struct {
		name    string
		outcome func(i int, size int) (int, int64, error)
		refuse  func(i int) error
		err     error // nil: the file has every byte
		noMore  bool  // no direct write after the failure
	}{
		{
			name: "EINVAL: the block and all after it through the cache",
			outcome: func(i int, size int) (int, int64, error) {
				if i == 1 { // the first block always goes direct
					return 0, -int64(syscall.EINVAL), nil
				}
				return size, int64(size), nil
			},
			noMore: true,
		},
		{
			name: "short write: the rest through the cache",
			outcome: func(i int, size int) (int, int64, error) {
				if i%2 == 1 {
					return size / 2, int64(size / 2), nil
				}
				return size, int64(size), nil
			},
		},
		{
			name: "EIO: written again through the cache",
			outcome: func(i int, size int) (int, int64, error) {
				if i == 1 {
					return 0, -int64(syscall.EIO), nil
				}
				return size, int64(size), nil
			},
		},
		{
			name: "refused at submission: through the cache from then on",
			refuse: func(i int) error {
				if i >= 1 {
					return syscall.EAGAIN
				}
				return nil
			},
			noMore: true,
		},
		{
			name: "events lost: the blob fails, every block released",
			outcome: func(i int, size int) (int, int64, error) {
				return 0, 0, errReap
			},
			err: errReap,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := 12*mib + 100
			data := randomBytes(size, 7)
			f, err := os.CreateTemp(dir, "blob")
			require.NoError(t, err)
			defer f.Close()
			w := newDirectWriter(f, nil)
			w.allowAsync = true
			require.True(t, w.startAsync())
			fake := &fakeAIO{f: f, submitted: make(chan fakeWrite, asyncDirectWrites), outcome: tt.outcome, refuse: tt.refuse}
			fake.install(w)
			c := newAsyncCaller(t, 8, mib)
			werr := c.write(w, data)
			ferr := w.finish()
			w.abort()
			// A context that lost its events may have writes in
			// flight: ended, not kept for the next upload.
			require.Equal(t, tt.err != nil, w.async.eventsLost)
			require.Equal(t, tt.err == nil, aioContexts.holds(w.async.ctx), "context kept for the next upload")
			if tt.err != nil {
				if werr == nil {
					werr = ferr
				}
				require.ErrorIs(t, werr, tt.err)
				require.Eventually(t, func() bool { return len(c.free) == 8 }, 5*time.Second, time.Millisecond, "blocks not released")
				return
			}
			require.NoError(t, werr)
			require.NoError(t, ferr)
			c.checkReleases(13)
			got, err := os.ReadFile(f.Name())
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got), "the file differs")
			if tt.noMore {
				require.True(t, w.async.noDirect.Load())
			}
		})
	}
}

// BenchmarkDirectWriterAsync writes 256 MiB as the handler's uploads do
// (eight blocks of 1 MiB, each written while the next are filled): with
// AIO and the page cache together, with synchronous direct writes only
// (WriteInPlace), and through the page cache only. It reports how many
// blocks went with O_DIRECT.
func BenchmarkDirectWriterAsync(b *testing.B) {
	dir := b.TempDir()
	const size = 256 << 20
	block := blockio.Make(directBlockSize)
	for i := range block {
		block[i] = byte(i)
	}
	for _, mode := range []string{"async", "direct", "cache"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(size)
			var direct int64
			for b.Loop() {
				f, err := os.CreateTemp(dir, "blob")
				if err != nil {
					b.Fatal(err)
				}
				w := newDirectWriter(f, nil)
				w.at = f
				w.allowAsync = true
				blocks := make(chan []byte, 8)
				for range 8 {
					p := blockio.Make(directBlockSize)
					copy(p, block)
					blocks <- p
				}
				for range size / directBlockSize {
					p := <-blocks
					switch mode {
					case "async":
						_, err = w.WriteAsync(p, func() { blocks <- p })
					case "direct":
						_, err = w.WriteInPlace(p)
						blocks <- p
					case "cache":
						_, err = f.Write(p)
						blocks <- p
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if mode != "cache" {
					if err := w.finish(); err != nil {
						b.Fatal(err)
					}
				}
				if w.async != nil {
					direct += w.async.directWrites.Load()
				}
				f.Close()
				os.Remove(f.Name())
			}
			b.ReportMetric(float64(direct)/float64(b.N), "direct-blocks/op")
		})
	}
}

// asyncUploadReader hands its bytes to PutBlob as the handler's uploads
// do: a SHA256Reader whose WriteTo writes blocks of its own through
// WriteAsync, where the writer has it.
type asyncUploadReader struct {
	t    testing.TB
	data []byte
}

func (r *asyncUploadReader) Read(p []byte) (int, error) {
	panic("asyncUploadReader: read through WriteTo only")
}

func (r *asyncUploadReader) SHA256() []byte {
	sum := sha256.Sum256(r.data)
	return sum[:]
}

func (r *asyncUploadReader) WriteTo(w io.Writer) (int64, error) {
	aw, ok := w.(blockio.AsyncWriter)
	require.True(r.t, ok, "PutBlob's writer takes no async writes")
	c := newAsyncCaller(r.t, 8, directBlockSize)
	if err := c.write(aw, r.data); err != nil {
		return 0, err
	}
	return int64(len(r.data)), nil
}

// TestPutBlobAsync: a store without fsync writes an upload's blocks both
// ways, some around the page cache and some through it; a store with
// fsync writes them all around it, as it does without WriteAsync.
func TestPutBlobAsync(t *testing.T) {
	if !aioHere(t, t.TempDir()) {
		t.Skip("no O_DIRECT or no AIO here")
	}
	data := randomBytes(32*directBlockSize+777, 11)
	for _, fsync := range []bool{false, true} {
		var opts []Option
		if !fsync {
			opts = append(opts, WithoutFsync())
		}
		s, err := Open(t.TempDir(), opts...)
		require.NoError(t, err)
		info, err := s.PutBlob(t.Context(), "k", &asyncUploadReader{t: t, data: data})
		require.NoError(t, err)
		require.EqualValues(t, len(data), info.Size)
		sum := sha256.Sum256(data)
		require.Equal(t, etag(sum[:]), info.ETag)
		resident, total := residentPages(t, s.blobFile("k"))
		if fsync {
			require.LessOrEqual(t, resident, 1, "fsync: %d of %d pages cached", resident, total)
		} else {
			require.Less(t, resident, total-directBlockSize/os.Getpagesize(), "no block went around the cache")
		}
		got, err := os.ReadFile(s.blobFile("k"))
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), "fsync %v: the blob differs", fsync)
		require.NoError(t, s.Close())
	}
}
