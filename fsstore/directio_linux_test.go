package fsstore

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// residentPages counts the pages of path's file in the page cache
// (mincore(2) of a mapping of it).
func residentPages(t *testing.T, path string) (resident, total int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	m, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	require.NoError(t, err)
	defer syscall.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(m))), uintptr(len(m)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	require.Zero(t, errno, "mincore: %v", errno)
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, len(vec)
}

// TestPutBlobAroundPageCache: with direct I/O, a new blob's full blocks
// are not in the page cache, only its last, partial block; without, all
// of it is. (Where O_DIRECT is refused, both are cached.)
func TestPutBlobAroundPageCache(t *testing.T) {
	dir := t.TempDir()
	if !directIOHere(t, dir) {
		t.Skipf("%s: the file system has no O_DIRECT", dir)
	}
	data := randomBytes(4*directBlockSize+100, 5)
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st))
	if st.Type == 0x01021994 { // TMPFS_MAGIC: the file system is the page cache
		t.Skipf("%s: tmpfs", dir)
	}
	for _, direct := range []bool{true, false} {
		var opts []Option
		if !direct {
			opts = append(opts, WithoutDirectIO())
		}
		s, err := Open(t.TempDir(), opts...)
		require.NoError(t, err)
		require.Equal(t, direct, s.DirectIO())
		_, err = s.PutBlob(t.Context(), "k", bytes.NewReader(data))
		require.NoError(t, err)
		resident, total := residentPages(t, s.blobFile("k"))
		if direct {
			// Four full blocks went direct; the 100 bytes after them
			// through the cache, one page.
			require.LessOrEqual(t, resident, 1, "%d of %d pages cached", resident, total)
		} else {
			require.Equal(t, total, resident)
		}
		require.NoError(t, s.Close())
	}
}
