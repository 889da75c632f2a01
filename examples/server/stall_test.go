package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/stretchr/testify/require"
)

// TestStallTimeout: with a stall budget of 2s (well above what a loaded
// machine's scheduling costs), an upload and a download that take over
// twice that but keep moving complete; an upload at a few bytes a second
// and a download whose client stops reading are cut. Past the upload, the
// cases run in parallel on the one server: they spend their time asleep
// (about 20 s in all), and CI's 20 minutes are tight.
func TestStallTimeout(t *testing.T) {
	t.Parallel()
	addr := startLimitedServer(t, "-stall-timeout", "2s", "-stall-bytes", "16384")
	archive := bigArchive(t, 16<<20)
	contentType, body := uploadBody(t, archive)
	uploadHead := fmt.Sprintf("POST /api/v4/jobs/100/artifacts HTTP/1.1\r\nHost: x\r\nJOB-TOKEN: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		testJobToken, contentType, len(body))

	// Not cut: an upload that progresses, in pieces with pauses, for well
	// over the budget in all. The downloads below fetch its archive.
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, uploadHead)
	require.NoError(t, err)
	started := time.Now()
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 1<<20)
		_, err = c.Write(rest[:n])
		require.NoError(t, err)
		rest = rest[n:]
		time.Sleep(300 * time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Greater(t, time.Since(started), 4*time.Second, "the upload outlasted the budget")

	// requestArchive asks for the archive uploaded above on a connection of
	// its own, closed with the test.
	requestArchive := func(t *testing.T) net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = fmt.Fprintf(c, "GET /api/v4/jobs/100/artifacts HTTP/1.1\r\nHost: x\r\nJOB-TOKEN: %s\r\n\r\n", testJobToken)
		require.NoError(t, err)
		return c
	}

	t.Run("PacedDownloadNotCut", func(t *testing.T) {
		t.Parallel()
		// Not cut: a download read in pieces with pauses.
		d := requestArchive(t)
		resp, err := http.ReadResponse(bufio.NewReader(d), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var got bytes.Buffer
		for {
			n, err := io.CopyN(&got, resp.Body, 1<<20)
			if n == 0 || err != nil {
				require.ErrorIs(t, err, io.EOF)
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		require.Equal(t, archive, got.Bytes())
	})

	t.Run("StalledDownloadCut", func(t *testing.T) {
		t.Parallel()
		// Cut: a download whose client stops reading.
		s := requestArchive(t)
		time.Sleep(10 * time.Second) // five budgets
		_ = s.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(s), nil)
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, resp.Body)
			require.Less(t, n, int64(len(archive)))
		}
		require.Error(t, err, "a download that stalls must be cut")
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "cut by the server, not by our deadline: %v", err)
	})

	t.Run("TricklingUploadCut", func(t *testing.T) {
		t.Parallel()
		// Cut: an upload that trickles a few bytes a second.
		l, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer l.Close()
		_, err = io.WriteString(l, uploadHead)
		require.NoError(t, err)
		cut := trickledUntilCut(l, func(i int) []byte { return body[i : i+1] })
		require.True(t, cut, "a trickling upload must be cut")
	})

	t.Run("UnreadTricklingBodyCut", func(t *testing.T) {
		t.Parallel()
		// Cut: a trickling body that the handler refuses unread (no token:
		// 403), small enough that net/http would drain it before answering.
		u, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer u.Close()
		_, err = fmt.Fprintf(u, "POST /api/v4/jobs/100/artifacts HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 1000\r\n\r\n", contentType)
		require.NoError(t, err)
		cut := trickledUntilCut(u, func(int) []byte { return []byte{'x'} })
		require.True(t, cut, "an unread trickling body must not hold the answer")
	})
}

// trickledUntilCut writes next(i) to c every 100 ms, at most 300 times (30 s,
// fifteen of TestStallTimeout's budgets), and reports whether the server cut
// it short: a write failed, or the server answered and closed (a 400 or a
// 403, a close, or both).
func trickledUntilCut(c net.Conn, next func(i int) []byte) bool {
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, _ = io.Copy(io.Discard, c)
	}()
	for i := range 300 {
		if _, err := c.Write(next(i)); err != nil {
			return true
		}
		select {
		case <-ended:
			return true
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// deadlineRecorder is a connection that records its write deadlines.
type deadlineRecorder struct {
	net.Conn
	writeDeadlines []time.Time
}

func (c *deadlineRecorder) SetReadDeadline(time.Time) error { return nil }

func (c *deadlineRecorder) SetWriteDeadline(d time.Time) error {
	c.writeDeadlines = append(c.writeDeadlines, d)
	return nil
}

// last is the write deadline set last.
func (c *deadlineRecorder) last() time.Time { return c.writeDeadlines[len(c.writeDeadlines)-1] }

// TestStallWriteDeadlines: a connection's write deadline is never before
// the stall budget's end and at most a tick (stallTimeout/stallTicks) past
// it, when a request starts, at each write and when the handler returns; it
// is left alone while that holds, so small responses in a row on a
// keep-alive connection set it once, not at every request or write.
func TestStallWriteDeadlines(t *testing.T) {
	const timeout, tick = 400 * time.Millisecond, 400 * time.Millisecond / stallTicks
	conn := &deadlineRecorder{}
	ctx := withStallConn(context.Background(), conn)
	// checkDeadline: the deadline covers a full budget from before, and
	// is at most a tick past one from now.
	checkDeadline := func(before time.Time) {
		t.Helper()
		d := conn.last()
		require.False(t, d.Before(before.Add(timeout)), "never early")
		require.False(t, d.After(time.Now().Add(timeout+tick)), "at most a tick late")
	}
	h := stallDeadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			before := time.Now()
			_, err := w.Write([]byte("small"))
			require.NoError(t, err)
			checkDeadline(before)
		}
	}), timeout, 16<<10)
	serve := func() {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
		require.Equal(t, "smallsmallsmall", rec.Body.String())
	}

	for range 5 {
		serve()
	}
	checkDeadline(time.Now().Add(-tick / 2))
	require.Len(t, conn.writeDeadlines, 1, "five requests in a row, well within a tick, set it once")

	// A deadline that passed while the connection was idle is moved when
	// the next request starts, before anything is written (100 Continue).
	time.Sleep(timeout + 2*tick)
	idleEnd := time.Now()
	h = stallDeadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checkDeadline(idleEnd)
	}), timeout, 16<<10)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))

	// What the handler wrote last is flushed after it returns, under a
	// budget from then.
	h = stallDeadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("x"))
		time.Sleep(timeout + 2*tick)
	}), timeout, 16<<10)
	before := time.Now()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	require.False(t, conn.last().Before(before.Add(2*timeout+2*tick)), "a budget from the handler's return")
}

// TestStallFlushDeadline: a Flush, through http.ResponseController or
// http.Flusher and through the API's access log, is a write like the
// others: the write deadline covers a budget from its start, however long
// the handler worked since its last write.
func TestStallFlushDeadline(t *testing.T) {
	const timeout, tick = 400 * time.Millisecond, 400 * time.Millisecond / stallTicks
	conn := &deadlineRecorder{}
	ctx := withStallConn(context.Background(), conn)
	flushes := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { require.NoError(t, http.NewResponseController(w).Flush()) },
		func(w http.ResponseWriter) { w.(http.Flusher).Flush() },
	}
	h := stallDeadlines(jobartifacts.AccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, flush := range flushes {
			_, err := w.Write([]byte("x"))
			require.NoError(t, err)
			time.Sleep(timeout + 2*tick) // working, not waiting on the client
			before := time.Now()
			flush(w)
			require.False(t, conn.last().Before(before.Add(timeout)), "never early")
		}
	}), nil), timeout, 16<<10)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	require.True(t, rec.Flushed)
	require.Equal(t, "xx", rec.Body.String())
}

// TestStallUnreadBodyKeepsConnection: a request whose body the handler
// leaves unread, answered later than the stall budget after it began,
// keeps its connection: net/http drains the body when the answer's header
// goes out (and after the handler), under a budget from then, not from the
// request's start.
func TestStallUnreadBodyKeepsConnection(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, write := range []bool{true, false} {
		h := stallDeadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * timeout) // working, with the body unread
			if write {
				_, _ = io.WriteString(w, "answer")
			}
		}), timeout, 16<<10)
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ConnContext = withStallConn
		srv.Start()
		var reused []bool
		for range 2 {
			trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) }}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodPost, srv.URL, bytes.NewReader(make([]byte, 64<<10)))
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			if write {
				require.Equal(t, "answer", string(body))
			}
		}
		srv.Close()
		require.Equal(t, []bool{false, true}, reused, "the second request reuses the connection (handler writes: %v)", write)
	}
}
