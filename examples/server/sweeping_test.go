package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

func TestParseSweepFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    sweepConfig
		wantErr string
	}{
		{name: "defaults", want: sweepConfig{
			sweepInterval: 5 * time.Minute, blobGrace: time.Hour, orphanAge: 24 * time.Hour,
			orphanInterval: 24 * time.Hour, sweepBatch: 100, deletionLease: 10 * time.Minute,
		}},
		{name: "set", args: []string{
			"-sweep-interval", "1m", "-blob-grace", "0", "-orphan-age", "2h",
			"-orphan-interval", "0", "-sweep-batch", "7", "-blob-deletion-lease", "3m",
		}, want: sweepConfig{
			sweepInterval: time.Minute, orphanAge: 2 * time.Hour, sweepBatch: 7, deletionLease: 3 * time.Minute,
		}},
		{name: "negative orphan interval", args: []string{"-orphan-interval", "-1s"}, wantErr: "must not be negative"},
		{name: "no batch", args: []string{"-sweep-batch", "0"}, wantErr: "-sweep-batch must be at least 1"},
		{name: "no lease", args: []string{"-blob-deletion-lease", "0"}, wantErr: "-blob-deletion-lease must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseServeFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.sweepConfig)
		})
	}
}

// TestNewSweeperFlags: the sweeper's store calls take -sweep-batch as
// their limit, -blob-grace and -blob-deletion-lease as the claim's.
func TestNewSweeperFlags(t *testing.T) {
	cfg, err := parseServeFlags([]string{"-sweep-batch", "2", "-blob-grace", "2m", "-blob-deletion-lease", "3m"}, io.Discard)
	require.NoError(t, err)
	store := &recordingStore{Store: memstore.New()}
	ctx := t.Context()
	require.NoError(t, store.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "g/p"}))
	pipeline := jobartifacts.Pipeline{ID: 1, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}
	require.NoError(t, store.PutPipeline(ctx, pipeline))
	expired := time.Now().Add(-time.Minute)
	job := jobartifacts.Job{ID: 1, ProjectID: 1, Pipeline: pipeline, Name: "build", Ref: "main", Status: jobartifacts.StatusSuccess}
	for _, fileType := range []string{"archive", "metadata", "junit"} {
		job.Artifacts = append(job.Artifacts, jobartifacts.Artifact{FileType: fileType, FileFormat: "raw", Filename: fileType, Size: 1, ExpireAt: &expired, Blob: jobartifacts.BlobKey("blob-" + fileType)})
	}
	require.NoError(t, store.PutJob(ctx, job))

	removed, err := newSweeper(store, cfg.sweepConfig, slog.New(slog.DiscardHandler)).Sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, removed)
	require.Equal(t, []int{2, 2}, store.sweepLimits, "two batches of at most 2 records")
	require.Equal(t, []claim{{grace: 2 * time.Minute, lease: 3 * time.Minute, limit: 2}}, store.claims)
}

// TestNewSweeperOrphanInterval: -orphan-interval sets how often the
// sweeper lists the store's blobs, and 0 stops it.
func TestNewSweeperOrphanInterval(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		lists    bool
	}{{20 * time.Millisecond, true}, {0, false}} {
		store := &recordingStore{Store: memstore.New()}
		c := sweepConfig{sweepInterval: 5 * time.Millisecond, orphanInterval: tc.interval, sweepBatch: 100, deletionLease: time.Minute}
		ctx, stop := context.WithCancel(t.Context())
		ran := make(chan error, 1)
		go func() { ran <- newSweeper(store, c, slog.New(slog.DiscardHandler)).Run(ctx, c.sweepInterval) }()
		// At least 40 sweeps, 200 ms at the least: ten orphan intervals.
		require.Eventually(t, func() bool { return store.sweeps() >= 40 }, time.Minute, time.Millisecond)
		stop()
		require.ErrorIs(t, <-ran, context.Canceled)
		if tc.lists {
			require.GreaterOrEqual(t, store.lists(), 2, "-orphan-interval %v", tc.interval)
		} else {
			require.Zero(t, store.lists(), "-orphan-interval 0")
		}
	}
}

// TestSignedURLExpiryFlag: -signed-url-expiry is the expiry the handler
// asks signed URLs for, and is refused outside what S3 signs.
func TestSignedURLExpiryFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{{nil, 5 * time.Minute}, {[]string{"-signed-url-expiry", "90s"}, 90 * time.Second}} {
		cfg, err := parseServeFlags(append([]string{"-demo", "-token", testToken, "-job-token", testJobToken}, tc.args...), io.Discard)
		require.NoError(t, err)
		store := &recordingStore{Store: memstore.New()}
		h, err := newServer(t.Context(), cfg, store, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		ts := httptest.NewServer(h)
		req, err := http.NewRequest(http.MethodGet, ts.URL+"/api/v4/projects/1/jobs/42/artifacts", nil)
		require.NoError(t, err)
		req.Header.Set("PRIVATE-TOKEN", testToken)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		ts.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.Equal(t, []time.Duration{tc.want}, store.signedExpiries)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, tc.want.String(), loc.Query().Get("expiry"))
	}
	for _, bad := range []string{"0", "999ms", "169h"} {
		_, err := parseServeFlags([]string{"-signed-url-expiry", bad}, io.Discard)
		require.ErrorContains(t, err, "S3 signs URLs valid for 1s to 168h0m0s", bad)
	}
}

// recordingStore is a memstore that notes the arguments of the calls that
// the sweeper's and the handler's options reach, and hands out signed URLs
// that say their expiry.
type recordingStore struct {
	*memstore.Store

	mu             sync.Mutex
	sweepLimits    []int
	claims         []claim
	listCalls      int
	signedExpiries []time.Duration
}

type claim struct {
	grace, lease time.Duration
	limit        int
}

func (s *recordingStore) SweepExpiredArtifacts(ctx context.Context, now time.Time, limit int) ([]jobartifacts.SweptArtifact, error) {
	s.mu.Lock()
	s.sweepLimits = append(s.sweepLimits, limit)
	s.mu.Unlock()
	return s.Store.SweepExpiredArtifacts(ctx, now, limit)
}

func (s *recordingStore) ClaimBlobDeletions(ctx context.Context, grace, lease time.Duration, limit int) ([]jobartifacts.BlobKey, error) {
	s.mu.Lock()
	s.claims = append(s.claims, claim{grace, lease, limit})
	s.mu.Unlock()
	return s.Store.ClaimBlobDeletions(ctx, grace, lease, limit)
}

func (s *recordingStore) ListBlobs(ctx context.Context, prefix, pageToken string, limit int) ([]jobartifacts.BlobAttributes, string, error) {
	s.mu.Lock()
	s.listCalls++
	s.mu.Unlock()
	return s.Store.ListBlobs(ctx, prefix, pageToken, limit)
}

func (s *recordingStore) SignedURL(_ context.Context, key jobartifacts.BlobKey, opts jobartifacts.SignedURLOptions) (string, error) {
	s.mu.Lock()
	s.signedExpiries = append(s.signedExpiries, opts.Expiry)
	s.mu.Unlock()
	return "https://blobs.example/" + string(key) + "?expiry=" + opts.Expiry.String(), nil
}

func (s *recordingStore) sweeps() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sweepLimits)
}

func (s *recordingStore) lists() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listCalls
}
