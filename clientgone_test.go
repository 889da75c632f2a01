package jobartifacts_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/logtest"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// waitingStore is a memstore whose job lookups wait until the request's
// context ends, then fail with its error, as a database driver does.
type waitingStore struct {
	*memstore.Store
	entered chan struct{}
}

func (s *waitingStore) Job(ctx context.Context, projectID, jobID int64) (*jobartifacts.Job, error) {
	s.entered <- struct{}{}
	<-ctx.Done()
	return nil, fmt.Errorf("query job %d: %w", jobID, ctx.Err())
}

// TestClientGoneIsNotAServerError: a client that hangs up while the handler
// waits on the store is not a 500 and not an error in the log (issue 10,
// item 11); it is logged at Debug, and whatever is written is nginx's 499.
func TestClientGoneIsNotAServerError(t *testing.T) {
	var logs logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := &waitingStore{entered: make(chan struct{}, 1)}
	f := newAPIFixture(t, apiFixtureConfig{
		wrapStore: func(m *memstore.Store) jobartifacts.Store { store.Store = m; return store },
		options:   []jobartifacts.Option{jobartifacts.WithLogger(logger)},
	})

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.server.URL+"/api/v4/projects/1/jobs/100/artifacts", nil)
	require.NoError(t, err)
	req.Header.Set("PRIVATE-TOKEN", apiTokenReporter)
	done := make(chan error, 1)
	go func() {
		resp, err := f.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-store.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the store")
	}
	cancel()
	require.Error(t, <-done)

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "client gone") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.Contains(t, logs.String(), "level=DEBUG msg=\"jobartifacts: client gone\"")
	require.NotContains(t, logs.String(), "level=ERROR")
	require.NotContains(t, logs.String(), "status=500")
}

// TestContextEndedAnswers499: the same through the handler directly, for a
// request whose context was cancelled or timed out: 499, never 500.
func TestContextEndedAnswers499(t *testing.T) {
	for _, end := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Millisecond)
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			var logs logtest.Buffer
			store := &waitingStore{entered: make(chan struct{}, 1)}
			f := newAPIFixture(t, apiFixtureConfig{})
			store.Store = f.store
			h := jobartifacts.New(store, f.authz, jobartifacts.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			ctx, cancel := end.ctx()
			defer cancel()
			go func() { <-store.entered; cancel() }()
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v4/projects/1/jobs/100/artifacts", nil)
			req.Header.Set("PRIVATE-TOKEN", apiTokenReporter)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, 499, rec.Code, rec.Body.String())
			require.JSONEq(t, `{"message":"499 Client Closed Request"}`, rec.Body.String())
			require.Empty(t, logs.String(), "nothing above Debug is logged")
		})
	}
}
