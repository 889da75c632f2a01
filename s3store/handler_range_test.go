package s3store_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/s3store"
)

// fetchRecorder is an http.RoundTripper that records the Range header of
// each GET and counts the body bytes that came back.
type fetchRecorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	ranges []string
	bytes  int64
}

func (f *fetchRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f.base.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet {
		return resp, err
	}
	f.mu.Lock()
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	f.mu.Unlock()
	resp.Body = &countedBody{ReadCloser: resp.Body, f: f}
	return resp, nil
}

// take returns the Range headers and body bytes since the last take.
func (f *fetchRecorder) take() ([]string, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ranges, n := f.ranges, f.bytes
	f.ranges, f.bytes = nil, 0
	return ranges, n
}

type countedBody struct {
	io.ReadCloser
	f *fetchRecorder
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.f.mu.Lock()
	b.f.bytes += int64(n)
	b.f.mu.Unlock()
	return n, err
}

// servedBlobs is an s3store without signed URLs, so that the Handler
// serves the bytes itself (as it does for the runner's download without
// direct_download).
type servedBlobs struct{ *s3store.Store }

func (servedBlobs) SignedURL(context.Context, jobartifacts.BlobKey, jobartifacts.SignedURLOptions) (string, error) {
	return "", jobartifacts.ErrNotSupported
}

// handlerAllowAll lets every request through.
type handlerAllowAll struct{}

type anyone struct{}

func (anyone) Name() string { return "anyone" }

func (handlerAllowAll) Authenticate(context.Context, jobartifacts.Credential) (jobartifacts.Principal, error) {
	return anyone{}, nil
}

func (handlerAllowAll) Authorize(context.Context, jobartifacts.Principal, jobartifacts.Action, *jobartifacts.Project, *jobartifacts.Job) (jobartifacts.Decision, error) {
	return jobartifacts.Allow(), nil
}

// TestHandlerRangeFetchesOnlyItsBytes: a Handler serving an archive from
// S3 answers a small Range with one GET of exactly that range, a whole
// download with one GET of the whole object, and each short part of a
// multi-range body with one GET of its bytes: the bytes fetched from S3
// are those sent.
func TestHandlerRangeFetchesOnlyItsBytes(t *testing.T) {
	srv := testServer(t)
	rec := &fetchRecorder{base: http.DefaultTransport.(*http.Transport).Clone()}
	client := newClient(t, srv, rec)
	bucket := newBucket(t, client)
	blobs := s3store.New(client, bucket)
	meta := memstore.New()
	ctx := t.Context()

	const size = 4 << 20
	data := pseudoRandom(7, size)
	key := blobKey("archive")
	_, err := blobs.PutBlob(ctx, key, bytes.NewReader(data))
	require.NoError(t, err)
	require.NoError(t, meta.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "g/p", Visibility: "public"}))
	require.NoError(t, meta.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	require.NoError(t, meta.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: jobartifacts.StatusSuccess, Ref: "main"}))
	_, err = meta.CreateArtifact(ctx, 1, 100, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip", Size: size, Blob: key})
	require.NoError(t, err)

	server := httptest.NewServer(jobartifacts.New(jobartifacts.CombineStores(meta, servedBlobs{blobs}), handlerAllowAll{}))
	t.Cleanup(server.Close)
	get := func(rangeHeader string) []byte {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server.URL+"/api/v4/projects/1/jobs/100/artifacts", nil)
		require.NoError(t, err)
		if rangeHeader != "" {
			req.Header.Set("Range", rangeHeader)
		}
		resp, err := server.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return body
	}
	rec.take() // the upload

	require.Equal(t, data[1000:1100], get("bytes=1000-1099"))
	ranges, fetched := rec.take()
	require.Equal(t, []string{"bytes=1000-1099"}, ranges)
	require.EqualValues(t, 100, fetched)

	require.Equal(t, data, get(""))
	ranges, fetched = rec.take()
	require.Equal(t, []string{"bytes=0-4194303"}, ranges)
	require.EqualValues(t, size, fetched)

	// A multi-range body: each short part one GET of its own bytes.
	body := get("bytes=0-9,2000000-2000099")
	require.True(t, bytes.Contains(body, data[:10]))
	require.True(t, bytes.Contains(body, data[2000000:2000100]))
	ranges, fetched = rec.take()
	require.Equal(t, []string{"bytes=0-9", "bytes=2000000-2000099"}, ranges)
	require.EqualValues(t, 110, fetched)
}
