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
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"
	"github.com/stretchr/testify/require"
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
