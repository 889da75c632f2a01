package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logFlushDelay is how long a log line may wait in a logBuffer.
const logFlushDelay = 100 * time.Millisecond

// logBufferSize is how much a logBuffer holds before the Write that fills
// it writes it out.
const logBufferSize = 64 << 10

// logBuffer gathers the log's lines and writes them to out in batches: the
// access log's one line a request would otherwise be one write(2) a
// request. A line waits at most logFlushDelay; Flush (every record at Warn
// and above, through flushingHandler) and Close write at once. A failed
// write is returned by the next Flush or Close.
type logBuffer struct {
	out   io.Writer
	delay time.Duration

	// flushing orders writes to out: it is taken before mu, so that
	// batches go out in the order they were cut.
	flushing sync.Mutex
	mu       sync.Mutex
	buf      []byte
	spare    []byte      // the last batch's buffer, for the next: no regrowth a batch
	timer    *time.Timer // made once, armed while buf holds lines
	armed    bool
	err      error // the first failed write
	closed   bool
}

func newLogBuffer(out io.Writer, delay time.Duration) *logBuffer {
	return &logBuffer{out: out, delay: delay}
}

// Write keeps p (one record) for the next batch; after Close it writes p.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.flushing.Lock()
		defer b.flushing.Unlock()
		return b.out.Write(p)
	}
	b.buf = append(b.buf, p...)
	full := len(b.buf) >= logBufferSize
	if !full && !b.armed {
		b.armed = true
		if b.timer == nil {
			b.timer = time.AfterFunc(b.delay, func() { _ = b.Flush() })
		} else {
			b.timer.Reset(b.delay)
		}
	}
	b.mu.Unlock()
	if full {
		_ = b.Flush() // its error comes back from the next Flush or Close
	}
	return len(p), nil
}

// Flush writes out what waits, and returns the first write error so far.
func (b *logBuffer) Flush() error {
	b.flushing.Lock()
	defer b.flushing.Unlock()
	b.mu.Lock()
	batch := b.buf
	b.buf, b.spare = b.spare[:0], nil
	if b.armed {
		b.timer.Stop() // if it fired already, its Flush comes early: harmless
		b.armed = false
	}
	b.mu.Unlock()
	if len(batch) > 0 {
		if _, err := b.out.Write(batch); err != nil {
			b.mu.Lock()
			if b.err == nil {
				b.err = err
			}
			b.mu.Unlock()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cap(batch) <= maxSpareLogBuffer {
		b.spare = batch[:0] // out has it no more; flushing keeps others off spare
	}
	return b.err
}

// maxSpareLogBuffer: a batch's buffer grown past this (by a huge record)
// is not kept.
const maxSpareLogBuffer = 4 * logBufferSize

// Close writes out what waits; later lines are written one by one.
func (b *logBuffer) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return b.Flush()
}

// flushingHandler writes out a logBuffer after each record at Warn or
// above, so that warnings and errors are seen at once.
type flushingHandler struct {
	slog.Handler
	out *logBuffer
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		_ = h.out.Flush() // a write error shows at Close
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.out}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.out}
}
