package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/heldblob"
	"github.com/ciartifacts/jobartifacts/internal/logtest"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// gatedStore holds every blob read until release is closed, and closes
// reading (once) when the first read starts: a download that stays in
// flight for as long as the test wants.
type gatedStore struct {
	seedStore
	reading chan struct{}
	once    sync.Once
	release chan struct{}
}

func (s *gatedStore) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	b, err := s.seedStore.OpenBlob(ctx, key)
	if err != nil {
		return nil, err
	}
	return &gatedBlob{Blob: b, store: s}, nil
}

type gatedBlob struct {
	jobartifacts.Blob
	store *gatedStore
}

func (b *gatedBlob) ReadAt(p []byte, off int64) (int, error) {
	b.gate()
	return b.Blob.ReadAt(p, off)
}

// NewRangeReader is how whole archives are read.
func (b *gatedBlob) NewRangeReader(off, n int64) (io.ReadCloser, error) {
	b.gate()
	return b.Blob.NewRangeReader(off, n)
}

func (b *gatedBlob) gate() {
	b.store.once.Do(func() { close(b.store.reading) })
	<-b.store.release
}

// TestGracefulShutdown cancels the server's context (what SIGTERM does)
// while a download is in flight: the listener closes at once, the download
// still completes in full, and only then does the server return.
func TestGracefulShutdown(t *testing.T) {
	ctx := context.Background()
	gated := &gatedStore{seedStore: memstore.New(), reading: make(chan struct{}), release: make(chan struct{})}
	cfg := serveConfig{demo: true, token: testToken, jobToken: testJobToken}
	h, err := newServer(ctx, cfg, gated, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	shutdownStarted := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shutdownStarted) })
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- serveUntilDone(serveCtx, srv, ln, time.Minute, h.Close) }()

	type download struct {
		status int
		body   []byte
		err    error
	}
	downloaded := make(chan download, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/api/v4/projects/1/jobs/42/artifacts", nil)
		req.Header.Set("PRIVATE-TOKEN", testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			downloaded <- download{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		downloaded <- download{status: resp.StatusCode, body: body, err: err}
	}()

	<-gated.reading // the download is in flight
	stop()          // SIGTERM
	<-shutdownStarted
	_, err = net.Dial("tcp", ln.Addr().String())
	require.Error(t, err, "new connections are refused once shutdown began")
	select {
	case err := <-served:
		t.Fatalf("server returned before the download finished: %v", err)
	default:
	}

	close(gated.release)
	d := <-downloaded
	require.NoError(t, d.err)
	require.Equal(t, http.StatusOK, d.status)
	_, pipelines, err := demoData()
	require.NoError(t, err)
	require.Equal(t, pipelines[1].jobs[0].archive, d.body, "the whole archive arrived")
	require.NoError(t, <-served)
}

// TestGracefulShutdownTimeout cuts a download that outlasts the timeout and
// reports it.
func TestGracefulShutdownTimeout(t *testing.T) {
	ctx := context.Background()
	gated := &gatedStore{seedStore: memstore.New(), reading: make(chan struct{}), release: make(chan struct{})}
	defer close(gated.release)
	h, err := newServer(ctx, serveConfig{demo: true, token: testToken, jobToken: testJobToken}, gated, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serveUntilDone(serveCtx, &http.Server{Handler: h}, ln, time.Millisecond, h.Close) }()

	failed := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/api/v4/projects/1/jobs/42/artifacts", nil)
		req.Header.Set("PRIVATE-TOKEN", testToken)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		failed <- err
	}()
	<-gated.reading
	stop()
	require.ErrorIs(t, <-served, context.DeadlineExceeded)
	require.Error(t, <-failed, "the cut download fails on the client")
}

// TestShutdownEndsIndexBuilds: the archive index build that an entry
// request left reading the store has ended (closed its blob) when
// serveUntilDone returns, so that the store can close.
func TestShutdownEndsIndexBuilds(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	store := heldblob.New(mem)
	cfg := serveConfig{demo: true, token: testToken, jobToken: testJobToken, indexBudget: jobartifacts.DefaultArchiveIndexBudget}
	h, err := newServer(ctx, cfg, struct {
		*heldblob.Store
		seeder
	}{store, mem}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Zero(t, store.Opens(), "the demo's seeding opens no blob")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- serveUntilDone(serveCtx, &http.Server{Handler: h}, ln, time.Minute, h.Close) }()

	req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/api/v4/projects/1/jobs/5/artifacts/some/release/CHANGELOG.md", nil)
	require.NoError(t, err)
	req.Header.Set("PRIVATE-TOKEN", testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	select {
	case <-store.Reading(): // the build is under way
	case <-time.After(10 * time.Second):
		t.Fatal("no index build started")
	}

	stop()
	require.NoError(t, <-served)
	require.True(t, store.Closed(), "the build has ended when serveUntilDone returns")
}

// TestRequestLogHasNoTokens serves requests that carry tokens in headers and
// query strings and checks what the log says about them.
func TestRequestLogHasNoTokens(t *testing.T) {
	logged := &logtest.Buffer{}
	logger := slog.New(slog.NewTextHandler(logged, nil))
	h, err := newServer(context.Background(), serveConfig{demo: true, token: testToken, jobToken: testJobToken}, memstore.New(), logger)
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	defer ts.Close()

	for _, r := range []struct {
		path   string
		header string
		value  string
	}{
		{path: "/api/v4/projects/1/jobs/42/artifacts", header: "PRIVATE-TOKEN", value: testToken},
		{path: "/api/v4/projects/1/jobs/42/artifacts", header: "Authorization", value: "Bearer " + testToken},
		{path: "/api/v4/projects/1/jobs/42/artifacts?job_token=" + testJobToken},
		{path: "/api/v4/projects/1/jobs/artifacts/main/download?job=test&private_token=" + testToken},
		{path: "/api/v4/projects/1/jobs/42/artifacts?token=" + testJobToken},
	} {
		req, err := http.NewRequest(http.MethodGet, ts.URL+r.path, nil)
		require.NoError(t, err)
		if r.header != "" {
			req.Header.Set(r.header, r.value)
		}
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, r.path)
	}
	// A request is logged once it is answered, which may be just after the
	// client has read the whole answer.
	require.Eventually(t, func() bool { return strings.Count(logged.String(), `msg=request `) == 5 }, 10*time.Second, time.Millisecond)
	log := logged.String()
	require.NotContains(t, log, testToken)
	require.NotContains(t, log, testJobToken)
	require.Contains(t, log, "path=\"/api/v4/projects/1/jobs/artifacts/main/download?job=test&private_token=REDACTED\"")
	require.Contains(t, log, "method=GET")
	require.Equal(t, 5, strings.Count(log, "status=200"))
	require.Contains(t, log, "duration=")
}

func TestParseServeFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, cfg serveConfig)
	}{
		{name: "defaults", check: func(t *testing.T, cfg serveConfig) {
			require.Equal(t, "127.0.0.1:8080", cfg.addr)
			require.Equal(t, "./artifacts-data", cfg.dataDir)
			require.False(t, cfg.demo)
			require.Empty(t, cfg.token)
			require.Equal(t, int64(jobartifacts.DefaultArchiveIndexBudget), cfg.indexBudget)
			require.Equal(t, jobartifacts.DefaultZstdDecoders, cfg.zstdDecoders)
			require.Equal(t, int64(jobartifacts.DefaultZstdMemory), cfg.zstdMemory)
			require.Equal(t, int64(jobartifacts.DefaultUploadMemory), cfg.uploadMemory)
			require.Empty(t, cfg.corsOrigin)
		}},
		{name: "memory limits", args: []string{"-index-budget", "1048576", "-zstd-decoders", "2", "-zstd-memory", "16777216", "-upload-memory", "8388608"}, check: func(t *testing.T, cfg serveConfig) {
			require.Equal(t, int64(1<<20), cfg.indexBudget)
			require.Equal(t, 2, cfg.zstdDecoders)
			require.Equal(t, int64(16<<20), cfg.zstdMemory)
			require.Equal(t, int64(8<<20), cfg.uploadMemory)
		}},
		{name: "demo generates tokens", args: []string{"-demo"}, check: func(t *testing.T, cfg serveConfig) {
			require.True(t, strings.HasPrefix(cfg.token, "glpat-"), cfg.token)
			require.True(t, strings.HasPrefix(cfg.jobToken, "glcbt-"), cfg.jobToken)
		}},
		{name: "demo keeps given tokens", args: []string{"-demo", "-token", "a", "-job-token", "b"}, check: func(t *testing.T, cfg serveConfig) {
			require.Equal(t, "a", cfg.token)
			require.Equal(t, "b", cfg.jobToken)
		}},
		{name: "cors origin", args: []string{"-cors-origin", "https://gitlab.example.com"}, check: func(t *testing.T, cfg serveConfig) {
			require.Equal(t, "https://gitlab.example.com", cfg.corsOrigin)
		}},
		{name: "token without demo", args: []string{"-token", "a"}, wantErr: "-demo"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseServeFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

// TestHelp prints the usage of both commands and says how the demo treats
// existing data.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"import", "-h"}} {
		var stderr bytes.Buffer
		err := run(context.Background(), args, io.Discard, &stderr)
		require.True(t, errors.Is(err, flag.ErrHelp), "%v", err)
		require.Contains(t, stderr.String(), "Usage: server")
	}
	var stderr bytes.Buffer
	_ = run(context.Background(), []string{"-h"}, io.Discard, &stderr)
	require.Contains(t, stderr.String(), "Only what is\nmissing is created")
}

// TestServeEndToEnd runs the program as `server -demo` does, on a free
// port: the docs' first example, a runner upload to the demo's running job
// and its runner download, the project-wide delete followed by the sweeper,
// and a clean stop.
func TestServeEndToEnd(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	logs, logWriter := io.Pipe()
	var stdout bytes.Buffer
	ran := make(chan error, 1)
	go func() {
		ran <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-demo",
			"-token", testToken, "-job-token", testJobToken, "-sweep-interval", "20ms"}, &stdout, logWriter)
		logWriter.Close()
	}()

	// The address is in the log line that clients/run.sh waits for too.
	lines := bufio.NewScanner(logs)
	var base string
	for base == "" && lines.Scan() {
		if _, addr, ok := strings.Cut(lines.Text(), `msg="serving the Job Artifacts API" addr=`); ok {
			base = "http://" + strings.Fields(addr)[0]
		}
	}
	require.NotEmpty(t, base, "the server logs its address")
	var logged bytes.Buffer
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for lines.Scan() {
			logged.WriteString(lines.Text() + "\n")
		}
	}()

	do := func(method, path, header, token string, body io.Reader, contentType string) (int, []byte) {
		req, err := http.NewRequest(method, base+path, body)
		require.NoError(t, err)
		req.Header.Set(header, token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}

	status, _ := do(http.MethodGet, "/api/v4/projects/1/jobs/42/artifacts", "PRIVATE-TOKEN", testToken, nil, "")
	require.Equal(t, http.StatusOK, status)

	upload := ziptest.Build(t, ziptest.Files(map[string]string{"deploy/report.txt": "deployed\n"})...)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, err := mw.CreateFormFile("file", "artifacts.zip")
	require.NoError(t, err)
	_, err = part.Write(upload)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	status, body := do(http.MethodPost, "/api/v4/jobs/100/artifacts?artifact_format=zip&artifact_type=archive&expire_in=1%20week",
		"JOB-TOKEN", testJobToken, &form, mw.FormDataContentType())
	require.Equal(t, http.StatusCreated, status, "body: %s", body)
	status, body = do(http.MethodGet, "/api/v4/jobs/100/artifacts", "JOB-TOKEN", testJobToken, nil, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, upload, body)

	status, _ = do(http.MethodDelete, "/api/v4/projects/1/artifacts", "PRIVATE-TOKEN", testToken, nil, "")
	require.Equal(t, http.StatusAccepted, status)
	// The sweeper runs every 20ms; give it up to 10s on a loaded machine.
	swept := false
	for range 1000 {
		if status, _ = do(http.MethodGet, "/api/v4/projects/1/jobs/42/artifacts", "PRIVATE-TOKEN", testToken, nil, ""); status == http.StatusNotFound {
			swept = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.True(t, swept, "the sweeper deleted the expired archive")

	stop()
	require.NoError(t, <-ran)
	<-drained
	require.Contains(t, stdout.String(), "try:")
	require.Contains(t, logged.String(), `msg="shut down"`)
	require.NotContains(t, logged.String(), testToken)
	require.NotContains(t, logged.String(), testJobToken)
}
