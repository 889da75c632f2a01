package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"
)

// benchArchiveSize is the archive the throughput benchmarks move: four
// parts of s3store's default 16 MiB.
const benchArchiveSize = 64 << 20

// s3Bench is this program's handler on PostgreSQL and a fresh bucket,
// in-process, with a minio-go client of the same bucket for the direct
// transfers it is measured against.
type s3Bench struct {
	server *httptest.Server
	store  *openedStore
	s3     *minio.Client
	bucket string
}

func newS3Bench(b *testing.B) *s3Bench {
	b.Helper()
	svc := testServices(b)
	client := svc.s3Client(b)
	bucket := svc.newBucket(b, client)
	cfg, err := parseServeFlags([]string{
		"-postgres", svc.dsn, "-postgres-schema", svc.newSchema(b),
		"-s3-endpoint", svc.s3Endpoint, "-s3-bucket", bucket, "-s3-region", svc.s3Region,
		"-s3-addressing", "path", "-s3-tls=false",
		"-data", filepath.Join(b.TempDir(), "unused"),
		"-demo", "-token", clusterToken, "-job-token", clusterJobToken,
		"-max-upload-size", "0",
	}, io.Discard)
	require.NoError(b, err)
	env := map[string]string{"JOBARTIFACTS_S3_ACCESS_KEY": svc.s3AccessKey, "JOBARTIFACTS_S3_SECRET_KEY": svc.s3SecretKey}
	store, err := openStore(b.Context(), cfg.storeConfig, func(k string) string { return env[k] })
	require.NoError(b, err)
	b.Cleanup(store.Close)
	h, err := newServer(b.Context(), cfg, store, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return &s3Bench{server: srv, store: store, s3: client, bucket: bucket}
}

// upload sends body, a runner's multipart upload, to job 100.
func (s *s3Bench) upload(b *testing.B, contentType string, body []byte) {
	req, err := http.NewRequest(http.MethodPost, uploadURL(s.server.URL), bytes.NewReader(body))
	require.NoError(b, err)
	req.Header.Set("JOB-TOKEN", clusterJobToken)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(b, http.StatusCreated, resp.StatusCode)
}

// BenchmarkS3Download compares a runner's download of a 64 MiB archive
// through the handler (served, not redirected: GET /jobs/:id/artifacts)
// with a direct GET of its object by minio-go. The goal is ≥ 0.9× the
// direct throughput (MB/s).
func BenchmarkS3Download(b *testing.B) {
	s := newS3Bench(b)
	archive := bigArchive(b, benchArchiveSize)
	contentType, body := uploadBody(b, archive)
	s.upload(b, contentType, body)
	job, err := s.store.JobByID(b.Context(), 100)
	require.NoError(b, err)
	a, ok := job.Archive()
	require.True(b, ok)
	size := int64(len(archive))

	b.Run("handler", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			req, err := http.NewRequest(http.MethodGet, s.server.URL+"/api/v4/jobs/100/artifacts", nil)
			require.NoError(b, err)
			req.Header.Set("JOB-TOKEN", clusterJobToken)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(b, err)
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.NoError(b, err)
			require.Equal(b, size, n)
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			obj, err := s.s3.GetObject(b.Context(), s.bucket, string(a.Blob), minio.GetObjectOptions{})
			require.NoError(b, err)
			n, err := io.Copy(io.Discard, obj)
			obj.Close()
			require.NoError(b, err)
			require.Equal(b, size, n)
		}
	})
}

// BenchmarkS3Upload compares a runner's upload of a 64 MiB archive through
// the handler with a direct streaming put of the same bytes by minio-go
// (unknown length, s3store's 16 MiB parts). The handler's first upload
// records the archive; the next ones, of the same bytes, are stored,
// checked and deleted again (GitLab's 201 for an archive already there):
// every one streams all of it to S3. The goal is ≥ 0.9× the direct
// throughput (MB/s).
func BenchmarkS3Upload(b *testing.B) {
	s := newS3Bench(b)
	archive := bigArchive(b, benchArchiveSize)
	contentType, body := uploadBody(b, archive)

	b.Run("handler", func(b *testing.B) {
		b.SetBytes(int64(len(archive)))
		for b.Loop() {
			s.upload(b, contentType, body)
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(int64(len(archive)))
		i := 0
		for b.Loop() {
			key := fmt.Sprintf("bench/direct-%d", i)
			i++
			_, err := s.s3.PutObject(context.Background(), s.bucket, key, bytes.NewReader(archive), -1,
				minio.PutObjectOptions{PartSize: 16 << 20})
			require.NoError(b, err)
		}
	})
}
