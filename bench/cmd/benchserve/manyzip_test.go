package main

import (
	"archive/zip"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWriteManyZip: the streamed writer's archives open with the standard
// reader, entries in order and checksums right, with and without the zip64
// end records (needed from 65,535 entries).
func TestWriteManyZip(t *testing.T) {
	for _, n := range []int{1, 3, 65_534, 65_535, 70_000} {
		path := filepath.Join(t.TempDir(), "many.zip")
		require.NoError(t, writeManyZip(path, n, coverageEntry))
		zr, err := zip.OpenReader(path)
		require.NoError(t, err)
		require.Len(t, zr.File, n)
		for _, i := range []int{0, n / 2, n - 1} {
			f := zr.File[i]
			want := coverageEntry(i)
			require.Equal(t, want.name, f.Name)
			rc, err := f.Open()
			require.NoError(t, err)
			body, err := io.ReadAll(rc) // checks the CRC at EOF
			require.NoError(t, err)
			require.Equal(t, want.body, body)
			rc.Close()
		}
		require.NoError(t, zr.Close())
	}
}

// TestTextReader: exactly the bytes asked for, and the same ones each time.
func TestTextReader(t *testing.T) {
	a, err := io.ReadAll(newTextReader(1<<20 + 7))
	require.NoError(t, err)
	require.Len(t, a, 1<<20+7)
	b, err := io.ReadAll(io.LimitReader(newTextReader(1<<20+7), 1000))
	require.NoError(t, err)
	require.Equal(t, a[:1000], b)
}
