package ziparchive

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// zstdFrame is payload as one streamed frame declaring window bytes.
func zstdFrame(t testing.TB, window int, payload []byte, opts ...zstd.EOption) []byte {
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out, append([]zstd.EOption{zstd.WithWindowSize(window), zstd.WithSingleSegment(false)}, opts...)...)
	require.NoError(t, err)
	_, err = enc.Write(payload)
	require.NoError(t, err)
	require.NoError(t, enc.Close())
	return out.Bytes()
}

func decodeZstd(t testing.TB, src io.Reader, maxWindow uint64) ([]byte, error) {
	dec, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
	require.NoError(t, err)
	defer dec.Close()
	return io.ReadAll(dec)
}

// TestClampZstdWindows: frames declaring more window than the entry holds
// decode the same with their window lowered to the entry's size, which a
// decoder allowed no more than that accepts; skippable frames, checksums,
// several frames and bytes that are no zstd pass through.
func TestClampZstdWindows(t *testing.T) {
	a, b := logText(300<<10), logText(200<<10)
	skippable := []byte{0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'}
	stream := bytes.Join([][]byte{
		zstdFrame(t, 8<<20, a),
		skippable,
		zstdFrame(t, 8<<20, b, zstd.WithEncoderCRC(false)),
		zstdFrame(t, 4<<10, b[:1000]), // already small: left alone
	}, nil)
	want := append(append(bytes.Clone(a), b...), b[:1000]...)
	size := uint64(len(want))

	_, err := decodeZstd(t, bytes.NewReader(stream), size+size/4)
	require.Error(t, err, "as declared, the windows exceed the entry")
	clamped, err := io.ReadAll(clampZstdWindows(bytes.NewReader(stream), size))
	require.NoError(t, err)
	require.Len(t, clamped, len(stream), "only descriptors change")
	got, err := decodeZstd(t, bytes.NewReader(clamped), size+size/4)
	require.NoError(t, err)
	require.Equal(t, want, got)

	var h zstd.Header
	require.NoError(t, h.Decode(clamped))
	require.Equal(t, uint64(512<<10), h.WindowSize, "the smallest descriptor at least 513,000 bytes")

	// Cut anywhere, or not zstd: the bytes pass through unchanged but for
	// the descriptors of whole frame headers.
	for cut := range len(stream) {
		out, err := io.ReadAll(clampZstdWindows(bytes.NewReader(stream[:cut]), size))
		require.NoError(t, err)
		require.Len(t, out, cut)
	}
	junk := []byte("PK\x03\x04 not a zstd frame at all")
	out, err := io.ReadAll(clampZstdWindows(bytes.NewReader(junk), size))
	require.NoError(t, err)
	require.Equal(t, junk, out)
}

func TestZstdWindowDescriptor(t *testing.T) {
	for size, want := range map[uint64]uint64{1: 1 << 10, 1 << 10: 1 << 10, 1025: 1152, 300 << 10: 320 << 10, 8 << 20: 8 << 20} {
		require.Equal(t, want, zstdWindowSize(zstdWindowDescriptor(size)), "size %d", size)
	}
}
