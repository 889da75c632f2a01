package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// stallDeadlines cuts request bodies and responses that stall (see
// connLimits.stallTimeout), through the connection's deadlines: before each
// read of the body and each write or flush of the response, the deadline
// covers what is left of the stall budget. A timeout of 0 turns it off.
//
// The write deadline is set a tick (stallTimeout/stallTicks) past what the
// budget allows and left alone while the budget's end stays behind it, on a
// connection's successive requests too (stallConn): small responses in a
// row move the connection's timer once a tick, not several times a request.
// A stall is cut at most one tick late, never early.
func stallDeadlines(next http.Handler, timeout time.Duration, minBytes int64) http.Handler {
	if timeout <= 0 {
		return next
	}
	tick := timeout / stallTicks
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// HTTP/1 serves a connection's requests one at a time: its state may
		// carry over from one to the next. Anything else gets its own.
		sc, ok := r.Context().Value(stallConnKey{}).(*stallConn)
		if !ok || r.ProtoMajor != 1 {
			sc = &stallConn{deadlines: http.NewResponseController(w)}
		}
		// A keep-alive connection keeps the last request's deadline, which
		// may have passed; net/http may write (100 Continue) before this
		// request's first Write.
		sc.extendWrite(time.Now().Add(timeout), tick)
		var body *stallReader
		if r.Body != nil && r.Body != http.NoBody {
			// On a copy: net/http checks the original's body after the
			// handler, to drain what is left.
			r = r.WithContext(r.Context())
			body = &stallReader{ReadCloser: r.Body, conn: sc.deadlines, clock: stallClock{timeout: timeout, minBytes: minBytes}}
			r.Body = body
			// A body the handler leaves unread is drained by net/http
			// before the answer goes out: that must not wait forever on a
			// client that trickles. Each read of the handler's sets its
			// own, and so does the answer's first write (drainBudget).
			_ = sc.deadlines.SetReadDeadline(time.Now().Add(timeout))
		}
		sc.writer = stallWriter{ResponseWriter: w, conn: sc, clock: stallClock{timeout: timeout, minBytes: minBytes}, sendfile: r.TLS == nil, body: body}
		// What the handler wrote last is flushed after it returns; a
		// stalled client must not hold that either. A handler that wrote
		// nothing has its header written, and its unread body drained,
		// now.
		defer func() {
			body.drainBudget()
			sc.extendWrite(time.Now().Add(timeout), tick)
		}()
		next.ServeHTTP(&sc.writer, r)
	})
}

// deadlines are a connection's, or an http.ResponseController's.
type deadlines interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// stallConn is what the stall deadlines keep of a connection: the write
// deadline set on it last, which outlives a request, and the response
// writer its requests reuse.
type stallConn struct {
	deadlines     deadlines
	writeDeadline time.Time
	writer        stallWriter
}

// stallConnKey is the context key of a connection's *stallConn.
type stallConnKey struct{}

// withStallConn is the http.Server's ConnContext: every connection gets its
// stallConn, reached without http.ResponseController's unwrapping.
func withStallConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, stallConnKey{}, &stallConn{deadlines: c})
}

// extendWrite makes sure that the write deadline is not before due: if it
// is, it is moved a tick past due. As long as due only moves forward, the
// deadline stays within a tick of it.
func (c *stallConn) extendWrite(due time.Time, tick time.Duration) {
	if c.writeDeadline.Before(due) {
		c.setWrite(due.Add(tick))
	}
}

// setWrite sets the write deadline to d.
func (c *stallConn) setWrite(d time.Time) {
	c.writeDeadline = d
	_ = c.deadlines.SetWriteDeadline(d)
}

// stallClock is the budget of one direction: the time spent waiting on the
// client since the last stallBytes moved.
type stallClock struct {
	timeout  time.Duration
	minBytes int64
	waited   time.Duration
	moved    int64
}

// deadline is when the next I/O call must have finished.
func (c *stallClock) deadline(now time.Time) time.Time {
	return now.Add(c.timeout - c.waited)
}

// account records an I/O call that started at start and moved n bytes (an
// int64: one sendfile may move more than an int holds on 32-bit platforms).
func (c *stallClock) account(start time.Time, n int64) {
	c.waited += time.Since(start)
	c.moved += n
	if c.moved >= c.minBytes {
		c.waited, c.moved = 0, 0
	}
}

// stallReader is a request body under a stall clock. Once the body is read
// to its end the read deadline is lifted: net/http then reads the
// connection in the background while the response is written, and a
// deadline there would cancel the request. After a failure it stays, so
// that net/http's draining of the rest fails at once too and the
// connection is closed after the answer.
//
// The deadline is set a tick (stallTimeout/stallTicks) past what the clock
// allows and left alone while the clock's deadline stays behind it, so that
// a body streaming in moves the connection's timer once a tick rather than
// on every read; as with responses, a stall is cut at most one tick late,
// never early.
type stallReader struct {
	io.ReadCloser
	conn     deadlines
	clock    stallClock
	deadline time.Time // the read deadline set last
	done     bool
	failed   bool // a read failed: the deadline stays
	drained  bool // drainBudget ran
}

// drainBudget gives net/http's draining of what the handler left unread a
// budget from now: net/http drains when the answer's header goes out (and
// after the handler), which may be long after the request began; with the
// deadline of its start, the drain would fail and cost the connection its
// keep-alive. Once per request; nothing for a body read to its end, or
// failed. b may be nil (no body).
func (b *stallReader) drainBudget() {
	if b == nil || b.done || b.failed || b.drained {
		return
	}
	b.drained = true
	b.deadline = time.Now().Add(b.clock.timeout)
	_ = b.conn.SetReadDeadline(b.deadline)
}

func (b *stallReader) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	start := time.Now()
	if due := b.clock.deadline(start); b.deadline.Before(due) {
		b.deadline = due.Add(b.clock.timeout / stallTicks)
		_ = b.conn.SetReadDeadline(b.deadline)
	}
	n, err := b.ReadCloser.Read(p)
	b.clock.account(start, int64(n))
	switch {
	case errors.Is(err, io.EOF):
		b.done = true
		_ = b.conn.SetReadDeadline(time.Time{})
	case err != nil:
		b.failed = true
	}
	return n, err
}

// stallWriter is a response under a stall clock. sendfile: the response
// goes on a plain TCP connection, whose write deadlines can pass and be
// extended (a TLS connection's cannot).
type stallWriter struct {
	http.ResponseWriter
	conn     *stallConn
	clock    stallClock
	sendfile bool
	body     *stallReader // the request's, if it has one
}

// guard readies the write deadline for a write that starts at start. The
// clock's deadline only moves forward while a response is written (the
// time between writes adds to now, the time in them to waited), so the
// connection's stays within a tick of it.
func (w *stallWriter) guard(start time.Time) {
	w.body.drainBudget()
	w.conn.extendWrite(w.clock.deadline(start), w.clock.timeout/stallTicks)
}

func (w *stallWriter) Write(p []byte) (int, error) {
	start := time.Now()
	w.guard(start)
	n, err := w.ResponseWriter.Write(p)
	w.clock.account(start, int64(n))
	return n, err
}

// FlushError sends what the response buffered under the stall deadline, as
// a Write does: the handler may have worked past the deadline set at its
// last write. The bytes were counted when written; the wait is counted now.
func (w *stallWriter) FlushError() error {
	start := time.Now()
	w.guard(start)
	err := http.NewResponseController(w.ResponseWriter).Flush()
	w.clock.account(start, 0)
	return err
}

// Flush is FlushError for callers of http.Flusher.
func (w *stallWriter) Flush() { _ = w.FlushError() }

// stallPiece is the least ReadFrom sends under one deadline: as much as
// one of http.ServeContent's writes, so that a copy moves under the same
// rule as Write's while net/http can still send a file with sendfile(2).
const stallPiece = 32 << 10

// stallTicks: once a file's first piece is out, the rest goes in one
// sendfile under deadlines of stallTimeout/stallTicks, extended while the
// client keeps moving; a stall is cut at most one tick late.
const stallTicks = 8

// ReadFrom keeps the response's ReadFrom (sendfile for a file, which
// http.ServeContent hands over as an *io.LimitedReader around it). The
// first piece, max(stallBytes, stallPiece), goes under the stall deadline
// as a Write does; it carries the headers, whose write error would stick
// in net/http. After it, the rest of a file goes to the connection in one
// ReadFrom (sendFileRest); any other source keeps going in such pieces. A
// piece is an *io.LimitedReader over what src limits, never a second
// layer, since net's sendfile looks through one layer only; the last is
// src itself.
func (w *stallWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{w}, src)
	}
	piece := max(w.clock.minBytes, stallPiece)
	outer, limited := src.(*io.LimitedReader)
	var total int64
	for {
		if limited && total > 0 && w.sendfile && isFile(outer.R) {
			n, err := w.sendFileRest(rf, outer)
			return total + n, err
		}
		var chunk *io.LimitedReader
		switch {
		case !limited:
			chunk = &io.LimitedReader{R: src, N: piece}
		case outer.N <= 0:
			return total, nil
		case outer.N <= piece:
			chunk = outer // the last piece (a small response's only one): src itself
		default:
			chunk = &io.LimitedReader{R: outer.R, N: piece}
		}
		want := chunk.N
		start := time.Now()
		w.guard(start)
		n, err := rf.ReadFrom(chunk)
		w.clock.account(start, n)
		total += n
		if limited && chunk != outer {
			outer.N -= n
		}
		if err != nil || n < want {
			return total, err // src ended, or the write failed
		}
	}
}

// isFile reports whether net's sendfile can send from r.
func isFile(r io.Reader) bool {
	_, ok := r.(syscall.Conn)
	return ok
}

// sendFileRest sends the rest of a file, src, whose first piece (and the
// headers) went out already, so that net/http hands it to the connection
// as it is: in one sendfile loop, whose deadline errors leave the
// connection usable. The deadline is at most one tick away; when it passes,
// the clock takes what moved, and the send goes on unless the stall budget
// is spent: a client that keeps moving is never cut, one that stops is cut
// at most a tick after its budget ran out.
func (w *stallWriter) sendFileRest(rf io.ReaderFrom, src *io.LimitedReader) (int64, error) {
	tick := w.clock.timeout / stallTicks
	var total int64
	for src.N > 0 {
		start := time.Now()
		deadline := w.clock.deadline(start)
		if next := start.Add(tick); next.Before(deadline) {
			deadline = next
		}
		w.conn.setWrite(deadline)
		n, err := rf.ReadFrom(src) // net's sendfile takes src.N down itself
		w.clock.account(start, n)
		total += n
		switch {
		case err == nil:
			return total, nil // sent, or the file ended
		case !errors.Is(err, os.ErrDeadlineExceeded) || w.clock.waited >= w.clock.timeout:
			return total, err
		case time.Now().Before(deadline):
			return total, err // not this deadline's: an error that stuck
		}
	}
	return total, nil
}

// Unwrap lets http.ResponseController reach the connection.
func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
