package bench

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/bench/internal/bareupload"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/internal/benchfixture"
)

const (
	benchToken    = benchfixture.Token
	benchJobToken = "bench-job-token"
	runningJob    = 1000
)

// archive returns a zip of one stored entry of size random bytes.
func archive(b *testing.B, size int) []byte {
	b.Helper()
	payload := make([]byte, size)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(payload)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "payload.bin", Method: zip.Store})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.Write(payload); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// server serves AccessLog(New(fsstore, tokenauth)) over loopback TCP, with
// project 1, job 1 (archive data) and running job 1000 (archive upload,
// so that uploading the same bytes again is a 201 that stores, hashes,
// validates and deletes a blob, as every round of compare.sh's does).
func server(b *testing.B, data []byte, opts ...fsstore.Option) *httptest.Server {
	b.Helper()
	h := benchfixture.Handler(b, benchfixture.Config{
		Store: opts,
		Jobs: []benchfixture.Job{
			{ID: 1, Name: "build", Status: jobartifacts.StatusSuccess, Archive: data},
			{ID: runningJob, Name: "upload", Status: jobartifacts.StatusRunning, Archive: data},
		},
		JobTokens: map[string]int64{benchJobToken: runningJob},
		Logger:    slog.New(slog.DiscardHandler),
		Options:   []jobartifacts.Option{jobartifacts.WithMaxUploadSize(0)},
	})
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkUpload: a runner's upload of a 64 MiB archive, chunked multipart
// as GitLab Runner sends it, into fsstore with and without fsync; and the
// same body to the bare Go references, multipart to disk without and with
// SHA-256 (bareupload, as benchserve bare serves it). cpu-ms/op is the
// whole process's CPU time, the client's included (the same for every
// variant).
func BenchmarkUpload(b *testing.B) {
	data := archive(b, 64<<20)
	for _, fsync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			var opts []fsstore.Option
			if !fsync {
				opts = append(opts, fsstore.WithoutFsync())
			}
			srv := server(b, data, opts...)
			upload(b, srv.Client(), fmt.Sprintf("%s/api/v4/jobs/%d/artifacts", srv.URL, runningJob), data, "")
		})
	}
	for _, hashed := range []bool{false, true} {
		name, want := "bare", ""
		if hashed {
			sum := sha256.Sum256(data)
			name, want = "bare-sha256", hex.EncodeToString(sum[:])
		}
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewServer(bareupload.Handler(b.TempDir(), hashed))
			b.Cleanup(srv.Close)
			upload(b, srv.Client(), srv.URL, data, want)
		})
	}
}

// BenchmarkSmallUpload: a runner's upload of a 4 KiB archive (the size of
// a report or a dotenv file), into fsstore WithoutFsync: the per-upload
// cost of authentication, multipart, the blob and its record.
func BenchmarkSmallUpload(b *testing.B) {
	data := archive(b, 4<<10)
	srv := server(b, data, fsstore.WithoutFsync())
	b.ReportAllocs()
	upload(b, srv.Client(), fmt.Sprintf("%s/api/v4/jobs/%d/artifacts", srv.URL, runningJob), data, "")
}

// upload is the upload benchmarks' loop: data as the file part of a chunked
// multipart POST to url, a 201 expected, with the body wantBody unless that
// is "".
func upload(b *testing.B, client *http.Client, url string, data []byte, wantBody string) {
	b.SetBytes(int64(len(data)))
	cpu := cpuTime(b)
	for b.Loop() {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			w, err := mw.CreateFormFile("file", "artifacts.zip")
			if err == nil {
				_, err = w.Write(data)
			}
			if err == nil {
				err = mw.Close()
			}
			pw.CloseWithError(err)
		}()
		req, err := http.NewRequest(http.MethodPost, url, pr) // no length: chunked
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("JOB-TOKEN", benchJobToken)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			b.Fatalf("upload: %s, %v", resp.Status, err)
		}
		if wantBody != "" && string(body) != wantBody {
			b.Fatalf("upload: body %q, want %q", body, wantBody)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// cpuTime is the CPU time the process has used so far, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// get fetches url with the user's token and discards the body.
func get(b *testing.B, client *http.Client, url string, buf []byte) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("PRIVATE-TOKEN", benchToken)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, buf)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("download: %s, %v", resp.Status, err)
	}
}

// BenchmarkDownload: a whole 256 MiB archive (route 1), sent with sendfile
// from fsstore's file, read by a Go client.
func BenchmarkDownload(b *testing.B) {
	data := archive(b, 256<<20)
	srv := server(b, data, fsstore.WithoutFsync())
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		get(b, srv.Client(), srv.URL+"/api/v4/projects/1/jobs/1/artifacts", buf)
	}
}

// BenchmarkTinyArchive: one small request, a 4 KiB whole archive: the
// per-request cost of authentication, metadata and opening the blob.
func BenchmarkTinyArchive(b *testing.B) {
	data := archive(b, 4096)
	srv := server(b, data, fsstore.WithoutFsync())
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		get(b, srv.Client(), srv.URL+"/api/v4/projects/1/jobs/1/artifacts", buf)
	}
}
