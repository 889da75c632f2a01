package jobartifacts

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
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

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestUploadSpareBlocks: past its three blocks an upload takes spare large
// ones, up to uploadMaxBlocks in flight, only while half of the budget is
// free (all of them without a budget), and gives every one back. Its first
// write held, an upload reads as far as its blocks go and stops: the bytes
// read say how many it took.
func TestUploadSpareBlocks(t *testing.T) {
	// Past what the blocks can hold, and one archive for every case: 96 MiB
	// a case, filled a byte at a time, took 4 s each under -race.
	data := make([]byte, (uploadMaxBlocks+2)*uploadBlockSize+555)
	for i := range data {
		data[i] = byte(i * 5 / 3)
	}
	sum := sha256.Sum256(data)
	for _, tc := range []struct {
		name   string
		budget int64
		blocks int // large blocks in flight
	}{
		{"no budget", 0, uploadMaxBlocks},
		{"half the budget has room for all", 2 * uploadMaxBlocks * uploadBlockSize, uploadMaxBlocks},
		{"half the budget has room for two spares", 10 * uploadBlockSize, 5},
		{"half the budget has room for none", 4 * uploadBlockSize, uploadBlocks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newUploadMemory(tc.budget)
			src := &countingReader{r: bytes.NewReader(data)}
			w := &blockSizeWriter{sizes: make(map[int]int), release: make(chan struct{})}
			u := &uploadReader{r: src, mem: m, sum: sha256.New()}
			done := make(chan error, 1)
			go func() {
				n, err := u.WriteTo(w)
				if err == nil && n != int64(len(data)) {
					err = fmt.Errorf("wrote %d bytes, want %d", n, len(data))
				}
				done <- err
			}()
			want := int64(tc.blocks * uploadBlockSize)
			for deadline := time.Now().Add(10 * time.Second); src.n.Load() < want && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // and no further
			require.Equal(t, want, src.n.Load(), "bytes read while the first write is held")
			if tc.budget > 0 {
				require.Equal(t, want, m.used.Load(), "large blocks counted")
			}
			close(w.release)
			require.NoError(t, <-done)
			require.True(t, bytes.Equal(data, w.Bytes()))
			require.Equal(t, sum[:], u.SHA256())
			require.Zero(t, m.used.Load(), "every large block given back")
			require.Zero(t, w.sizes[uploadSmallBlockSize], "no small blocks: %v", w.sizes)
		})
	}
}
