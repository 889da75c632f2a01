package fsstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/blockio"
	"github.com/stretchr/testify/require"
)

// directIOHere reports whether dir's file system takes O_DIRECT.
func directIOHere(t testing.TB, dir string) bool {
	t.Helper()
	f, err := os.CreateTemp(dir, "probe")
	require.NoError(t, err)
	defer f.Close()
	return setDirect(f, true) == nil
}

func randomBytes(n int, seed uint64) []byte {
	// Eight bytes a call: a byte a call took 8 of TestDirectWriterAsync's
	// 32 s under -race.
	b := make([]byte, n+7)
	r := rand.NewPCG(seed, 1)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n:n]
}

// writeAll writes data to w in writes of chunk bytes.
func writeAll(t *testing.T, w *directWriter, data []byte, chunk int) {
	t.Helper()
	for len(data) > 0 {
		n := min(chunk, len(data))
		m, err := w.Write(data[:n])
		require.NoError(t, err)
		require.Equal(t, n, m)
		data = data[n:]
	}
}

func TestDirectWriterWritesEveryByte(t *testing.T) {
	dir := t.TempDir()
	direct := directIOHere(t, dir)
	t.Logf("%s: O_DIRECT %v", dir, direct)
	const mib = directBlockSize
	sizes := []int{0, 1, directAlign - 1, directAlign, 32 << 10, mib - 1, mib, mib + 1, 2 * mib, 3*mib + 12345}
	chunks := []int{4096, 32 << 10, mib, 5 * mib, 1000003}
	for _, size := range sizes {
		for _, chunk := range chunks {
			data := randomBytes(size, uint64(size))
			f, err := os.CreateTemp(dir, "blob")
			require.NoError(t, err)
			w := newDirectWriter(f, nil)
			writeAll(t, w, data, chunk)
			require.NoError(t, w.finish())
			w.abort() // after finish: nothing left to do
			require.NoError(t, f.Close())
			got, err := os.ReadFile(f.Name())
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got), "size %d in writes of %d: the file differs", size, chunk)
			if direct {
				// Every full block but the last one in flight at
				// the end went around the page cache; the tail
				// through it.
				require.Equal(t, size/mib, w.directBlocks, "size %d in writes of %d", size, chunk)
			} else {
				require.Zero(t, w.directBlocks)
			}
		}
	}
}

// inPlaceStep is one write of TestDirectWriterInPlace: n bytes, in place
// or not, from an aligned block or from one a byte off.
type inPlaceStep struct {
	n          int
	inPlace    bool
	misaligned bool
}

func TestDirectWriterInPlace(t *testing.T) {
	// Whatever mix of Write and WriteInPlace a caller makes, the file holds
	// every byte in order; blocks written in place go around the page
	// cache, and a partial block before them (whole units) first.
	dir := t.TempDir()
	if !directIOHere(t, dir) {
		t.Skipf("%s: the file system has no O_DIRECT", dir)
	}
	const mib = directBlockSize
	upload := func(tail int) []inPlaceStep {
		// As the handler's uploads: a 32 KiB first block, full blocks, a tail.
		return []inPlaceStep{{n: 32 << 10, inPlace: true}, {n: mib, inPlace: true}, {n: mib, inPlace: true}, {n: tail, inPlace: true}}
	}
	tests := []struct {
		name   string
		steps  []inPlaceStep
		direct int // blocks written with O_DIRECT
	}{
		{name: "upload, unaligned tail", steps: upload(12345), direct: 4}, // 32 KiB, 2 × 1 MiB, the tail's 12288
		{name: "upload, aligned tail", steps: upload(3 * directAlign), direct: 4},
		{name: "upload, no tail", steps: upload(0)[:3], direct: 3},
		{name: "first block written whole", steps: []inPlaceStep{{n: mib, inPlace: true}, {n: 5, inPlace: true}}, direct: 1},
		{name: "after an unaligned write: copied", steps: []inPlaceStep{{n: 1000}, {n: mib, inPlace: true}, {n: mib, inPlace: true}}, direct: 2},
		{name: "misaligned block: copied", steps: []inPlaceStep{{n: mib, inPlace: true, misaligned: true}, {n: mib, inPlace: true}}, direct: 2},
		{name: "smaller than a unit: copied", steps: []inPlaceStep{{n: 100, inPlace: true}, {n: mib, inPlace: true}}, direct: 1},
		{name: "copies then in place", steps: []inPlaceStep{{n: 64 << 10}, {n: 2 * mib}, {n: mib, inPlace: true}, {n: 7}}, direct: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.CreateTemp(dir, "blob")
			require.NoError(t, err)
			defer f.Close()
			w := newDirectWriter(f, nil)
			var want []byte
			for i, st := range tt.steps {
				b := blockio.Make(st.n + 1)[:st.n]
				if st.misaligned {
					b = blockio.Make(st.n + 1)[1 : st.n+1]
				}
				copy(b, randomBytes(st.n, uint64(i+1)))
				want = append(want, b...)
				write := w.Write
				if st.inPlace {
					write = w.WriteInPlace
				}
				n, err := write(b)
				require.NoError(t, err)
				require.Equal(t, st.n, n)
				clear(b) // the writer kept nothing of it
			}
			require.NoError(t, w.finish())
			w.abort()
			got, err := os.ReadFile(f.Name())
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "the file differs")
			require.Equal(t, tt.direct, w.directBlocks)
			require.Equal(t, 2, w.spare, "every pooled block given back")
		})
	}
}

func TestDirectWriterInPlaceRefused(t *testing.T) {
	// Without O_DIRECT, blocks written in place go through the page cache.
	f, err := os.CreateTemp(t.TempDir(), "blob")
	require.NoError(t, err)
	defer f.Close()
	w := newDirectWriter(f, nil)
	w.setDirect = func(*os.File, bool) error { return syscall.EINVAL }
	var want []byte
	for i, n := range []int{32 << 10, directBlockSize, 777} {
		b := blockio.Make(n)
		copy(b, randomBytes(n, uint64(i)))
		want = append(want, b...)
		m, err := w.WriteInPlace(b)
		require.NoError(t, err)
		require.Equal(t, n, m)
	}
	require.NoError(t, w.finish())
	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got))
	require.Zero(t, w.directBlocks)
}

func TestDirectWriterInPlaceError(t *testing.T) {
	// A failing write in place is reported by it, or by the next write or
	// finish; nothing hangs, and the pooled blocks come back.
	dir := t.TempDir()
	if !directIOHere(t, dir) {
		t.Skipf("%s: the file system has no O_DIRECT", dir)
	}
	path := filepath.Join(dir, "blob")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	w := newDirectWriter(f, nil)
	_, werr := w.Write(randomBytes(32<<10, 1)) // kept, written with the next block
	require.NoError(t, werr)
	var errs []error
	for range 3 {
		_, err := w.WriteInPlace(blockio.Make(directBlockSize))
		errs = append(errs, err)
	}
	errs = append(errs, w.finish())
	require.ErrorIs(t, errors.Join(errs...), syscall.EBADF)
	require.Error(t, errs[0], "the first write in place waits for its block, and sees it fail")
	w.abort()
	require.Equal(t, 2, w.spare)
}

func TestDirectWriterRefused(t *testing.T) {
	// A file system without O_DIRECT: everything goes through the page
	// cache, with the writeback started window by window as before.
	f, err := os.CreateTemp(t.TempDir(), "blob")
	require.NoError(t, err)
	defer f.Close()
	var started [][2]int64
	wb := &writeback{start: func(off, n int64) { started = append(started, [2]int64{off, n}) }}
	w := newDirectWriter(f, wb)
	w.setDirect = func(*os.File, bool) error { return syscall.EINVAL }
	data := randomBytes(2*writebackWindow+100, 7)
	writeAll(t, w, data, 64<<10)
	require.NoError(t, w.finish())
	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
	require.Zero(t, w.directBlocks)
	require.Equal(t, [][2]int64{{0, writebackWindow}, {writebackWindow, writebackWindow}}, started)
}

func TestDirectWriteRefusedAlignment(t *testing.T) {
	// A device that asks for more alignment than directAlign refuses the
	// write with EINVAL; the block then goes through the page cache. A
	// misaligned buffer makes any device refuse it.
	dir := t.TempDir()
	if !directIOHere(t, dir) {
		t.Skipf("%s: the file system has no O_DIRECT", dir)
	}
	f, err := os.CreateTemp(dir, "blob")
	require.NoError(t, err)
	defer f.Close()
	w := newDirectWriter(f, nil)
	require.NoError(t, w.setDirect(f, true))
	b := blockio.Make(2 * directAlign)
	copy(b, randomBytes(len(b), 3))
	misaligned := b[1 : 1+directAlign]
	if _, err := f.WriteAt(misaligned, 0); err == nil {
		t.Skipf("%s: the file system takes misaligned direct writes (tmpfs does)", dir)
	}
	require.NoError(t, w.writeDirect(misaligned, 0))
	require.Zero(t, w.directBlocks)
	require.NoError(t, w.writeDirect(b[:directAlign], directAlign))
	require.Equal(t, 1, w.directBlocks, "O_DIRECT is set again for the next block")

	// Where O_DIRECT cannot be set again, the next blocks go through the
	// cache and are not counted as direct.
	w.setDirect = func(f *os.File, on bool) error {
		if on {
			return syscall.EINVAL
		}
		return setDirect(f, false)
	}
	require.NoError(t, setDirect(f, true))
	require.NoError(t, w.writeDirect(misaligned, 2*directAlign))
	require.True(t, w.cached)
	require.NoError(t, w.writeDirect(b[:directAlign], 3*directAlign))
	require.Equal(t, 1, w.directBlocks)
	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	want := append(bytes.Clone(misaligned), b[:directAlign]...)
	want = append(want, misaligned...)
	want = append(want, b[:directAlign]...)
	require.Equal(t, want, got)
}

func TestDirectWriterError(t *testing.T) {
	// A write that fails (here: a file open read-only) is reported by
	// Write or finish, whichever comes after it, and nothing hangs.
	path := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	w := newDirectWriter(f, nil)
	data := randomBytes(5*directBlockSize, 9)
	var werr error
	for off := 0; off < len(data) && werr == nil; off += 64 << 10 {
		_, werr = w.Write(data[off : off+64<<10])
	}
	ferr := w.finish()
	require.Error(t, errors.Join(werr, ferr))
	require.ErrorIs(t, errors.Join(werr, ferr), syscall.EBADF)
	w.abort()
}

func TestPutBlobDirectIO(t *testing.T) {
	// With and without direct I/O, the same blob and the same info; an
	// upload that fails half way leaves nothing either way.
	data := randomBytes(3*directBlockSize+777, 11)
	sum := sha256.Sum256(data)
	for _, opts := range [][]Option{nil, {WithoutDirectIO()}, {WithoutFsync()}, {WithoutFsync(), WithoutDirectIO()}} {
		s, err := Open(t.TempDir(), opts...)
		require.NoError(t, err)
		ctx := context.Background()
		info, err := s.PutBlob(ctx, "a/b", bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, info.ETag)
		require.Equal(t, int64(len(data)), info.Size)
		b, err := s.OpenBlob(ctx, "a/b")
		require.NoError(t, err)
		got := make([]byte, len(data))
		_, err = b.ReadAt(got, 0)
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got))
		require.NoError(t, b.Close())

		boom := errors.New("connection reset")
		_, err = s.PutBlob(ctx, "a/c", &failingReader{data: data, after: 2*directBlockSize + 5, err: boom})
		require.ErrorIs(t, err, boom)
		_, err = s.OpenBlob(ctx, "a/c")
		require.ErrorIs(t, err, jobartifacts.ErrNotFound)
		entries, err := os.ReadDir(filepath.Join(s.dir, "blobs", "a"))
		require.NoError(t, err)
		for _, e := range entries {
			require.False(t, isTemp(e.Name()), "temporary file %s left", e.Name())
		}
		require.NoError(t, s.Close())
	}
}

// failingReader reads data and fails with err once after bytes are read.
type failingReader struct {
	data  []byte
	after int
	err   error
	off   int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.off >= r.after {
		return 0, r.err
	}
	n := copy(p, r.data[r.off:r.after])
	r.off += n
	return n, nil
}
