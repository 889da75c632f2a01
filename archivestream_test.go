package jobartifacts_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// failingBlobStore is a memstore whose blobs fail to read past failAt bytes.
type failingBlobStore struct {
	*memstore.Store
	failAt int64
}

func (s *failingBlobStore) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	b, err := s.Store.OpenBlob(ctx, key)
	if err != nil {
		return nil, err
	}
	return &failingBlob{Blob: b, failAt: s.failAt}, nil
}

type failingBlob struct {
	jobartifacts.Blob
	failAt int64
}

// NewRangeReader, how whole archives are read, fails at failAt too.
func (b *failingBlob) NewRangeReader(off, n int64) (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(b, off, max(0, b.Info().Size-off))), nil
}

func (b *failingBlob) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > b.failAt {
		n := max(0, int(b.failAt-off))
		n, _ = b.Blob.ReadAt(p[:n], off)
		return n, errDiskOnFire
	}
	return b.Blob.ReadAt(p, off)
}

// TestArchiveStreamFailureIsLoggedAndCut: a whole archive whose blob fails
// midway is cut (the client never sees a complete 200) and the failure is
// logged, as single files are (issue 10, item 11).
func TestArchiveStreamFailureIsLoggedAndCut(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{
		wrapStore: func(m *memstore.Store) jobartifacts.Store { return &failingBlobStore{Store: m, failAt: 100} },
	})
	req, err := http.NewRequest(http.MethodGet, f.server.URL+"/api/v4/projects/1/jobs/100/artifacts", nil)
	require.NoError(t, err)
	req.Header.Set("PRIVATE-TOKEN", apiTokenReporter)
	// The archive is smaller than net/http's buffer: the cut may come
	// before the headers are flushed, or after.
	resp, err := f.client.Do(req)
	if err == nil {
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, err = io.ReadAll(resp.Body)
	}
	require.Error(t, err, "the transfer must be seen as cut")

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.logs.String(), "stream aborted") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.Contains(t, f.logs.String(), `level=WARN msg="jobartifacts: stream aborted"`)
	require.Contains(t, f.logs.String(), errDiskOnFire.Error())
}

// A multi-range download whose client goes away leaves ServeContent's
// writer goroutine reading after the handler returned: the content it reads
// is closed under a lock and opens nothing more (run with -race).
func TestMultiRangeDownloadClientGone(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	body := make([]byte, 8<<20)
	_, _ = rand.Read(body)
	_, err := f.store.PutArchive(t.Context(), 1, 100, ziptest.Build(t, ziptest.Entry{Name: "big.bin", Body: body}))
	require.NoError(t, err)
	u, err := url.Parse(f.server.URL)
	require.NoError(t, err)
	for range 10 {
		conn, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		_, err = fmt.Fprintf(conn, "GET /api/v4/projects/1/jobs/100/artifacts HTTP/1.1\r\nHost: x\r\nPRIVATE-TOKEN: %s\r\nRange: bytes=0-3000000,3000001-6000000,6000001-8000000\r\n\r\n", apiTokenReporter)
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		status, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Contains(t, status, "206")
		_, err = io.CopyN(io.Discard, br, 200<<10)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}
	// The server notices the closed connections; a race or a panic in the
	// writer goroutines fails the run.
	time.Sleep(200 * time.Millisecond)
}

// rangeFailStore's blobs fail every range read, as a connection reset by
// object storage does; ReadAt (the central directory) still works.
type rangeFailStore struct{ *memstore.Store }

type rangeFailBlob struct{ jobartifacts.Blob }

func (s *rangeFailStore) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	b, err := s.Store.OpenBlob(ctx, key)
	if err != nil {
		return nil, err
	}
	return rangeFailBlob{b}, nil
}

func (rangeFailBlob) NewRangeReader(int64, int64) (io.ReadCloser, error) {
	return io.NopCloser(failingReader{}), nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errDiskOnFire }

// A storage failure while a single file's first bytes are read (to sniff
// its type) is a 500, logged, not the archive's fault (422).
func TestSingleFileStorageFailureIsNotAnInvalidArchive(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{wrapStore: func(m *memstore.Store) jobartifacts.Store { return &rangeFailStore{m} }})
	for _, target := range []string{"/projects/1/jobs/artifacts/main/raw/hello.txt?job=test", "/projects/1/jobs/100/artifacts/hello.txt"} {
		req, err := http.NewRequest(http.MethodGet, f.server.URL+"/api/v4"+target, nil)
		require.NoError(t, err)
		req.Header.Set("PRIVATE-TOKEN", apiTokenReporter)
		resp, err := f.client.Do(req)
		if err != nil {
			continue // route 3 may cut the stream once headers are out
		}
		_ = resp.Body.Close()
		require.NotEqual(t, http.StatusUnprocessableEntity, resp.StatusCode, target)
	}
	require.Contains(t, f.logs.String(), errDiskOnFire.Error())
}
