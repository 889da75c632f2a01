package jobartifacts_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/heldblob"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// TestHandlerClose: Close cancels the index build that a cold entry lookup
// left reading the store and returns once it has ended; entries are still
// served after Close, and no build starts.
func TestHandlerClose(t *testing.T) {
	var store *heldblob.Store
	var api *jobartifacts.Handler
	f := newAPIFixture(t, apiFixtureConfig{
		wrapStore:   func(m *memstore.Store) jobartifacts.Store { store = heldblob.New(m); return store },
		wrapHandler: func(h http.Handler) http.Handler { api = h.(*jobartifacts.Handler); return h },
	})
	entry := p1 + "/jobs/100/artifacts/hello.txt"
	resp := f.do(t, http.MethodGet, entry, asUser(apiTokenReporter))
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "hello world\n", string(resp.body))
	select {
	case <-store.Reading(): // the build is under way
	case <-time.After(10 * time.Second):
		t.Fatal("no index build started")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, api.Close(ctx))
	require.True(t, store.Closed(), "Close returns once the build has closed its blob")

	resp = f.do(t, http.MethodGet, entry, asUser(apiTokenReporter))
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "hello world\n", string(resp.body))
	require.NoError(t, api.Close(ctx), "Close again, which would wait for a build")
	require.Equal(t, int64(3), store.Opens(), "the request's open only: no build after Close")
}
