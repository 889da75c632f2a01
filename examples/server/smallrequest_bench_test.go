package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// BenchmarkSmallRequest is issue 12's small rows through the whole program:
// `server` on an fsstore in a fresh directory, with the -auth file, its
// access log (to a pipe, drained), its limits and its listener, as
// bench/compare.sh runs it (-max-upload-size 0 -sweep-interval 0). One
// keep-alive connection, one request at a time, read by a client that
// allocates nothing per request: allocations per request are the server's.
// Routes: a 4 KiB whole archive (route 1) and a 4 KiB stored entry of a
// 10-entry zip (route 3); each serial, and on 16 connections at once next
// to the handler alone.
func BenchmarkSmallRequest(b *testing.B) {
	dir := b.TempDir()
	data := filepath.Join(dir, "store")
	four := bytes.Repeat([]byte("0123456789abcdef"), 256)
	for jobID, names := range map[int64][]string{2: nil, 3: {"a", "b", "c", "d", "e", "f", "g", "h", "i"}} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, name := range names {
			w, err := zw.Create("src/" + name + ".txt")
			mustB(b, err)
			_, err = io.WriteString(w, name+" is a small deflated file\n")
			mustB(b, err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "dist/4k.bin", Method: zip.Store})
		mustB(b, err)
		_, err = w.Write(four)
		mustB(b, err)
		mustB(b, zw.Close())
		path := filepath.Join(dir, strconv.FormatInt(jobID, 10)+".zip")
		mustB(b, os.WriteFile(path, buf.Bytes(), 0o644))
		mustB(b, runImport(b.Context(), []string{"-data", data, "-project", "bench/app", "-project-id", "1",
			"-pipeline", "1", "-job-id", strconv.FormatInt(jobID, 10), path}, io.Discard, io.Discard))
	}
	auth := filepath.Join(dir, "auth.json")
	mustB(b, os.WriteFile(auth, []byte(`{"users": [{"name": "bench", "tokens": ["bench-token"], "roles": {"1": "maintainer"}}]}`), 0o644))
	addr := startServer(b, "-addr", "127.0.0.1:0", "-data", data, "-auth", auth, "-max-upload-size", "0", "-sweep-interval", "0")
	alone := startHandlerAlone(b, data, auth)

	for _, tc := range []struct{ name, path string }{
		{"tiny-archive", "/api/v4/projects/1/jobs/2/artifacts"},
		{"entry", "/api/v4/projects/1/jobs/3/artifacts/dist/4k.bin"},
	} {
		req := []byte("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\nPRIVATE-TOKEN: bench-token\r\n\r\n")
		b.Run(tc.name, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) {
				c, err := net.Dial("tcp", addr)
				mustB(b, err)
				defer c.Close()
				r := bufio.NewReaderSize(c, 64<<10)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					if err := discardResponse(r); err != nil {
						b.Fatal(err)
					}
				}
			})
			// 16 connections at once, as wrk -c16: the program, and the
			// handler alone (AccessLog(New(fsstore, tokenauth)) on a bare
			// http.Server, its log discarded), to compare.
			for _, srv := range []struct{ name, addr string }{{"parallel", addr}, {"parallel-handler-alone", alone}} {
				b.Run(srv.name, func(b *testing.B) {
					b.SetParallelism(8)
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						c, err := net.Dial("tcp", srv.addr)
						if err != nil {
							b.Error(err)
							return
						}
						defer c.Close()
						r := bufio.NewReaderSize(c, 64<<10)
						for pb.Next() {
							if _, err := c.Write(req); err != nil {
								b.Error(err)
								return
							}
							if err := discardResponse(r); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		})
	}
}

// startHandlerAlone serves AccessLog(New(fsstore, tokenauth)) on the store
// in data with the users of the auth file, as bench/cmd/benchserve ja does
// (its log discarded), until the benchmark ends, and returns its address.
func startHandlerAlone(b *testing.B, data, auth string) string {
	store, err := fsstore.Open(data)
	mustB(b, err)
	b.Cleanup(func() { store.Close() })
	authz := tokenauth.New(store)
	mustB(b, applyAuthFile(authz, auth))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := jobartifacts.AccessLog(jobartifacts.New(store, authz, jobartifacts.WithLogger(logger), jobartifacts.WithMaxUploadSize(0)), logger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustB(b, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// discardResponse reads one 200 response with a Content-Length from r.
func discardResponse(r *bufio.Reader) error {
	status, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return errorString("status " + strings.TrimSpace(string(status)))
	}
	length := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return errorString("no Content-Length")
	}
	_, err = r.Discard(length)
	return err
}

type errorString string

func (e errorString) Error() string { return string(e) }

func mustB(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// startServer runs the program with args until the benchmark ends and
// returns the address it logs.
func startServer(b *testing.B, args ...string) string {
	b.Helper()
	ctx, stop := context.WithCancel(context.Background())
	logs, logWriter := io.Pipe()
	ran := make(chan error, 1)
	go func() {
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
	if addr == "" {
		b.Fatal("the server did not log its address")
	}
	go func() { _, _ = io.Copy(io.Discard, logs) }()
	b.Cleanup(func() {
		stop()
		<-ran
	})
	return addr
}
