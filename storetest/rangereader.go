package storetest

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

func rangeReaderCases() []blobCase {
	return []blobCase{
		{"Ranges", testRangeReaderRanges},
		{"OffsetPastSize", testRangeReaderPastSize},
		{"SeveralOpenAtOnce", testRangeReadersAtOnce},
		{"Concurrent", testRangeReadersConcurrent},
		{"ReadsGovernedByOpenContext", testRangeReaderOpenContext},
	}
}

// readRange reads NewRangeReader(off, length) whole.
func readRange(b jobartifacts.Blob, off, length int64) ([]byte, error) {
	r, err := b.NewRangeReader(off, length)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return got, err
}

// NewRangeReader reads length bytes from offset, everything to the end when
// length is negative, and up to the end when length runs past it.
func testRangeReaderRanges(t *testing.T, s jobartifacts.BlobStore) {
	putBlob(t, s, blobKey("archive"), []byte("0123456789"))
	b, err := s.OpenBlob(t.Context(), blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	tests := []struct {
		off, length int64
		want        string
	}{
		{0, 4, "0123"},
		{3, 4, "3456"},
		{0, 10, "0123456789"},
		{6, 4, "6789"},
		{9, 1, "9"},
		{0, -1, "0123456789"},
		{6, -1, "6789"},
		{8, 10, "89"},
		{0, 1 << 40, "0123456789"},
		{0, 0, ""},
		{5, 0, ""},
		{10, -1, ""},
		{10, 0, ""},
		{10, 5, ""},
	}
	for _, tc := range tests {
		got, err := readRange(b, tc.off, tc.length)
		require.NoError(t, err, "NewRangeReader(%d, %d)", tc.off, tc.length)
		require.Equal(t, tc.want, string(got), "NewRangeReader(%d, %d)", tc.off, tc.length)
	}
}

// An offset past Size is an error, when the reader is made or when it is
// read.
func testRangeReaderPastSize(t *testing.T, s jobartifacts.BlobStore) {
	putBlob(t, s, blobKey("archive"), []byte("0123456789"))
	b, err := s.OpenBlob(t.Context(), blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	for _, tc := range []struct{ off, length int64 }{{11, 1}, {11, -1}, {1000, 0}} {
		got, err := readRange(b, tc.off, tc.length)
		require.Error(t, err, "NewRangeReader(%d, %d)", tc.off, tc.length)
		require.Empty(t, got)
	}
}

// Several range readers of one Blob may be open at once: reads interleaved
// among them each read their own range.
func testRangeReadersAtOnce(t *testing.T, s jobartifacts.BlobStore) {
	data := pseudoRandom(30, 200_000)
	putBlob(t, s, blobKey("archive"), data)
	b, err := s.OpenBlob(t.Context(), blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	ranges := []struct{ off, length int64 }{{0, -1}, {1000, 50_000}, {150_000, -1}, {199_999, 1}}
	readers := make([]io.ReadCloser, len(ranges))
	got := make([]bytes.Buffer, len(ranges))
	for i, rg := range ranges {
		readers[i], err = b.NewRangeReader(rg.off, rg.length)
		require.NoError(t, err)
	}
	done := make([]bool, len(ranges))
	buf := make([]byte, 777)
	for left := len(ranges); left > 0; {
		for i, r := range readers {
			if done[i] {
				continue
			}
			n, err := r.Read(buf)
			got[i].Write(buf[:n])
			if err == io.EOF {
				done[i] = true
				left--
				continue
			}
			require.NoError(t, err, "range %d", i)
		}
	}
	for i, rg := range ranges {
		require.NoError(t, readers[i].Close())
		end := int64(len(data))
		if rg.length >= 0 {
			end = rg.off + rg.length
		}
		require.Equal(t, data[rg.off:end], got[i].Bytes(), "range %d", i)
	}
}

// Range readers of one Blob may be used by several goroutines at once.
func testRangeReadersConcurrent(t *testing.T, s jobartifacts.BlobStore) {
	const size, workers, chunk = 1 << 20, 8, 64 << 10
	data := pseudoRandom(31, size)
	putBlob(t, s, blobKey("archive"), data)
	b, err := s.OpenBlob(t.Context(), blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	var problems errorList
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range 8 {
				off := int64((w*8+i)*7919*13) % (size - chunk)
				got, err := readRange(b, off, chunk)
				switch {
				case err != nil:
					problems.add("worker %d: range at %d: %v", w, off, err)
				case !bytes.Equal(got, data[off:off+chunk]):
					problems.add("worker %d: range at %d: wrong bytes (%d read)", w, off, len(got))
				}
			}
		})
	}
	wg.Wait()
	problems.require(t)
}

// The context given to OpenBlob governs range reads, made before or after
// it is done: they MAY fail with its error, and otherwise read the right
// bytes.
func testRangeReaderOpenContext(t *testing.T, s jobartifacts.BlobStore) {
	data := pseudoRandom(32, 100_000)
	putBlob(t, s, blobKey("archive"), data)
	ctx, cancel := context.WithCancel(t.Context())
	b, err := s.OpenBlob(ctx, blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	before, err := b.NewRangeReader(10, -1)
	require.NoError(t, err)
	cancel()

	got, err := io.ReadAll(before)
	_ = before.Close()
	if err != nil {
		require.ErrorIs(t, err, context.Canceled, "a range reader made before the cancel")
	} else {
		require.Equal(t, data[10:], got)
	}

	got, err = readRange(b, 20, 1000)
	if err != nil {
		require.ErrorIs(t, err, context.Canceled, "a range reader made after the cancel")
	} else {
		require.Equal(t, data[20:1020], got)
	}
}
