package jobartifacts

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// TestZstdDecoderPoolBound: no more decoders than the pool's size exist; a
// request finding none waits, and gives up with its context.
func TestZstdDecoderPoolBound(t *testing.T) {
	payload := logText(100_000)
	frame := zstdEntryBytes(t, payload)
	pool := newZstdDecoderPool(2)
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
		defer c.Close()
		data, _ := io.ReadAll(c)
		got <- data
	}()
	data, err := io.ReadAll(a)
	require.NoError(t, err)
	require.Equal(t, payload, data)
	require.NoError(t, a.Close())
	require.Equal(t, payload, <-got, "the waiter gets the decoder given back")
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "closing twice gives back once")
	require.Len(t, pool.free, 2)

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

// BenchmarkZstdEntryMemory serves one zstd entry (16 MiB, klauspost's
// default level: an 8 MiB window) to 32 requests at once, each reading
// 1 MiB and then the rest, and reports the peak heap per request: with the
// pool (8 decoders) and with a decoder per request (issue 12 measured
// 8.6 MiB per in-flight zstd entry).
func BenchmarkZstdEntryMemory(b *testing.B) {
	const n = 32
	payload := logText(16 << 20)
	blob := memZipBlob(ziptest.Build(b, ziptest.Entry{Name: "big.log", Body: payload, Method: ziptest.Zstd}))
	for _, decoders := range []int{DefaultZstdDecoders, 0} {
		b.Run(fmt.Sprintf("decoders=%d", decoders), func(b *testing.B) {
			var peak uint64
			for b.Loop() {
				pool := newZstdDecoderPool(decoders)
				p := peakHeap(func() {
					var wg sync.WaitGroup
					for range n {
						wg.Go(func() {
							w := &countingResponseWriter{header: http.Header{}}
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
