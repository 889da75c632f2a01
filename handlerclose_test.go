package jobartifacts_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// heldReopenStore is a memstore whose second blob open, the one an entry
// lookup's index build makes, reads nothing until that open's context ends.
type heldReopenStore struct {
	*memstore.Store
	opens   atomic.Int64
	reading chan struct{} // closed when the held blob is first read
	once    sync.Once
	closed  atomic.Bool // the held blob was closed
}

func (s *heldReopenStore) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	b, err := s.Store.OpenBlob(ctx, key)
	if err != nil || s.opens.Add(1) != 2 {
		return b, err
	}
	return &heldReopenBlob{Blob: b, ctx: ctx, store: s}, nil
}

// heldReopenBlob is the held blob; ctx is the context it was opened with,
// which governs its reads (BlobStore.OpenBlob).
type heldReopenBlob struct {
	jobartifacts.Blob
	ctx   context.Context
	store *heldReopenStore
}

func (b *heldReopenBlob) ReadAt(p []byte, off int64) (int, error) {
	b.store.once.Do(func() { close(b.store.reading) })
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *heldReopenBlob) Close() error {
	b.store.closed.Store(true)
	return b.Blob.Close()
}

// TestHandlerClose: Close cancels the index build that a cold entry lookup
// left reading the store and returns once it has ended; entries are still
// served after Close, and no build starts.
func TestHandlerClose(t *testing.T) {
	store := &heldReopenStore{reading: make(chan struct{})}
	var api *jobartifacts.Handler
	f := newAPIFixture(t, apiFixtureConfig{
		wrapStore:   func(m *memstore.Store) jobartifacts.Store { store.Store = m; return store },
		wrapHandler: func(h http.Handler) http.Handler { api = h.(*jobartifacts.Handler); return h },
	})
	entry := p1 + "/jobs/100/artifacts/hello.txt"
	resp := f.do(t, http.MethodGet, entry, asUser(apiTokenReporter))
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "hello world\n", string(resp.body))
	select {
	case <-store.reading: // the build is under way
	case <-time.After(10 * time.Second):
		t.Fatal("no index build started")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, api.Close(ctx))
	require.True(t, store.closed.Load(), "Close returns once the build has closed its blob")

	resp = f.do(t, http.MethodGet, entry, asUser(apiTokenReporter))
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "hello world\n", string(resp.body))
	require.NoError(t, api.Close(ctx), "Close again, which would wait for a build")
	require.Equal(t, int64(3), store.opens.Load(), "the request's open only: no build after Close")
}
