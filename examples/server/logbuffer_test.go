package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countingWriter records what was written and how many writes it took.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	err    error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.writes++
	return w.buf.Write(p)
}

func (w *countingWriter) state() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.writes
}

// byteCounter counts what is written to it, allocating nothing.
type byteCounter struct{ n int64 }

func (w *byteCounter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// TestLogBuffer: info lines go out together within the delay, a warning
// at once with what waited before it, everything by Close, whole lines in
// order from many goroutines, no allocations once warm (a batch reuses the
// last one's buffer), and a failed write comes back from Close.
func TestLogBuffer(t *testing.T) {
	t.Run("batches", func(t *testing.T) {
		out := &countingWriter{}
		b := newLogBuffer(out, time.Second)
		logger := slog.New(flushingHandler{slog.NewTextHandler(b, nil), b})
		logger.Info("one")
		logger.Info("two")
		got, writes := out.state()
		require.Empty(t, got, "info waits")
		require.Zero(t, writes)
		require.Eventually(t, func() bool { _, n := out.state(); return n == 1 }, 5*time.Second, time.Millisecond)
		got, _ = out.state()
		require.Contains(t, got, "msg=one")
		require.Contains(t, got, "msg=two")

		logger.Info("three")
		logger.Warn("four")
		got, writes = out.state()
		require.Equal(t, 2, writes, "a warning goes out at once, with the line before it")
		require.Less(t, strings.Index(got, "msg=three"), strings.Index(got, "msg=four"))

		logger.Info("five")
		require.NoError(t, b.Close())
		got, _ = out.state()
		require.Contains(t, got, "msg=five")
		logger.Info("six")
		got, _ = out.state()
		require.Contains(t, got, "msg=six", "after Close, lines go out at once")
	})

	t.Run("many writers", func(t *testing.T) {
		out := &countingWriter{}
		b := newLogBuffer(out, time.Millisecond)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 2000 {
					_, _ = fmt.Fprintf(b, "g%d line %d %s\n", g, i, strings.Repeat("x", 50))
				}
			})
		}
		wg.Wait()
		require.NoError(t, b.Close())
		got, writes := out.state()
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		require.Len(t, lines, 8*2000)
		next := map[string]int{}
		for _, l := range lines {
			var g string
			var i int
			_, err := fmt.Sscanf(l, "%s line %d", &g, &i)
			require.NoError(t, err, l)
			require.Equal(t, next[g], i, "in order, whole")
			next[g]++
		}
		require.Less(t, writes, 8*2000/10, "in batches")
	})

	t.Run("no allocations once warm", func(t *testing.T) {
		out := &byteCounter{}
		b := newLogBuffer(out, time.Hour)
		line := []byte(strings.Repeat("x", 199) + "\n")
		batch := func() {
			for range 1000 { // 200 KB: batches cut at logBufferSize, the rest by Flush
				_, _ = b.Write(line)
			}
			_ = b.Flush()
		}
		batch()
		require.Zero(t, testing.AllocsPerRun(10, batch), "batches reuse their buffers and the timer")
		require.NoError(t, b.Close())
		require.Equal(t, int64(12*1000*len(line)), out.n, "every line")
	})

	t.Run("write error", func(t *testing.T) {
		out := &countingWriter{err: errors.New("disk full")}
		b := newLogBuffer(out, time.Hour)
		_, err := b.Write([]byte("lost\n"))
		require.NoError(t, err, "kept for later")
		require.ErrorContains(t, b.Close(), "disk full")
	})
}
