package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// readFromRecorder is a ResponseWriter with ReadFrom, as net/http's is: it
// records what each ReadFrom was handed.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	srcs  []*io.LimitedReader
	sizes []int64 // N of each, when handed over
}

func (w *readFromRecorder) ReadFrom(r io.Reader) (int64, error) {
	lr, _ := r.(*io.LimitedReader)
	w.srcs = append(w.srcs, lr)
	if lr != nil {
		w.sizes = append(w.sizes, lr.N)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseRecorder}, r)
}

// TestStallWriterKeepsSendfile: under the stall deadlines, a file's copy
// still reaches the response's ReadFrom (where net/http uses sendfile): a
// first piece, then the rest in one (on TLS, which cannot take a deadline
// that passed, in pieces of 32 KiB), each one *io.LimitedReader around the
// file; and the listener's connections keep ReadFrom too.
func TestStallWriterKeepsSendfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob")
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160,000 bytes
	require.NoError(t, os.WriteFile(path, data, 0o600))
	for _, tc := range []struct {
		name     string
		sendfile bool
		pieces   []int64
	}{
		{"tcp", true, []int64{32 << 10, 150000 - 32<<10}},
		{"tls", false, []int64{32 << 10, 32 << 10, 32 << 10, 32 << 10, 150000 - 4*32<<10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
			sw := &stallWriter{ResponseWriter: rec, conn: &stallConn{deadlines: http.NewResponseController(rec)},
				clock: stallClock{timeout: time.Minute, minBytes: 16 << 10}, sendfile: tc.sendfile}
			n, err := io.CopyN(sw, f, 150000) // as http.ServeContent copies
			require.NoError(t, err)
			require.Equal(t, int64(150000), n)
			require.Equal(t, data[:150000], rec.ResponseRecorder.Body.Bytes())
			require.Len(t, rec.srcs, len(tc.pieces))
			for i, lr := range rec.srcs {
				require.NotNil(t, lr)
				require.Same(t, f, lr.R, "one layer around the file")
				require.Equal(t, tc.pieces[i], rec.sizes[i])
			}
		})
	}

	// A response within one piece is handed over as it is, as a last
	// piece is: no layer is added.
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	sw := &stallWriter{ResponseWriter: rec, conn: &stallConn{deadlines: http.NewResponseController(rec)},
		clock: stallClock{timeout: time.Minute, minBytes: 16 << 10}, sendfile: true}
	small := &io.LimitedReader{R: f, N: 4000}
	n, err := sw.ReadFrom(small)
	require.NoError(t, err)
	require.Equal(t, int64(4000), n)
	require.Equal(t, data[:4000], rec.ResponseRecorder.Body.Bytes())
	require.Len(t, rec.srcs, 1)
	require.Same(t, small, rec.srcs[0])
	require.Zero(t, small.N)

	var c net.Conn = &limitedConn{}
	_, ok := c.(io.ReaderFrom)
	require.True(t, ok, "limitedConn keeps the connection's ReadFrom")
}

// deadlineConn is a ResponseWriter whose ReadFrom stands for net's sendfile
// to a client that moves perCall bytes and then waits out the write
// deadline, as a slow or stopped client makes sendfile do. sticky: every
// call after the first fails at once, as a write error net/http keeps.
type deadlineConn struct {
	*httptest.ResponseRecorder
	perCall  int64
	sticky   bool
	deadline time.Time
	calls    int
}

func (c *deadlineConn) SetWriteDeadline(d time.Time) error {
	c.deadline = d
	return nil
}

func (c *deadlineConn) ReadFrom(r io.Reader) (int64, error) {
	c.calls++
	if c.calls == 1 {
		return io.Copy(struct{ io.Writer }{c.ResponseRecorder}, r) // the first piece
	}
	if c.sticky {
		return 0, os.ErrDeadlineExceeded
	}
	n, err := io.CopyN(struct{ io.Writer }{c.ResponseRecorder}, r, c.perCall)
	if err != nil {
		return n, nil // all sent
	}
	time.Sleep(time.Until(c.deadline))
	return n, &net.OpError{Op: "sendfile", Net: "tcp", Err: os.ErrDeadlineExceeded}
}

// TestStallWriterSendFileTicks: after its first piece, a file goes in one
// ReadFrom under deadlines of a tick (stallTimeout/stallTicks): a client
// that keeps moving stallBytes per tick gets the whole file however long it
// takes, one that stops is cut once its budget is spent (not before, and at
// most a tick after), and an error that sticks is not retried.
func TestStallWriterSendFileTicks(t *testing.T) {
	const timeout, minBytes = 400 * time.Millisecond, 1000
	path := filepath.Join(t.TempDir(), "blob")
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160,000 bytes
	require.NoError(t, os.WriteFile(path, data, 0o600))
	send := func(conn *deadlineConn) (int64, time.Duration, error) {
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		sw := &stallWriter{ResponseWriter: conn, conn: &stallConn{deadlines: http.NewResponseController(conn)},
			clock: stallClock{timeout: timeout, minBytes: minBytes}, sendfile: true}
		start := time.Now()
		n, err := io.CopyN(sw, f, int64(len(data)))
		return n, time.Since(start), err
	}

	// 32 KiB first, then 10,000 bytes a tick: 12 ticks, 1.5 budgets.
	moving := &deadlineConn{ResponseRecorder: httptest.NewRecorder(), perCall: 10000}
	n, took, err := send(moving)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.Equal(t, data, moving.Body.Bytes())
	require.Greater(t, took, timeout, "outlasted the budget")

	stopped := &deadlineConn{ResponseRecorder: httptest.NewRecorder(), perCall: 0}
	_, took, err = send(stopped)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.GreaterOrEqual(t, took, timeout)
	require.Less(t, took, timeout+timeout/stallTicks+time.Second, "cut about when the budget ran out")
	require.Greater(t, stopped.calls, stallTicks/2, "deadlines of a tick")

	sticky := &deadlineConn{ResponseRecorder: httptest.NewRecorder(), sticky: true}
	_, took, err = send(sticky)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Equal(t, 2, sticky.calls)
	require.Less(t, took, timeout)
}

// fastConn is a ResponseWriter whose ReadFrom stands for net's sendfile to
// a fast client: after the first piece, each call moves perCall bytes of
// the file (taking them off its *io.LimitedReader, without reading them)
// until the write deadline stops it, as one sendfile loop does.
type fastConn struct {
	*httptest.ResponseRecorder
	perCall  int64
	deadline time.Time
	calls    int
}

func (c *fastConn) SetWriteDeadline(d time.Time) error {
	c.deadline = d
	return nil
}

func (c *fastConn) ReadFrom(r io.Reader) (int64, error) {
	c.calls++
	if c.calls == 1 {
		return io.Copy(struct{ io.Writer }{c.ResponseRecorder}, r) // the first piece
	}
	lr := r.(*io.LimitedReader)
	n := min(lr.N, c.perCall)
	lr.N -= n
	if lr.N == 0 {
		return n, nil
	}
	time.Sleep(time.Until(c.deadline))
	return n, &net.OpError{Op: "sendfile", Net: "tcp", Err: os.ErrDeadlineExceeded}
}

// TestStallWriterSendFileLargeTicks: a client that takes more than 2 GiB
// in one tick's sendfile is moving, on 32-bit platforms too, where those
// bytes do not fit an int (GOARCH=386 go test -run this).
func TestStallWriterSendFileLargeTicks(t *testing.T) {
	const timeout, minBytes, perCall = 80 * time.Millisecond, 16 << 10, 3 << 30
	path := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("x"), stallPiece), 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	conn := &fastConn{ResponseRecorder: httptest.NewRecorder(), perCall: perCall}
	sw := &stallWriter{ResponseWriter: conn, conn: &stallConn{deadlines: http.NewResponseController(conn)},
		clock: stallClock{timeout: timeout, minBytes: minBytes}, sendfile: true}
	total := int64(stallPiece) + 2*stallTicks*perCall // two budgets' worth of ticks
	n, err := sw.ReadFrom(&io.LimitedReader{R: f, N: total})
	require.NoError(t, err, "a client moving 3 GiB a tick is never cut")
	require.Equal(t, total, n)
	require.Greater(t, conn.calls, stallTicks+1, "through more ticks than one budget holds")
}
