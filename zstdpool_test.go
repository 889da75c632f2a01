package jobartifacts

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// TestZstdDecoderPoolBound: no more decoders than the pool's count exist; a
// request finding none waits, and gives up with its context.
func TestZstdDecoderPoolBound(t *testing.T) {
	payload := logText(100_000)
	frame := zstdEntryBytes(t, payload)
	pool := newZstdDecoderPool(2, 0)
	a, err := pool.ZstdReader(context.Background(), bytes.NewReader(frame), 0)
	require.NoError(t, err)
	b, err := pool.ZstdReader(context.Background(), bytes.NewReader(frame), 0)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = pool.ZstdReader(ctx, bytes.NewReader(frame), 0)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a third decoder must wait")

	got := make(chan []byte)
	go func() {
		c, err := pool.ZstdReader(context.Background(), bytes.NewReader(frame), 0)
		if err != nil {
			got <- nil
			return
		}
		data, _ := io.ReadAll(c)
		_ = c.Close() // given back before the test looks
		got <- data
	}()
	data, err := io.ReadAll(a)
	require.NoError(t, err)
	require.Equal(t, payload, data)
	require.NoError(t, a.Close())
	require.Equal(t, payload, <-got, "the waiter gets the decoder given back")
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "closing twice gives back once")
	pool.mu.Lock()
	require.Len(t, pool.idle, 2)
	pool.mu.Unlock()

	// A decoder that failed on bad data serves the next entry.
	bad, err := pool.ZstdReader(context.Background(), bytes.NewReader(append(bytes.Clone(frame[:len(frame)/2]), 0xff, 0xff)), 0)
	require.NoError(t, err)
	_, err = io.ReadAll(bad)
	require.Error(t, err)
	require.NoError(t, bad.Close())
	for range 3 {
		c, err := pool.ZstdReader(context.Background(), bytes.NewReader(frame), 0)
		require.NoError(t, err)
		data, err := io.ReadAll(c)
		require.NoError(t, err)
		require.Equal(t, payload, data)
		require.NoError(t, c.Close())
	}
	require.Equal(t, 2, pool.exist)
}

// TestZstdDecoderPoolQueue: waiters are served first come first served; one
// that gives up lets the next in line through.
func TestZstdDecoderPoolQueue(t *testing.T) {
	frame := zstdEntryBytes(t, logText(10_000))
	pool := newZstdDecoderPool(1, 0)
	held, err := pool.ZstdReader(context.Background(), bytes.NewReader(frame), 0)
	require.NoError(t, err)

	order := make(chan string, 3)
	waitFor := func(name string, ctx context.Context) {
		rc, err := pool.ZstdReader(ctx, bytes.NewReader(frame), 0)
		if err != nil {
			order <- name + " gave up"
			return
		}
		order <- name
		_, _ = io.Copy(io.Discard, rc)
		_ = rc.Close()
	}
	queued := func(n int) {
		require.Eventually(t, func() bool {
			pool.mu.Lock()
			defer pool.mu.Unlock()
			return len(pool.queue) == n
		}, 5*time.Second, time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go waitFor("first", ctx)
	queued(1)
	go waitFor("second", context.Background())
	queued(2)
	go waitFor("third", context.Background())
	queued(3)
	cancel()
	require.Equal(t, "first gave up", <-order)
	require.NoError(t, held.Close())
	require.Equal(t, "second", <-order)
	require.Equal(t, "third", <-order)
}

// TestZstdDecoderPoolMemory: the byte budget admits streams by the window
// their frames declare; idle decoders are reused by their class and evicted
// to make room; waiting gives up with the context; a stream larger than the
// whole budget runs alone.
func TestZstdDecoderPoolMemory(t *testing.T) {
	big := logText(12 << 20) // streamed by the zip writer: an 8 MiB window
	bigFrame := zstdEntryBytes(t, big)
	small := logText(4 << 10) // one block: a single-segment frame of 4 KiB
	smallFrame := zstdEntryBytes(t, small)

	for _, c := range []struct {
		frame  []byte
		window uint64
	}{{bigFrame, 8 << 20}, {smallFrame, 4 << 10}} {
		w, _, err := peekZstdWindow(bytes.NewReader(c.frame))
		require.NoError(t, err)
		require.Equal(t, c.window, w)
	}
	require.Equal(t, uint64(zstdMinWindowClass), zstdWindowClass(4<<10))
	require.Equal(t, uint64(8<<20), zstdWindowClass(8<<20))
	require.Equal(t, uint64(16<<20), zstdWindowClass(8<<20+1))
	require.Equal(t, uint64(ziparchive.MaxZstdWindow), zstdWindowClass(1<<30))

	bigCharge, smallCharge := zstdDecoderCharge(8<<20), zstdDecoderCharge(zstdMinWindowClass)
	pool := newZstdDecoderPool(0, bigCharge+smallCharge)
	read := func(rc io.ReadCloser, want []byte) {
		t.Helper()
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.NoError(t, rc.Close())
	}
	open := func(ctx context.Context, frame []byte) (io.ReadCloser, error) {
		return pool.ZstdReader(ctx, bytes.NewReader(frame), 0)
	}

	b1, err := open(context.Background(), bigFrame)
	require.NoError(t, err)
	s1, err := open(context.Background(), smallFrame)
	require.NoError(t, err, "a small stream fits beside the big one")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err = open(ctx, bigFrame)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "a second big stream waits for room")
	require.Equal(t, bigCharge+smallCharge, pool.used)

	waiter := make(chan error, 1)
	go func() {
		b2, err := open(context.Background(), bigFrame)
		if err == nil {
			_, err = io.Copy(io.Discard, b2)
			_ = b2.Close()
		}
		waiter <- err
	}()
	read(b1, big)
	require.NoError(t, <-waiter, "the waiter takes the big decoder given back")
	read(s1, small)
	require.Equal(t, 2, pool.exist, "the waiter reused the idle decoder")
	require.Equal(t, bigCharge+smallCharge, pool.used, "idle decoders stay charged")

	// Larger than the whole budget (a 16 MiB window): idle decoders are
	// dropped and it runs alone.
	huge := zstdWindowFrame(t, 16<<20, logText(256<<10))
	w, _, err := peekZstdWindow(bytes.NewReader(huge))
	require.NoError(t, err)
	require.Equal(t, uint64(16<<20), w)
	h, err := open(context.Background(), huge)
	require.NoError(t, err)
	require.Equal(t, 1, pool.exist)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err = open(ctx, smallFrame)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "nothing runs beside a stream over the budget")
	read(h, logText(256<<10))
	s2, err := open(context.Background(), smallFrame)
	require.NoError(t, err)
	read(s2, small)
}

// zstdWindowFrame is payload as one zstd frame declaring window bytes,
// whatever its size.
func zstdWindowFrame(t testing.TB, window int, payload []byte) []byte {
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out, zstd.WithWindowSize(window), zstd.WithSingleSegment(false))
	require.NoError(t, err)
	_, err = enc.Write(payload)
	require.NoError(t, err)
	require.NoError(t, enc.Close())
	return out.Bytes()
}

// zstdEntryBytes is payload as a zstd frame, as ziptest writes method 93.
func zstdEntryBytes(t testing.TB, payload []byte) []byte {
	archive := ziptest.Build(t, ziptest.Entry{Name: "z", Body: payload, Method: ziptest.Zstd})
	a := ziparchive.NewArchive(bytes.NewReader(archive), int64(len(archive)))
	e, err := a.Find(context.Background(), "z")
	require.NoError(t, err)
	start, err := a.DataOffset(e)
	require.NoError(t, err)
	return archive[start : start+int64(e.CompressedSize)]
}

// BenchmarkZstdStreamMemory reports what one zstd entry read to its end
// allocates (alloc-B/stream), what the pool still holds once it is over
// and its decoder idle (idle-B), and what the pool charged for it
// (charge-B): entries of 16 MiB (an 8 MiB window), 1 MiB (streamed by the
// zip writer, it declares 8 MiB too; the engine lowers it to 1 MiB) and
// 4 KiB (a single-segment frame), through a pool that makes a decoder
// (warm=false) or reuses the idle one (warm=true).
func BenchmarkZstdStreamMemory(b *testing.B) {
	for _, size := range []int{16 << 20, 1 << 20, 4 << 10} {
		payload := logText(size)
		archive := ziptest.Build(b, ziptest.Entry{Name: "z", Body: payload, Method: ziptest.Zstd})
		a := ziparchive.NewArchive(bytes.NewReader(archive), int64(len(archive)))
		e, err := a.Find(context.Background(), "z")
		require.NoError(b, err)
		for _, warm := range []bool{false, true} {
			b.Run(fmt.Sprintf("entry=%d/warm=%v", size, warm), func(b *testing.B) {
				var before, ms0, ms1 runtime.MemStats
				var allocated, idle uint64
				var charge int64
				for b.Loop() {
					runtime.GC()
					runtime.ReadMemStats(&before)
					pool := newZstdDecoderPool(DefaultZstdDecoders, DefaultZstdMemory)
					stream := func() {
						rc, err := a.OpenEntry(context.Background(), e, pool)
						if err != nil {
							b.Fatal(err)
						}
						if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(size) {
							b.Fatal(n, err)
						}
						_ = rc.Close()
					}
					if warm {
						stream()
					}
					runtime.GC()
					runtime.ReadMemStats(&ms0)
					stream()
					runtime.ReadMemStats(&ms1)
					allocated = ms1.TotalAlloc - ms0.TotalAlloc
					runtime.GC()
					runtime.ReadMemStats(&ms1)
					idle = ms1.HeapAlloc - min(ms1.HeapAlloc, before.HeapAlloc)
					charge = pool.used
					runtime.KeepAlive(pool)
				}
				b.ReportMetric(float64(allocated), "alloc-B/stream")
				b.ReportMetric(float64(idle), "idle-B")
				b.ReportMetric(float64(charge), "charge-B")
			})
		}
	}
}

// BenchmarkZstdEntryMemory serves one zstd entry of 16 MiB to 100
// requests at once, each reading 1 MiB, pausing, then reading the rest
// (issue 12's slow readers, with a shorter pause), and reports the peak
// heap per request. The entry's frame declares an 8 MiB window
// (klauspost's default level, as the zip writer streams it) or 32 MiB (the
// most a frame may ask; the engine lowers it to the entry's 16 MiB). Pools: the Handler's defaults (8 decoders,
// 64 MiB), 8 decoders and no byte budget (before WithZstdMemory), and a
// decoder per request (issue 12 measured 8.6 MiB per in-flight zstd entry).
func BenchmarkZstdEntryMemory(b *testing.B) {
	const n = 100
	payload := logText(16 << 20)
	entries := map[string]*zipTestBlob{
		"window=8MiB": memZipBlob(ziptest.Build(b, ziptest.Entry{Name: "big.log", Body: payload, Method: ziptest.Zstd})),
		"window=32MiB": memZipBlob(ziptest.Build(b, ziptest.Entry{Raw: true, Name: "big.log", Method: ziptest.Zstd,
			Body: zstdWindowFrame(b, 32<<20, payload), CRC32: crc32.ChecksumIEEE(payload), UncompressedSize: uint64(len(payload))})),
	}
	for _, entry := range []string{"window=8MiB", "window=32MiB"} {
		for _, c := range []struct {
			name   string
			count  int
			budget int64
		}{
			{"default", DefaultZstdDecoders, DefaultZstdMemory},
			{"count-only", DefaultZstdDecoders, 0},
			{"unbounded", 0, 0},
		} {
			b.Run(entry+"/pool="+c.name, func(b *testing.B) {
				blob := entries[entry]
				var peak uint64
				for b.Loop() {
					pool := newZstdDecoderPool(c.count, c.budget)
					p := peakHeap(func() {
						var wg sync.WaitGroup
						for range n {
							wg.Go(func() {
								w := &slowResponseWriter{header: http.Header{}, pauseAt: 1 << 20, pause: 20 * time.Millisecond}
								req := httptest.NewRequest(http.MethodGet, "/", nil)
								if err := serveArchiveEntry(w, req, blob, "big.log", entryOptions{zstd: pool}); err != nil {
									panic(err)
								}
								if w.n != int64(len(payload)) {
									panic("short")
								}
							})
						}
						wg.Wait()
					})
					peak = max(peak, p)
				}
				b.ReportMetric(float64(peak)/n/(1<<20), "peak-MiB/request")
			})
		}
	}
}

// slowResponseWriter counts what it is sent and pauses once after pauseAt
// bytes, as a client that reads a while and stalls.
type slowResponseWriter struct {
	header  http.Header
	n       int64
	pauseAt int64
	pause   time.Duration
}

func (w *slowResponseWriter) Header() http.Header { return w.header }
func (w *slowResponseWriter) WriteHeader(int)     {}
func (w *slowResponseWriter) Write(p []byte) (int, error) {
	if w.n < w.pauseAt && w.n+int64(len(p)) >= w.pauseAt {
		time.Sleep(w.pause)
	}
	w.n += int64(len(p))
	return len(p), nil
}
