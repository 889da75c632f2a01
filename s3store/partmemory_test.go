package s3store_test

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/s3store"
)

// countingReader counts what it hands out; it pauses at pause bytes (if
// > 0) until release is closed.
type countingReader struct {
	data    []byte
	pause   int
	release chan struct{}
	paused  chan struct{} // closed when the pause starts
	mu      sync.Mutex
	n       int
}

func newCountingReader(data []byte, pause int) *countingReader {
	return &countingReader{data: data, pause: pause, release: make(chan struct{}), paused: make(chan struct{})}
}

func (r *countingReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	n := r.n
	r.mu.Unlock()
	if r.pause > 0 && n == r.pause {
		select {
		case <-r.paused:
		default:
			close(r.paused)
		}
		<-r.release
	}
	end := len(r.data)
	if r.pause > 0 && n < r.pause {
		end = r.pause
	}
	if n == end {
		return 0, io.EOF
	}
	c := copy(p, r.data[n:end])
	r.mu.Lock()
	r.n += c
	r.mu.Unlock()
	return c, nil
}

func (r *countingReader) read() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// putAsync runs PutBlob on a goroutine; its error arrives on the channel.
func putAsync(ctx context.Context, s *s3store.Store, key jobartifacts.BlobKey, r io.Reader) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := s.PutBlob(ctx, key, onlyReader{r})
		done <- err
	}()
	return done
}

// With room for one part: a blob that ends within its first MiB never
// waits; a larger one waits, reading nothing past that MiB, until the part
// in use is free, then stores every byte; one whose context ends while it
// waits fails with the context's error and leaves nothing.
func TestPutBlobPartMemory(t *testing.T) {
	const part = 5 << 20
	f := newFixture(t, s3store.WithPartSize(part), s3store.WithPartMemory(part))
	big := pseudoRandom(50, part+(2<<20))
	holder := newCountingReader(big, part+(1<<20)) // a part sent, then paused
	holderKey, waiterKey, quitterKey := blobKey("holder"), blobKey("waiter"), blobKey("quitter")
	holderDone := putAsync(t.Context(), f.store, holderKey, holder)
	select {
	case <-holder.paused:
	case err := <-holderDone:
		t.Fatalf("the holder ended before its pause: %v", err)
	}

	small, smallKey := pseudoRandom(51, 1<<20-1), blobKey("small") // within the first read
	select {
	case err := <-putAsync(t.Context(), f.store, smallKey, bytes.NewReader(small)):
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("a blob within its first MiB waited for part memory")
	}
	require.Equal(t, small, f.read(t, smallKey))

	waiter := newCountingReader(pseudoRandom(52, part+3), 0)
	waiterDone := putAsync(t.Context(), f.store, waiterKey, waiter)
	require.Eventually(t, func() bool { return waiter.read() == 1<<20 }, 30*time.Second, time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, 1<<20, waiter.read(), "the waiter read on without a part buffer")
	select {
	case err := <-waiterDone:
		t.Fatalf("the waiter ended while the holder had the part: %v", err)
	default:
	}

	ctx, cancel := context.WithCancel(t.Context())
	quitter := newCountingReader(pseudoRandom(53, part+3), 0)
	quitterDone := putAsync(ctx, f.store, quitterKey, quitter)
	require.Eventually(t, func() bool { return quitter.read() == 1<<20 }, 30*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-quitterDone, context.Canceled)

	close(holder.release)
	require.NoError(t, <-holderDone)
	require.NoError(t, <-waiterDone)
	require.Equal(t, big, f.read(t, holderKey))
	require.Equal(t, waiter.data, f.read(t, waiterKey))
	requireNothingUnder(t, f, quitterKey)
}

// A small blob costs its first read's buffer (1 MiB), not a part's, even
// when no buffer is pooled (two collections empty the pools).
func TestPutBlobSmallMemory(t *testing.T) {
	const part = 16 << 20
	f := newFixture(t, s3store.WithPartSize(part))
	data := pseudoRandom(54, 1000)
	f.put(t, "warmup", data)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&before)
		f.put(t, "small", data)
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("a put of 1000 bytes, pools empty, allocated %.1f MiB", float64(allocated)/(1<<20))
		require.Less(t, allocated, uint64(part/4), "not a part buffer")
	}
}
