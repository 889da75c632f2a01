package fsstore

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// TestBlobIsFileBlob: fsstore's blobs offer their file to the handler's
// sendfile (jobartifacts.FileBlob), and reading the Blob never moves the
// file's offset, which is the caller's.
func TestBlobIsFileBlob(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	data := bytes.Repeat([]byte("fsstore "), 10000)
	_, err = s.PutBlob(ctx, "1/2/blob", bytes.NewReader(data))
	require.NoError(t, err)

	b, err := s.OpenBlob(ctx, "1/2/blob")
	require.NoError(t, err)
	defer b.Close()
	fb, ok := b.(jobartifacts.FileBlob)
	require.True(t, ok, "fsstore's Blob is a FileBlob")

	p := make([]byte, 100)
	_, err = b.ReadAt(p, 500)
	require.NoError(t, err)
	rr, err := b.NewRangeReader(10, -1)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, rr)
	require.NoError(t, err)
	pos, err := fb.File().Seek(0, io.SeekCurrent)
	require.NoError(t, err)
	require.Zero(t, pos, "the Blob reads with pread only")

	got, err := io.ReadAll(fb.File())
	require.NoError(t, err)
	require.Equal(t, data, got)
}
