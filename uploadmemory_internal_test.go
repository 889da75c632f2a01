package jobartifacts

import (
	"bytes"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// blockSizeWriter records the size of every write after the first (the
// first block's), and may hold its first write until release is closed.
type blockSizeWriter struct {
	bytes.Buffer
	mu      sync.Mutex
	sizes   map[int]int // write size: count, past the first write
	writes  int
	release chan struct{} // nil: never held
	check   func()        // called on every write
}

func (w *blockSizeWriter) Write(p []byte) (int, error) {
	if w.writes++; w.writes == 1 && w.release != nil {
		<-w.release
	}
	if w.check != nil {
		w.check()
	}
	if w.writes > 1 {
		w.mu.Lock()
		w.sizes[len(p)]++
		w.mu.Unlock()
	}
	return w.Buffer.Write(p)
}

// TestUploadMemory: uploads take large blocks while the budget has room
// for them and small ones after, without waiting; the budget is never
// exceeded and is whole again once the uploads end; every upload is
// written and hashed whole whatever its blocks.
func TestUploadMemory(t *testing.T) {
	const budget = 2 * uploadBlockSize
	data := make([]byte, 6*uploadBlockSize+777)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	sum := sha256.Sum256(data)
	m := newUploadMemory(budget)
	withinBudget := func() {
		if used := m.used.Load(); used < 0 || used > budget {
			t.Errorf("%d bytes of large blocks in use, budget %d", used, budget)
		}
	}
	upload := func(w *blockSizeWriter) {
		t.Helper()
		w.sizes, w.check = make(map[int]int), withinBudget
		u := &uploadReader{r: bytes.NewReader(data), mem: m, sum: sha256.New()}
		n, err := u.WriteTo(w)
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), n)
		require.True(t, bytes.Equal(data, w.Bytes()))
		require.Equal(t, sum[:], u.SHA256())
	}

	// A holds its first write: it reads on into its three blocks, the
	// budget's two large ones and a small one, and waits for them.
	first := &blockSizeWriter{release: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		upload(first)
	}()
	require.Eventually(t, func() bool { return m.used.Load() == budget }, 10*time.Second, time.Millisecond)

	// B, meanwhile, finds the budget spent: small blocks, no waiting.
	second := &blockSizeWriter{}
	upload(second)
	for size := range second.sizes {
		require.LessOrEqual(t, size, uploadSmallBlockSize, "B's writes: %v", second.sizes)
	}
	require.Equal(t, int64(budget), m.used.Load(), "B took no large block and gave none back")

	close(first.release)
	<-done
	require.Positive(t, first.sizes[uploadBlockSize], "A's writes: %v", first.sizes)
	require.Positive(t, first.sizes[uploadSmallBlockSize], "A's writes: %v", first.sizes)
	require.Zero(t, m.used.Load(), "every large block given back")

	// With the budget free again, C has its two large blocks (and a
	// small third).
	third := &blockSizeWriter{}
	upload(third)
	require.Positive(t, third.sizes[uploadBlockSize], "C's writes: %v", third.sizes)
	require.Zero(t, m.used.Load())
}

// TestUploadMemoryUnbounded: no budget (n <= 0, or no uploadMemory at all,
// as for StoreArtifact) lends large blocks to all.
func TestUploadMemoryUnbounded(t *testing.T) {
	for _, m := range []*uploadMemory{nil, newUploadMemory(0), newUploadMemory(-1)} {
		b := m.block()
		require.Equal(t, uploadBlockSize, len(b))
		m.putBlock(b)
		if m != nil {
			require.Zero(t, m.used.Load())
		}
	}
}
