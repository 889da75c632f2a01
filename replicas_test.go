package jobartifacts_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// The races below happened with two Handlers (two replicas) over one store,
// or with a Sweeper running beside a Handler, while the contract was a read
// followed by an unconditional write. Each test forces the interleaving that
// broke, through a store wrapper, and checks GitLab's outcome.

// hookStore is a Store whose named calls can run a hook first.
type hookStore struct {
	jobartifacts.Store
	beforeCreate func()
	beforeKeep   func()
	beforeSweep  func()
	sweepCalls   atomic.Int64
	sweptRows    atomic.Int64
}

func (s *hookStore) CreateArtifact(ctx context.Context, projectID, jobID int64, a jobartifacts.Artifact) (*jobartifacts.Job, error) {
	if s.beforeCreate != nil {
		s.beforeCreate()
	}
	return s.Store.CreateArtifact(ctx, projectID, jobID, a)
}

func (s *hookStore) KeepArtifacts(ctx context.Context, projectID, jobID int64, now time.Time) (*jobartifacts.Job, error) {
	if s.beforeKeep != nil {
		s.beforeKeep()
	}
	return s.Store.KeepArtifacts(ctx, projectID, jobID, now)
}

func (s *hookStore) SweepExpiredArtifacts(ctx context.Context, now time.Time, limit int) ([]jobartifacts.SweptArtifact, error) {
	if s.beforeSweep != nil {
		s.beforeSweep()
	}
	swept, err := s.Store.SweepExpiredArtifacts(ctx, now, limit)
	s.sweepCalls.Add(1)
	s.sweptRows.Add(int64(len(swept)))
	return swept, err
}

// replica starts one more Handler over store, with the fixture's
// authorizer and clock: another server process of the same deployment.
func (f *runnerFixture) replica(store jobartifacts.Store) runnerEmulator {
	f.t.Helper()
	srv := httptest.NewServer(jobartifacts.New(store, f.authz, jobartifacts.WithClock(func() time.Time { return f.now })))
	f.t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return runnerEmulator{apiURL: srv.URL + "/api/v4", client: client}
}

// doWith sends a request to replica r as the project's maintainer.
func (f *runnerFixture) doWith(r runnerEmulator, method, path string) runnerResponse {
	f.t.Helper()
	req, err := http.NewRequest(method, r.apiURL+path, nil)
	require.NoError(f.t, err)
	req.Header.Set("PRIVATE-TOKEN", runnerMaintainerToken)
	return r.do(f.t, req)
}

// jobBlobs lists the blobs stored under a job's key prefix.
func jobBlobs(t *testing.T, s jobartifacts.BlobStore, projectID, jobID int64) []jobartifacts.BlobKey {
	t.Helper()
	var keys []jobartifacts.BlobKey
	token := ""
	for {
		page, next, err := s.ListBlobs(context.Background(), fmt.Sprintf("projects/%d/jobs/%d/", projectID, jobID), token, 100)
		require.NoError(t, err)
		for _, b := range page {
			keys = append(keys, b.Key)
		}
		if next == "" {
			return keys
		}
		token = next
	}
}

// drain runs a sweep with no grace period, so that every queued blob goes.
func drain(t *testing.T, s jobartifacts.Store, now time.Time) {
	t.Helper()
	_, err := jobartifacts.NewSweeper(s, jobartifacts.WithBlobGrace(0),
		jobartifacts.WithSweeperClock(func() time.Time { return now })).Sweep(context.Background())
	require.NoError(t, err)
}

// barrier lets n callers through together.
type barrier struct {
	mu      sync.Mutex
	waiting int
	n       int
	open    chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, open: make(chan struct{})} }

func (b *barrier) wait() {
	b.mu.Lock()
	b.waiting++
	if b.waiting == b.n {
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
	case <-time.After(5 * time.Second):
	}
}

// Two runner uploads of different archives to one job, one on each replica,
// both past their checks before either records: one 201, one 400 as GitLab
// answers a second archive, and one blob left.
func TestReplicasUploadDifferentArchivesToOneJob(t *testing.T) {
	f := newRunnerFixture(t)
	hooked := &hookStore{Store: f.store}
	replicas := []runnerEmulator{f.replica(hooked), f.replica(hooked)}
	for round := range 10 {
		jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
		hooked.beforeCreate = newBarrier(2).wait
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, r := range replicas {
			wg.Go(func() {
				resp := r.upload(t, jobID, token, bytes.NewReader(runnerZip(fmt.Sprintf("round %d replica %d", round, i))), runnerUploadOptions{})
				statuses[i] = resp.status
			})
		}
		wg.Wait()
		require.ElementsMatch(t, []int{http.StatusCreated, http.StatusBadRequest}, statuses, "round %d", round)
		hooked.beforeCreate = nil

		drain(t, f.store, f.now)
		archive, ok := f.job(jobID).Archive()
		require.True(t, ok)
		require.Equal(t, []jobartifacts.BlobKey{archive.Blob}, jobBlobs(t, f.store, runnerProjectID, jobID), "round %d: the loser's blob is gone", round)
	}
}

// The same archive uploaded to both replicas at once is 201 twice: GitLab's
// sha256_matches_existing_artifact? holds across replicas too.
func TestReplicasUploadSameArchiveTwice(t *testing.T) {
	f := newRunnerFixture(t)
	hooked := &hookStore{Store: f.store, beforeCreate: newBarrier(2).wait}
	replicas := []runnerEmulator{f.replica(hooked), f.replica(hooked)}
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	body := runnerZip("same bytes")
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Go(func() { statuses[i] = r.upload(t, jobID, token, bytes.NewReader(body), runnerUploadOptions{}).status })
	}
	wg.Wait()
	require.Equal(t, []int{http.StatusCreated, http.StatusCreated}, statuses)
	drain(t, f.store, f.now)
	require.Len(t, jobBlobs(t, f.store, runnerProjectID, jobID), 1)
}

// expiringJob adds a succeeded job whose archive expires at f.now+ttl.
func expiringJob(t *testing.T, f *runnerFixture, ttl time.Duration) (int64, string) {
	t.Helper()
	// Running, so that its token may download (its own archive, here).
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	exp := f.now.Add(ttl)
	_, err := jobartifacts.StoreArtifact(context.Background(), f.store, runnerProjectID, jobID,
		jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip", ExpireAt: &exp},
		bytes.NewReader(runnerZip("keep me")))
	require.NoError(t, err)
	return jobID, token
}

// A keep whose checks passed while a sweep removes the archive: never "200
// kept" with the archive gone. The sweep lands between the route's check
// and the store's keep, the window a read-then-write keep had.
func TestKeepRacingSweepNeverAnswersKeptForAGoneArchive(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, _ := expiringJob(t, f, time.Minute)
	sweeper := jobartifacts.NewSweeper(f.store, jobartifacts.WithSweeperClock(func() time.Time { return f.now.Add(time.Hour) }))
	hooked := &hookStore{Store: f.store, beforeKeep: func() {
		n, err := sweeper.Sweep(context.Background())
		if err != nil || n != 1 {
			panic(fmt.Sprintf("sweep in the window: %d, %v", n, err))
		}
	}}
	r := f.replica(hooked)
	resp := f.doWith(r, http.MethodPost, fmt.Sprintf("/projects/%d/jobs/%d/artifacts/keep", runnerProjectID, jobID))
	hooked.beforeKeep = nil
	require.Equal(t, http.StatusNotFound, resp.status, "body: %s", resp.body)
	require.JSONEq(t, `{"message":"404 Not Found"}`, string(resp.body))
	j := f.job(jobID)
	require.False(t, j.ArtifactsLocked, "nothing was kept")
	_, ok := j.Archive()
	require.False(t, ok)

	// The other order: the keep wins, and the sweep spares the archive.
	jobID, token := expiringJob(t, f, time.Minute)
	resp = f.doWith(r, http.MethodPost, fmt.Sprintf("/projects/%d/jobs/%d/artifacts/keep", runnerProjectID, jobID))
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	n, err := sweeper.Sweep(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, http.StatusOK, r.download(t, jobID, token, false).status)
}

// An upload landing after a sweep was decided (the sweeper's listing) is
// never deleted with its blob: the sweep re-checks each record as it
// removes it.
func TestUploadLandingMidSweepIsSpared(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := expiringJob(t, f, time.Minute)
	old, _ := f.job(jobID).Archive()
	fresh := runnerZip("uploaded while sweeping")
	hooked := &hookStore{Store: f.store}
	hooked.beforeSweep = func() {
		hooked.beforeSweep = nil
		exp := f.now.Add(7 * 24 * time.Hour)
		_, err := jobartifacts.StoreArtifact(context.Background(), f.store, runnerProjectID, jobID,
			jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip", ExpireAt: &exp},
			bytes.NewReader(fresh))
		if err != nil {
			panic(err)
		}
	}
	n, err := jobartifacts.NewSweeper(hooked, jobartifacts.WithBlobGrace(0),
		jobartifacts.WithSweeperClock(func() time.Time { return f.now.Add(time.Hour) })).Sweep(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "the fresh upload has not expired")
	got := f.runner.download(t, jobID, token, false)
	require.Equal(t, http.StatusOK, got.status)
	require.Equal(t, fresh, got.body)
	require.False(t, blobExists(t, f.store, old.Blob), "the replaced archive's blob went through the queue")
}

// deleteCounter counts deletions of blobs that existed, per key.
type deleteCounter struct {
	jobartifacts.Store
	mu      sync.Mutex
	deleted map[jobartifacts.BlobKey]int
}

func (s *deleteCounter) DeleteBlob(ctx context.Context, key jobartifacts.BlobKey) error {
	b, err := s.OpenBlob(ctx, key)
	if err == nil {
		_ = b.Close()
		s.mu.Lock()
		s.deleted[key]++
		s.mu.Unlock()
	}
	return s.Store.DeleteBlob(ctx, key)
}

// StoreArtifact racing itself on one job (16 writers, 20 uploads each)
// leaves exactly the recorded blob, and deletes no blob twice.
func TestConcurrentStoreArtifactLeavesNoOrphans(t *testing.T) {
	store := &deleteCounter{Store: memstore.New(), deleted: map[jobartifacts.BlobKey]int{}}
	ctx := context.Background()
	seed := store.Store.(*memstore.Store)
	require.NoError(t, seed.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "g/p"}))
	require.NoError(t, seed.PutPipeline(ctx, jobartifacts.Pipeline{ID: 1, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	require.NoError(t, seed.PutJob(ctx, jobartifacts.Job{ID: 1, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 1}, Name: "build"}))
	const writers, uploads = 16, 20
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range uploads {
				_, err := jobartifacts.StoreArtifact(ctx, store, 1, 1, jobartifacts.Artifact{Filename: "a.zip"},
					strings.NewReader(fmt.Sprintf("writer %d upload %d", w, i)))
				if err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	drain(t, store, time.Now())
	j, err := store.Job(ctx, 1, 1)
	require.NoError(t, err)
	archive, ok := j.Archive()
	require.True(t, ok)
	require.Equal(t, []jobartifacts.BlobKey{archive.Blob}, jobBlobs(t, store, 1, 1), "no orphaned blob")
	require.Len(t, store.deleted, writers*uploads-1, "every replaced blob deleted")
	for key, n := range store.deleted {
		require.Equal(t, 1, n, "blob %s deleted %d times", key, n)
	}
}

// A job whose only expired artifact is its log costs nothing to sweep, on
// every sweep: the store never lists what the sweep may not delete.
func TestSweepIgnoresJobsWhoseOnlyExpiredArtifactIsTheLog(t *testing.T) {
	f := newRunnerFixture(t)
	ctx := context.Background()
	past := f.now.Add(-time.Hour)
	for range 500 {
		jobID, _ := f.addJob(runnerProjectID, jobartifacts.StatusSuccess)
		_, err := jobartifacts.StoreArtifact(ctx, f.store, runnerProjectID, jobID,
			jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeTrace, FileFormat: "raw", Filename: "job.log", ExpireAt: &past},
			strings.NewReader("log"))
		require.NoError(t, err)
	}
	hooked := &hookStore{Store: f.store}
	sweeper := jobartifacts.NewSweeper(hooked, jobartifacts.WithSweeperClock(func() time.Time { return f.now }))
	for range 3 {
		n, err := sweeper.Sweep(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	}
	require.Equal(t, int64(3), hooked.sweepCalls.Load(), "one store call per sweep")
	require.Zero(t, hooked.sweptRows.Load())
}

// signingBlobs is an object store's blob half: it signs URLs that name the
// method they were signed for.
type signingBlobs struct{ jobartifacts.BlobStore }

func (signingBlobs) SignedURL(_ context.Context, key jobartifacts.BlobKey, opts jobartifacts.SignedURLOptions) (string, error) {
	return "https://objects.example/" + string(key) + "?method=" + opts.Method + "&expiry=" + opts.Expiry.String(), nil
}

// A host composing its two halves keeps redirects; HEAD gets a URL signed
// for HEAD; a swept archive is GitLab's JSON 404, never a redirect to an
// object store's 404.
func TestRedirectsSurviveCompositionAndSignTheMethod(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := expiringJob(t, f, time.Minute)
	combined := jobartifacts.CombineStores(f.store, signingBlobs{f.store})
	r := f.replica(combined)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, err := http.NewRequest(method, fmt.Sprintf("%s/jobs/%d/artifacts?direct_download=true", r.apiURL, jobID), nil)
		require.NoError(t, err)
		req.Header.Set("JOB-TOKEN", token)
		resp := r.do(t, req)
		require.Equal(t, http.StatusFound, resp.status, method)
		require.Contains(t, resp.header.Get("Location"), "?method="+method+"&expiry=5m0s", method)
	}
	drain(t, f.store, f.now.Add(time.Hour))
	resp := r.download(t, jobID, token, true)
	require.Equal(t, http.StatusNotFound, resp.status)
	require.Empty(t, resp.header.Get("Location"))
	require.JSONEq(t, `{"message":"404 Not Found"}`, string(resp.body))
}

// countingBlobs counts how a Blob is read: on object storage every ReadAt
// and every range is a request.
type countingBlobs struct {
	jobartifacts.Store
	readAts, ranges atomic.Int64
}

type countingBlob struct {
	jobartifacts.Blob
	s *countingBlobs
}

func (s *countingBlobs) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	b, err := s.Store.OpenBlob(ctx, key)
	if err != nil {
		return nil, err
	}
	return countingBlob{b, s}, nil
}

func (b countingBlob) ReadAt(p []byte, off int64) (int, error) {
	b.s.readAts.Add(1)
	return b.Blob.ReadAt(p, off)
}

func (b countingBlob) NewRangeReader(off, n int64) (io.ReadCloser, error) {
	b.s.ranges.Add(1)
	return b.Blob.NewRangeReader(off, n)
}

// Whole archives and entries stream through one range read each; only the
// central directory is read with ReadAt.
func TestDownloadsStreamThroughRangeReads(t *testing.T) {
	f := newRunnerFixture(t)
	big := make([]byte, 8<<20)
	_, _ = rand.Read(big)
	archive := ziptest.MustBuild(
		ziptest.Entry{Name: "random.bin", Body: big},
		ziptest.Deflated("text.txt", strings.Repeat("compressible line\n", 1<<18)))
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	_, err := jobartifacts.StoreArtifact(context.Background(), f.store, runnerProjectID, jobID,
		jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip"}, bytes.NewReader(archive))
	require.NoError(t, err)
	counting := &countingBlobs{Store: f.store}
	r := f.replica(counting)

	resp := r.download(t, jobID, token, false)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, archive, resp.body)
	require.Equal(t, [2]int64{0, 1}, [2]int64{counting.readAts.Load(), counting.ranges.Load()}, "whole archive: ReadAt calls, ranges")

	for _, name := range []string{"random.bin", "text.txt"} {
		counting.readAts.Store(0)
		counting.ranges.Store(0)
		resp = f.doWith(r, http.MethodGet, fmt.Sprintf("/projects/%d/jobs/%d/artifacts/%s", runnerProjectID, jobID, name))
		require.Equal(t, http.StatusOK, resp.status, name)
		require.Equal(t, int64(1), counting.ranges.Load(), "%s: one range for the data", name)
		require.LessOrEqual(t, counting.readAts.Load(), int64(8), "%s: a few ReadAt calls for the directory and the local header", name)
	}
}

// failingDeletes is a blob half whose deletions fail while broken is set.
type failingDeletes struct {
	jobartifacts.Store
	broken atomic.Bool
}

var errBucketDown = errors.New("bucket unreachable")

func (s *failingDeletes) DeleteBlob(ctx context.Context, key jobartifacts.BlobKey) error {
	if s.broken.Load() {
		return errBucketDown
	}
	return s.Store.DeleteBlob(ctx, key)
}

// Route 6 answers 204 once the records are gone, whatever the blob store
// does later; a blob whose deletion fails stays queued and goes once the
// store recovers and the claim's lease has ended.
func TestDeleteSurvivesBlobDeleteFailures(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := expiringJob(t, f, time.Hour)
	archive, _ := f.job(jobID).Archive()
	store := &failingDeletes{Store: f.store}
	store.broken.Store(true)
	r := f.replica(store)
	resp := f.doWith(r, http.MethodDelete, fmt.Sprintf("/projects/%d/jobs/%d/artifacts", runnerProjectID, jobID))
	require.Equal(t, http.StatusNoContent, resp.status, "body: %s", resp.body)
	require.Equal(t, http.StatusNotFound, r.download(t, jobID, token, false).status)

	sweeper := jobartifacts.NewSweeper(store, jobartifacts.WithBlobGrace(0), jobartifacts.WithBlobDeletionLease(time.Millisecond))
	_, err := sweeper.Sweep(context.Background())
	require.ErrorIs(t, err, errBucketDown)
	require.True(t, blobExists(t, f.store, archive.Blob))

	store.broken.Store(false)
	time.Sleep(5 * time.Millisecond) // past the lease
	_, err = sweeper.Sweep(context.Background())
	require.NoError(t, err)
	require.False(t, blobExists(t, f.store, archive.Blob))
}

// A blob that no record names (a crash between an upload's put and its
// record) is found by listing, queued, and deleted; recorded blobs stay.
func TestCollectOrphanBlobs(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := expiringJob(t, f, time.Hour)
	orphan := jobartifacts.NewBlobKey(runnerProjectID, jobID, jobartifacts.ArtifactTypeArchive)
	_, err := f.store.PutBlob(context.Background(), orphan, strings.NewReader("never recorded"))
	require.NoError(t, err)
	gone := jobartifacts.NewBlobKey(runnerProjectID, 999999, jobartifacts.ArtifactTypeArchive)
	_, err = f.store.PutBlob(context.Background(), gone, strings.NewReader("job deleted"))
	require.NoError(t, err)

	young := jobartifacts.NewSweeper(f.store, jobartifacts.WithBlobGrace(0))
	n, err := young.CollectOrphanBlobs(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "younger than the orphan age: maybe an upload about to be recorded")

	// Blob ages are the store's real times; the archive's expiry is the
	// fixture's, so the deleting sweep runs on the fixture's clock.
	collector := jobartifacts.NewSweeper(f.store, jobartifacts.WithOrphanBlobAge(0),
		jobartifacts.WithSweeperClock(func() time.Time { return time.Now().Add(time.Second) }))
	n, err = collector.CollectOrphanBlobs(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	drain(t, f.store, f.now)
	require.False(t, blobExists(t, f.store, orphan))
	require.False(t, blobExists(t, f.store, gone))
	require.Equal(t, http.StatusOK, f.runner.download(t, jobID, token, false).status)
}

// A swept archive's blob outlives its record by the grace period, so that a
// download under way or a redirect handed out still reads it.
func TestSweptBlobsOutliveTheirRecordsByTheGrace(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, _ := expiringJob(t, f, time.Minute)
	archive, _ := f.job(jobID).Archive()
	later := jobartifacts.WithSweeperClock(func() time.Time { return f.now.Add(time.Hour) })
	n, err := jobartifacts.NewSweeper(f.store, later).Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.True(t, blobExists(t, f.store, archive.Blob), "within the default grace of an hour")
	_, err = jobartifacts.NewSweeper(f.store, later, jobartifacts.WithBlobGrace(0)).Sweep(context.Background())
	require.NoError(t, err)
	require.False(t, blobExists(t, f.store, archive.Blob))
}

// lostAckStore records an artifact and then reports a failure, as a
// database does when the connection drops while a commit is acknowledged.
type lostAckStore struct{ jobartifacts.Store }

var errLostAck = errors.New("conn closed while waiting for commit")

func (s lostAckStore) CreateArtifact(ctx context.Context, projectID, jobID int64, a jobartifacts.Artifact) (*jobartifacts.Job, error) {
	if _, err := s.Store.CreateArtifact(ctx, projectID, jobID, a); err != nil {
		return nil, err
	}
	return nil, errLostAck
}

// An upload whose record's outcome is unknown keeps its blob: only the
// queue, which checks records first, may delete it.
func TestUploadWithAnUnknownOutcomeKeepsItsBlob(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	r := f.replica(lostAckStore{f.store})
	resp := r.upload(t, jobID, token, bytes.NewReader(runnerZip("committed after all")), runnerUploadOptions{})
	require.Equal(t, http.StatusInternalServerError, resp.status)
	drain(t, f.store, f.now)
	archive, ok := f.job(jobID).Archive()
	require.True(t, ok, "the store recorded it")
	require.True(t, blobExists(t, f.store, archive.Blob), "a recorded blob is never deleted")
	require.Equal(t, http.StatusOK, f.runner.download(t, jobID, token, false).status)
}

// Orphan collection leaves alone keys it did not make, and finds a job's
// blobs by the job's id whatever project the key names.
func TestCollectOrphanBlobsSparesForeignKeys(t *testing.T) {
	f := newRunnerFixture(t)
	ctx := context.Background()
	foreign := jobartifacts.BlobKey("projects/shared-bucket/readme.txt")
	_, err := f.store.PutBlob(ctx, foreign, strings.NewReader("not ours"))
	require.NoError(t, err)
	_, err = jobartifacts.StoreArtifact(ctx, f.store, runnerProjectID, 1, jobartifacts.Artifact{FileType: "reports/junit"}, strings.NewReader("x"))
	require.ErrorContains(t, err, "artifact type", "a type that cannot go into a key is refused")

	collector := jobartifacts.NewSweeper(f.store, jobartifacts.WithOrphanBlobAge(0), jobartifacts.WithBlobGrace(0),
		jobartifacts.WithSweeperClock(func() time.Time { return time.Now().Add(time.Second) }))
	n, err := collector.CollectOrphanBlobs(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	require.True(t, blobExists(t, f.store, foreign))
}
