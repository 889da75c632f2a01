package ziparchive

import (
	"bufio"
	"context"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// ZstdDecoders lends decoders to zstd (method 93) entries, so that their
// number and memory are the lender's to bound. OpenEntry and EntryReader
// take one; nil gives every entry a decoder of its own.
type ZstdDecoders interface {
	// ZstdReader returns a decoder of src for an entry of size bytes once
	// decompressed; src's frames declare windows of at most about size
	// (OpenEntry lowers larger ones). Close gives the decoder back. It may
	// wait for one, giving up when ctx ends.
	ZstdReader(ctx context.Context, src io.Reader, size uint64) (io.ReadCloser, error)
}

const (
	// flateInputBufferSize feeds klauspost flate a *bufio.Reader (its fast
	// path) and makes each blob ReadAt a reasonable size for object storage.
	flateInputBufferSize = 64 << 10
	// MaxZstdWindow bounds the window a zstd entry may ask for; 32 MiB
	// covers every zstd level short of --long/--ultra.
	MaxZstdWindow = 32 << 20
)

// newFlateDecompressor gives klauspost flate the *bufio.Reader its fast path
// needs.
func newFlateDecompressor(r io.Reader) io.ReadCloser {
	return flate.NewReader(bufio.NewReaderSize(r, flateInputBufferSize))
}

// NewFlateDecompressor is the deflate decompressor OpenEntry uses, for a
// zip.Reader's RegisterDecompressor.
func NewFlateDecompressor(r io.Reader) io.ReadCloser { return newFlateDecompressor(r) }

// NewZstdDecompressor decodes one zstd entry synchronously (no decoder
// goroutines) with bounded memory; Close releases the decoder.
func NewZstdDecompressor(r io.Reader) io.ReadCloser {
	dec, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(MaxZstdWindow),
	)
	if err != nil {
		return io.NopCloser(errorReader{err})
	}
	return dec.IOReadCloser()
}
