package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// The tests of the connection limits (issue 10, item 2) run the program as
// `server -demo` on 127.0.0.1:0 with small limits and talk TCP to it. They
// assert only "cut" or "not cut", with margins of several times the limit,
// never a speed.

// startLimitedServer runs the program with the demo data and extra flags,
// and returns its address; it stops with the test.
func startLimitedServer(t *testing.T, flags ...string) string {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	logs, logWriter := io.Pipe()
	ran := make(chan error, 1)
	go func() {
		args := append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-demo",
			"-token", testToken, "-job-token", testJobToken, "-sweep-interval", "0", "-shutdown-timeout", "1s"}, flags...)
		ran <- run(ctx, args, io.Discard, logWriter)
		logWriter.Close()
	}()
	lines := bufio.NewScanner(logs)
	var addr string
	for addr == "" && lines.Scan() {
		if _, a, ok := strings.Cut(lines.Text(), `msg="serving the Job Artifacts API" addr=`); ok {
			addr = strings.Fields(a)[0]
		}
	}
	require.NotEmpty(t, addr, "the server logs its address")
	go func() { _, _ = io.Copy(io.Discard, logs) }()
	t.Cleanup(func() {
		stop()
		<-ran
	})
	return addr
}

// waitClosed reads c until the server closes it or bound passes, and
// reports whether it was closed (anything read is discarded).
func waitClosed(c net.Conn, bound time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(bound))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

const archiveRequest = "GET /api/v4/projects/1/jobs/42/artifacts HTTP/1.1\r\nHost: x\r\nPRIVATE-TOKEN: " + testToken + "\r\n\r\n"

func TestReadHeaderTimeout(t *testing.T) {
	addr := startLimitedServer(t, "-read-header-timeout", "300ms")

	// Not cut: a whole request at once.
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, archiveRequest)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Cut: headers that never end.
	slow, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer slow.Close()
	_, err = io.WriteString(slow, "GET /api/v4/projects/1/jobs/42/artifacts HTTP/1.1\r\nHost: x\r\n")
	require.NoError(t, err)
	require.True(t, waitClosed(slow, 10*time.Second), "unfinished headers must be cut")
}

func TestIdleTimeout(t *testing.T) {
	addr := startLimitedServer(t, "-idle-timeout", "300ms")
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	br := bufio.NewReader(c)
	for range 2 { // not cut: a second request right after the first
		_, err = io.WriteString(c, archiveRequest)
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
	}
	// Cut: then nothing.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = br.ReadByte()
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "an idle keep-alive connection must be closed: %v", err)
	require.Error(t, err)
}

func TestMaxHeaderBytes(t *testing.T) {
	addr := startLimitedServer(t, "-max-header-bytes", "4096")
	send := func(extra string) int {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, strings.TrimSuffix(archiveRequest, "\r\n")+extra+"\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, send("X-Small: "+strings.Repeat("a", 1000)+"\r\n"))
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, send("X-Big: "+strings.Repeat("a", 64<<10)+"\r\n"))
}

func TestMaxConnections(t *testing.T) {
	addr := startLimitedServer(t, "-max-connections", "2", "-read-header-timeout", "1m")
	// Two connections that say nothing hold both slots.
	var holders []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		holders = append(holders, c)
	}
	// Make sure both were accepted: a third connection's request waits.
	third, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer third.Close()
	_, err = io.WriteString(third, archiveRequest)
	require.NoError(t, err)
	answered := make(chan error, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(third), nil)
		if err == nil {
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("a third connection was served while two held the slots (%v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	holders[0].Close() // a slot frees: the third is served
	select {
	case err := <-answered:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting connection was never served")
	}
}

// bigArchive is a stored (incompressible) zip of about size bytes, larger
// than what loopback sockets buffer.
func bigArchive(t testing.TB, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "big.bin", Method: zip.Store})
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// uploadBody is a runner upload of archive as a multipart body.
func uploadBody(t testing.TB, archive []byte) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("file", "artifacts.zip")
	require.NoError(t, err)
	_, err = part.Write(archive)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}

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

func TestLimitFlags(t *testing.T) {
	cfg, err := parseServeFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, defaultConnLimits(), cfg.limits)
	require.Equal(t, connLimits{
		readHeaderTimeout: 10 * time.Second, idleTimeout: 2 * time.Minute, maxHeaderBytes: 64 << 10,
		maxConnections: 256, stallTimeout: time.Minute, stallBytes: 16 << 10,
	}, cfg.limits, "the defaults the README lists")

	cfg, err = parseServeFlags([]string{"-read-header-timeout", "1s", "-idle-timeout", "2s", "-max-header-bytes", "3",
		"-max-connections", "4", "-stall-timeout", "0", "-stall-bytes", "6"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, connLimits{readHeaderTimeout: time.Second, idleTimeout: 2 * time.Second, maxHeaderBytes: 3,
		maxConnections: 4, stallTimeout: 0, stallBytes: 6}, cfg.limits)

	for _, bad := range [][]string{
		{"-read-header-timeout", "0"}, {"-idle-timeout", "-1s"}, {"-max-header-bytes", "0"},
		{"-max-connections", "0"}, {"-stall-timeout", "-1s"}, {"-stall-bytes", "0"},
	} {
		_, err := parseServeFlags(bad, io.Discard)
		require.Error(t, err, "%v", bad)
	}
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

// TestLimitedConnCloseWrite: limitedConn keeps the connection's CloseWrite,
// which net/http looks for before it closes a connection whose request body
// it did not read: the peer reads an end while it can still send.
func TestLimitedConnCloseWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	raw, err := ln.Accept()
	require.NoError(t, err)
	var server net.Conn = &limitedConn{Conn: raw, release: func() {}}
	defer server.Close()

	cw, ok := server.(interface{ CloseWrite() error })
	require.True(t, ok, "limitedConn keeps the connection's CloseWrite")
	_, err = server.Write([]byte("answer"))
	require.NoError(t, err)
	require.NoError(t, cw.CloseWrite())
	require.NoError(t, client.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(client)
	require.NoError(t, err, "the client reads the answer and an end")
	require.Equal(t, "answer", string(got))

	_, err = client.Write([]byte("more"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	require.NoError(t, server.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadFull(server, buf)
	require.NoError(t, err, "the server still reads")
	require.Equal(t, "more", string(buf))
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
