package s3store_test

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"slices"
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

// With room for one part, and so for one first-MiB buffer: a blob that
// ends within its first MiB does not wait while that buffer is free; a
// larger one waits, reading nothing past that MiB, until the part in use is
// free, then stores every byte. With both taken, an upload waits before it
// reads a byte, for whichever frees first; one whose context ends while it
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

	// The holder has the part, the waiter the first-MiB buffer.
	ctx, cancel := context.WithCancel(t.Context())
	quitter := newCountingReader(pseudoRandom(53, part+3), 0)
	quitterDone := putAsync(ctx, f.store, quitterKey, quitter)
	late := newCountingReader(pseudoRandom(55, 1000), 0)
	lateKey := blobKey("late")
	lateDone := putAsync(t.Context(), f.store, lateKey, late)
	time.Sleep(200 * time.Millisecond)
	require.Zero(t, quitter.read(), "an upload read without memory to read into")
	require.Zero(t, late.read(), "an upload read without memory to read into")
	cancel()
	require.ErrorIs(t, <-quitterDone, context.Canceled)

	close(holder.release)
	require.NoError(t, <-holderDone)
	require.NoError(t, <-waiterDone)
	require.NoError(t, <-lateDone)
	require.Equal(t, big, f.read(t, holderKey))
	require.Equal(t, waiter.data, f.read(t, waiterKey))
	require.Equal(t, late.data, f.read(t, lateKey))
	requireNothingUnder(t, f, quitterKey)
}

// With every part and every first-MiB buffer taken (two each), a small
// upload reads nothing until one of either frees, then stores its bytes.
func TestPutBlobWaitsForHeadOrPart(t *testing.T) {
	const part = 5 << 20
	f := newFixture(t, s3store.WithPartSize(part), s3store.WithPartMemory(2*part)) // two parts, two heads
	holder := newCountingReader(pseudoRandom(60, part+(2<<20)), part+(1<<20))
	holderKey := blobKey("holder")
	holderDone := putAsync(t.Context(), f.store, holderKey, holder)
	<-holder.paused // holds a part
	var waiters []*countingReader
	var waiterKeys []jobartifacts.BlobKey
	var waitersDone []<-chan error
	for i := range 3 {
		w := newCountingReader(pseudoRandom(byte(61+i), part+(2<<20)), part+(1<<20))
		waiters = append(waiters, w)
		waiterKeys = append(waiterKeys, blobKey("waiter"))
		waitersDone = append(waitersDone, putAsync(t.Context(), f.store, waiterKeys[i], w))
	}
	// One waiter takes the other part and pauses in it; the two others
	// hold a first-MiB buffer each and wait for a part.
	require.Eventually(t, func() bool {
		read := []int{waiters[0].read(), waiters[1].read(), waiters[2].read()}
		slices.Sort(read)
		return slices.Equal(read, []int{1 << 20, 1 << 20, part + (1 << 20)})
	}, 30*time.Second, time.Millisecond)

	small := newCountingReader(pseudoRandom(64, 1000), 0)
	smallKey := blobKey("small")
	smallDone := putAsync(t.Context(), f.store, smallKey, small)
	time.Sleep(200 * time.Millisecond)
	require.Zero(t, small.read(), "an upload read without memory to read into")

	close(holder.release) // a part frees, then the rest in turn
	for _, w := range waiters {
		close(w.release)
	}
	require.NoError(t, <-holderDone)
	for _, done := range waitersDone {
		require.NoError(t, <-done)
	}
	require.NoError(t, <-smallDone)
	require.Equal(t, small.data, f.read(t, smallKey))
	require.Equal(t, holder.data, f.read(t, holderKey))
	for i, w := range waiters {
		require.Equal(t, w.data, f.read(t, waiterKeys[i]))
	}
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
