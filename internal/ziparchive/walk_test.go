package ziparchive_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

func TestWalkAndValidate(t *testing.T) {
	archive := ziptest.Build(t, ziptest.Stored("a.txt", "alpha"), ziptest.Deflated("dir/b.txt", "beta"))
	ra, size := bytes.NewReader(archive), int64(len(archive))
	require.NoError(t, ziparchive.Validate(context.Background(), ra, size))

	var names []string
	var dir ziparchive.Directory
	err := ziparchive.Walk(context.Background(), ra, size, func(d ziparchive.Directory) { dir = d }, func(r *ziparchive.Record) (bool, error) {
		names = append(names, string(r.Name))
		start, err := ziparchive.LocalDataOffset(ra, r.HeaderOffset)
		require.NoError(t, err)
		require.LessOrEqual(t, start+int64(r.CompressedSize), size)
		return false, nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{"a.txt", "dir/b.txt"}, names)
	require.Equal(t, uint64(2), dir.Records)

	// Cut anywhere, or not a zip at all: ErrFormat, never a panic.
	for cut := range len(archive) {
		if err := ziparchive.Validate(context.Background(), bytes.NewReader(archive[:cut]), int64(cut)); err != nil {
			require.ErrorIs(t, err, ziparchive.ErrFormat, "cut at %d", cut)
		}
	}
	_, err = ziparchive.LocalDataOffset(ra, size-4)
	require.ErrorIs(t, err, ziparchive.ErrFormat)
}
