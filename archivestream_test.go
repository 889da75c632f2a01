package jobartifacts_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
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
