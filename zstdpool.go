package jobartifacts

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// DefaultZstdDecoders is how many zstd decoders a Handler keeps at most
// (WithZstdDecoders).
// Each holds the window of the frames it decodes (8 MiB for klauspost's and
// zstd's higher levels, up to ziparchive.MaxZstdWindow), so their number, not the
// number of requests, bounds the memory zstd entries take: at most
// DefaultZstdDecoders × zstdMaxWindow, about 8 × 8 MiB in practice.
const DefaultZstdDecoders = 8

// zstdDecoderPool lends synchronous, low-memory zstd decoders: at most cap
// of them exist; a request finding all in use waits for one, under its
// context. (sync.Pool would bound nothing.)
type zstdDecoderPool struct {
	free   chan *zstd.Decoder // idle decoders
	tokens chan struct{}      // one per decoder that may still be made
}

func newZstdDecoderPool(n int) *zstdDecoderPool {
	if n <= 0 {
		return nil
	}
	p := &zstdDecoderPool{free: make(chan *zstd.Decoder, n), tokens: make(chan struct{}, n)}
	for range n {
		p.tokens <- struct{}{}
	}
	return p
}

var _ ziparchive.ZstdDecoders = (*zstdDecoderPool)(nil)

// ZstdReader returns a decoder reading r; Close gives it back. A nil pool
// gives every entry a decoder of its own.
func (p *zstdDecoderPool) ZstdReader(ctx context.Context, r io.Reader, _ uint64) (io.ReadCloser, error) {
	if p == nil {
		return ziparchive.NewZstdDecompressor(r), nil
	}
	var dec *zstd.Decoder
	select {
	case dec = <-p.free:
	default:
		select {
		case dec = <-p.free:
		case <-p.tokens:
			var err error
			dec, err = zstd.NewReader(nil,
				zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(ziparchive.MaxZstdWindow),
			)
			if err != nil {
				p.tokens <- struct{}{}
				return nil, fmt.Errorf("jobartifacts: zstd decoder: %w", err)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("jobartifacts: waiting for a zstd decoder: %w", ctx.Err())
		}
	}
	if err := dec.Reset(r); err != nil {
		p.put(dec)
		return nil, err
	}
	return &pooledZstdReader{dec: dec, pool: p}, nil
}

func (p *zstdDecoderPool) put(dec *zstd.Decoder) {
	_ = dec.Reset(nil) // drop the reader; the decoder keeps its buffers
	p.free <- dec
}

// pooledZstdReader reads one entry with a lent decoder.
type pooledZstdReader struct {
	mu   sync.Mutex
	dec  *zstd.Decoder
	pool *zstdDecoderPool
}

func (r *pooledZstdReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dec == nil {
		return 0, ziparchive.ErrClosed
	}
	return r.dec.Read(p)
}

func (r *pooledZstdReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dec != nil {
		r.pool.put(r.dec)
		r.dec = nil
	}
	return nil
}
