package jobartifacts

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// This file lends zstd (method 93) decoders to entries, within a count and
// a byte budget. What a stream costs is its history: klauspost's decoder
// keeps a ring of the frame's declared window plus two blocks (a frame of
// one segment declares its content size instead), allocated on the first
// block and kept across Resets; the rest of a decoder is a few hundred KiB
// at most. The engine lowers every window above the entry's size to it
// (ziparchive.OpenEntry). The window a frame needs is read from its header
// before a decoder is chosen, and every decoder is made for a window class it
// cannot exceed (zstd.WithDecoderMaxWindow), so that its charge is an
// upper bound of its memory. Idle decoders keep their ring for the next
// entry of their class, inside the same budget: they are the first to go
// when a stream needs room.

// DefaultZstdDecoders is how many zstd decoders a Handler keeps at most,
// in use or idle (WithZstdDecoders).
const DefaultZstdDecoders = 8

// DefaultZstdMemory bounds the memory of a Handler's zstd decoders, in use
// or idle (WithZstdMemory): seven streams of klauspost's and zstd's usual
// 8 MiB window at once, many more of small entries.
const DefaultZstdMemory = 64 << 20

const (
	// zstdMinWindowClass is the smallest window a decoder is made for, so
	// that decoders of small entries serve one another.
	zstdMinWindowClass = 64 << 10
	// zstdBlockSize is the largest zstd block; the history ring holds two
	// more than the window, and a block's literals and input are buffered.
	zstdBlockSize = 128 << 10
	// zstdDecoderOverhead is a decoder's memory besides its history and
	// block buffers (sequence tables, its input reader).
	zstdDecoderOverhead = 64 << 10
)

// zstdDecoderCharge is what a decoder made for window class w may hold:
// the ring (w plus two blocks of room), a block's literals and its input
// (BenchmarkZstdStreamMemory: a stream of an 8 MiB window allocates
// 8.55 MiB, charged 8.56; a 1 MiB entry, lowered to a 1 MiB window,
// 1.45 MiB, charged 1.56; a 4 KiB single-segment frame 60 KiB, charged
// 384).
func zstdDecoderCharge(w uint64) int64 {
	return int64(w + 4*min(w, zstdBlockSize) + zstdDecoderOverhead)
}

// zstdWindowClass is the power of two at least w, within
// [zstdMinWindowClass, ziparchive.MaxZstdWindow].
func zstdWindowClass(w uint64) uint64 {
	w = max(w, zstdMinWindowClass)
	if w >= ziparchive.MaxZstdWindow {
		return ziparchive.MaxZstdWindow
	}
	return 1 << bits.Len64(w-1)
}

// zstdDecoderPool lends synchronous zstd decoders: at most count exist
// (in use or idle) and their charges stay within budget (0: no such
// bound), except that a stream needing more than the whole budget runs
// when no other decoder exists. A request finding no room waits, first
// come first served, under its context. (sync.Pool would bound nothing.)
type zstdDecoderPool struct {
	count  int   // 0: no bound
	budget int64 // 0: no bound

	mu      sync.Mutex
	used    int64 // charges of the decoders that exist
	exist   int
	idle    []*pooledDecoder // least recently used first
	queue   []*zstdWaiter    // waiting requests, first come first
	changed chan struct{}    // closed (and replaced) when room may have freed
}

// pooledDecoder is a decoder made for one window class.
type pooledDecoder struct {
	dec    *zstd.Decoder
	window uint64
	charge int64
}

// zstdWaiter is one request in the queue, known by its address (not
// zero-sized: pointers to distinct zero-sized values may be equal).
type zstdWaiter struct{ _ byte }

var _ ziparchive.ZstdDecoders = (*zstdDecoderPool)(nil)

// newZstdDecoderPool returns nil, a decoder per entry and no bound, when
// neither count nor budget bounds anything.
func newZstdDecoderPool(count int, budget int64) *zstdDecoderPool {
	if count <= 0 && budget <= 0 {
		return nil
	}
	return &zstdDecoderPool{count: max(count, 0), budget: max(budget, 0), changed: make(chan struct{})}
}

// ZstdReader returns a decoder reading src; Close gives it back. The
// window of src's first frame picks the decoder; a later frame asking for
// a larger window than its class fails as damaged data. size (the entry's
// uncompressed size) is not needed: the engine has lowered every window to
// about that. A nil pool gives every entry a decoder of its own.
func (p *zstdDecoderPool) ZstdReader(ctx context.Context, src io.Reader, _ uint64) (io.ReadCloser, error) {
	if p == nil {
		return ziparchive.NewZstdDecompressor(src), nil
	}
	window, src, err := peekZstdWindow(src)
	if err != nil {
		return nil, err
	}
	d, err := p.acquire(ctx, zstdWindowClass(window))
	if err != nil {
		return nil, err
	}
	if err := d.dec.Reset(src); err != nil {
		p.release(d)
		return nil, err
	}
	return &pooledZstdReader{d: d, pool: p}, nil
}

// peekZstdWindow reads the first frame's header and returns the window it
// declares (its content size for a single-segment frame), and src with
// the header put back. A header that cannot be read asks for the largest
// window: the decoder reports what is wrong with it.
func peekZstdWindow(src io.Reader) (uint64, io.Reader, error) {
	head := make([]byte, zstd.HeaderMaxSize+4) // a frame header and a block header
	n, err := io.ReadFull(src, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return 0, nil, err
	}
	head = head[:n]
	src = io.MultiReader(bytes.NewReader(head), src)
	var h zstd.Header
	switch {
	case h.Decode(head) != nil || h.Skippable:
		return ziparchive.MaxZstdWindow, src, nil
	case h.SingleSegment:
		return max(h.FrameContentSize, zstd.MinWindowSize), src, nil
	default:
		return h.WindowSize, src, nil
	}
}

// acquire returns an idle decoder of class window or larger, or makes one
// when count and budget allow (evicting idle ones to make room), or waits.
func (p *zstdDecoderPool) acquire(ctx context.Context, window uint64) (*pooledDecoder, error) {
	charge := zstdDecoderCharge(window)
	w := &zstdWaiter{}
	p.mu.Lock()
	p.queue = append(p.queue, w)
	for {
		if p.queue[0] == w {
			if d := p.takeIdleLocked(window); d != nil {
				p.leaveQueueLocked(w)
				p.mu.Unlock()
				return d, nil
			}
			for !p.fitsLocked(charge) && len(p.idle) > 0 {
				p.evictLocked(0)
			}
			if p.fitsLocked(charge) {
				p.used += charge
				p.exist++
				p.leaveQueueLocked(w)
				p.mu.Unlock()
				dec, err := zstd.NewReader(nil,
					zstd.WithDecoderConcurrency(1),
					zstd.WithDecoderLowmem(true),
					zstd.WithDecoderMaxWindow(window),
				)
				if err != nil {
					p.forget(charge)
					return nil, fmt.Errorf("jobartifacts: zstd decoder: %w", err)
				}
				return &pooledDecoder{dec: dec, window: window, charge: charge}, nil
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
			p.mu.Lock()
		case <-ctx.Done():
			p.mu.Lock()
			p.leaveQueueLocked(w)
			p.mu.Unlock()
			return nil, fmt.Errorf("jobartifacts: waiting for a zstd decoder: %w", ctx.Err())
		}
	}
}

// fitsLocked reports whether a new decoder of charge may be made.
func (p *zstdDecoderPool) fitsLocked(charge int64) bool {
	if p.count > 0 && p.exist >= p.count {
		return false
	}
	return p.budget == 0 || p.used+charge <= p.budget || p.exist == 0
}

// takeIdleLocked removes and returns the smallest idle decoder of class
// window or larger, if any.
func (p *zstdDecoderPool) takeIdleLocked(window uint64) *pooledDecoder {
	best := -1
	for i, d := range p.idle {
		if d.window >= window && (best < 0 || d.window < p.idle[best].window) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	d := p.idle[best]
	p.idle = slices.Delete(p.idle, best, best+1)
	return d
}

// evictLocked drops idle decoder i; the garbage collector takes its ring.
func (p *zstdDecoderPool) evictLocked(i int) {
	d := p.idle[i]
	p.idle = slices.Delete(p.idle, i, i+1)
	d.dec.Close()
	p.used -= d.charge
	p.exist--
}

// leaveQueueLocked removes w and lets the next in line look again.
func (p *zstdDecoderPool) leaveQueueLocked(w *zstdWaiter) {
	if i := slices.Index(p.queue, w); i >= 0 {
		p.queue = slices.Delete(p.queue, i, i+1)
	}
	p.broadcastLocked()
}

func (p *zstdDecoderPool) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// forget takes back the charge of a decoder that was never made.
func (p *zstdDecoderPool) forget(charge int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.used -= charge
	p.exist--
	p.broadcastLocked()
}

// release makes d idle, most recently used; a waiter may take it or evict
// it.
func (p *zstdDecoderPool) release(d *pooledDecoder) {
	_ = d.dec.Reset(nil) // drop the reader; the decoder keeps its ring
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, d)
	p.broadcastLocked()
}

// pooledZstdReader reads one entry with a lent decoder.
type pooledZstdReader struct {
	mu   sync.Mutex
	d    *pooledDecoder
	pool *zstdDecoderPool
}

func (r *pooledZstdReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d == nil {
		return 0, ziparchive.ErrClosed
	}
	return r.d.dec.Read(p)
}

func (r *pooledZstdReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d != nil {
		r.pool.release(r.d)
		r.d = nil
	}
	return nil
}
