package ziparchive_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"testing"
	"testing/iotest"

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

// TestVerifyingReader: the declared size and CRC are checked at the end;
// more bytes than declared fail at once.
func TestVerifyingReader(t *testing.T) {
	data := []byte("hello, verified world")
	read := func(crc uint32, size uint64) error {
		_, err := io.ReadAll(ziparchive.NewVerifyingReader(io.NopCloser(bytes.NewReader(data)), crc, size, nil))
		return err
	}
	good := crc32.ChecksumIEEE(data)
	require.NoError(t, read(good, uint64(len(data))))
	require.NoError(t, read(0, uint64(len(data))), "a zero CRC is not checked without a descriptor")
	require.ErrorIs(t, read(good^1, uint64(len(data))), ziparchive.ErrChecksum)
	require.ErrorIs(t, read(good, uint64(len(data))+1), io.ErrUnexpectedEOF)
	require.ErrorIs(t, read(good, uint64(len(data))-1), ziparchive.ErrFormat)
}

// TestVerifyingReaderDescriptor: the data descriptor's CRC is read with or
// without its signature, however the reader splits it, and a descriptor
// cut short is a truncated entry.
func TestVerifyingReaderDescriptor(t *testing.T) {
	data := []byte("some entry data")
	crc := crc32.ChecksumIEEE(data)
	le := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	sizes := append(le(uint32(len(data))), le(uint32(len(data)))...)
	signed := append(append(le(ziparchive.DataDescriptorSignature), le(crc)...), sizes...)
	unsigned := append(le(crc), sizes...)
	tests := []struct {
		name       string
		descriptor []byte
		want       error
	}{
		{"signature", signed, nil},
		{"no signature", unsigned, nil},
		{"no signature, more bytes after", append(append([]byte(nil), unsigned...), "PK\x01\x02"...), nil},
		{"signature, cut", signed[:15], io.ErrUnexpectedEOF},
		{"no signature, cut", unsigned[:11], io.ErrUnexpectedEOF},
		{"empty", nil, io.ErrUnexpectedEOF},
		{"wrong CRC", append(le(crc+1), sizes...), ziparchive.ErrChecksum},
	}
	for _, tt := range tests {
		for _, split := range []bool{false, true} {
			var desc io.Reader = bytes.NewReader(tt.descriptor)
			if split {
				desc = iotest.OneByteReader(desc)
			}
			_, err := io.ReadAll(ziparchive.NewVerifyingReader(io.NopCloser(bytes.NewReader(data)), crc, uint64(len(data)), desc))
			if tt.want == nil {
				require.NoError(t, err, "%s (one byte at a time: %v)", tt.name, split)
			} else {
				require.ErrorIs(t, err, tt.want, "%s (one byte at a time: %v)", tt.name, split)
			}
		}
	}
}
