//go:build linux

package fsstore

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGenerationFileMapped: on Linux the generation is read from a shared
// mapping, which sees what another descriptor writes at once (as another
// process's would be: one page cache); an empty file reads as no
// generation instead of killing the process with SIGBUS, and the mapping
// keeps working once the file has its bytes again.
func TestGenerationFileMapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.lock")
	g, err := openGenerationFile(path)
	require.NoError(t, err)
	defer g.close()
	require.NotNil(t, g.mapped, "mapped")
	require.Zero(t, g.load(), "a new, empty file: no generation")

	w, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer w.Close()
	put := func(v uint64) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v)
		_, err := w.WriteAt(b[:], 0)
		require.NoError(t, err)
	}
	put(0x0123456789abcdef)
	require.Equal(t, uint64(0x0123456789abcdef), g.load())
	require.NoError(t, newGeneration(w))
	fresh := g.load()
	require.NotEqual(t, uint64(0x0123456789abcdef), fresh, "a new generation is seen at once")
	require.NotZero(t, fresh)

	require.NoError(t, w.Truncate(0))
	require.Zero(t, g.load(), "truncated: no generation (the fault is recovered)")
	require.Zero(t, g.load(), "and again")
	put(42)
	require.Equal(t, uint64(42), g.load(), "written again: the mapping reads it")

	require.NoError(t, w.Truncate(3))
	require.Equal(t, uint64(42&0xffffff), g.load(), "a short file reads as its bytes and zeros")
}

// TestGenerationFileLoadAllocs: reading the generation costs no
// allocation (it runs at the start of every metadata read).
func TestGenerationFileLoadAllocs(t *testing.T) {
	g, err := openGenerationFile(filepath.Join(t.TempDir(), "meta.lock"))
	require.NoError(t, err)
	defer g.close()
	w, err := os.OpenFile(filepath.Join(filepath.Dir(g.f.Name()), "meta.lock"), os.O_RDWR, 0)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, newGeneration(w))
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = g.load() }))
}
