package jobartifacts_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// sweepScene uploads artifacts with various expiries through the runner
// route and returns the job ids by role.
type sweepScene struct {
	expiredArchiveAndLog int64 // archive and trace expire in 1 hour
	expiredTwo           int64 // archive and junit expire in 1 hour
	unexpired            int64 // archive expires in 1 week
	kept                 int64 // archive expired, but kept
	never                int64 // archive never expires
	blobs                map[int64][]jobartifacts.Artifact
}

func newSweepScene(t *testing.T, f *runnerFixture) sweepScene {
	t.Helper()
	gz := []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	upload := func(jobID int64, token string, data []byte, opts runnerUploadOptions) {
		resp := f.runner.upload(t, jobID, token, bytes.NewReader(data), opts)
		require.Equal(t, http.StatusCreated, resp.status, string(resp.body))
	}
	var sc sweepScene
	var token string
	sc.expiredArchiveAndLog, token = f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	upload(sc.expiredArchiveAndLog, token, runnerZip("a"), runnerUploadOptions{expireIn: "1 hour"})
	upload(sc.expiredArchiveAndLog, token, []byte("log"), runnerUploadOptions{artifactType: "trace", artifactFormat: "raw", expireIn: "1 hour"})

	sc.expiredTwo, token = f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	upload(sc.expiredTwo, token, runnerZip("b"), runnerUploadOptions{expireIn: "1 hour"})
	upload(sc.expiredTwo, token, gz, runnerUploadOptions{artifactType: "junit", artifactFormat: "gzip", expireIn: "1 hour"})

	sc.unexpired, token = f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	upload(sc.unexpired, token, runnerZip("c"), runnerUploadOptions{expireIn: "1 week"})

	sc.kept, token = f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	upload(sc.kept, token, runnerZip("d"), runnerUploadOptions{expireIn: "1 hour"})
	_, err := f.store.KeepArtifacts(context.Background(), runnerProjectID, sc.kept, f.now)
	require.NoError(t, err)

	sc.never, token = f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	upload(sc.never, token, runnerZip("e"), runnerUploadOptions{expireIn: "never"})

	sc.blobs = make(map[int64][]jobartifacts.Artifact)
	for _, id := range sc.all() {
		sc.blobs[id] = f.job(id).Artifacts
	}
	return sc
}

func (sc sweepScene) all() []int64 {
	return []int64{sc.expiredArchiveAndLog, sc.expiredTwo, sc.unexpired, sc.kept, sc.never}
}

// artifactTypes returns the job's artifact types, sorted.
func artifactTypes(f *runnerFixture, jobID int64) []string {
	var types []string
	for _, a := range f.job(jobID).Artifacts {
		types = append(types, a.FileType)
	}
	sort.Strings(types)
	return types
}

func blobExists(t *testing.T, store jobartifacts.BlobStore, key jobartifacts.BlobKey) bool {
	t.Helper()
	b, err := store.OpenBlob(context.Background(), key)
	if errors.Is(err, jobartifacts.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	require.NoError(t, b.Close())
	return true
}

func TestSweepDeletesOnlyExpiredUnkeptArtifacts(t *testing.T) {
	for _, batch := range []int{0, 1, 2, 100} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			f := newRunnerFixture(t)
			sc := newSweepScene(t, f)
			sweeper := jobartifacts.NewSweeper(f.store,
				jobartifacts.WithSweeperClock(func() time.Time { return f.now.Add(2 * time.Hour) }),
				jobartifacts.WithSweeperBatchSize(batch),
				jobartifacts.WithBlobGrace(0))

			n, err := sweeper.Sweep(context.Background())
			require.NoError(t, err)
			require.Equal(t, 3, n, "the expired archives and junit report")

			require.Equal(t, []string{"trace"}, artifactTypes(f, sc.expiredArchiveAndLog), "logs are never swept")
			require.Empty(t, artifactTypes(f, sc.expiredTwo))
			for _, id := range []int64{sc.unexpired, sc.kept, sc.never} {
				require.Equal(t, []string{"archive"}, artifactTypes(f, id), "job %d untouched", id)
			}
			for id, artifacts := range sc.blobs {
				current := make(map[jobartifacts.BlobKey]bool)
				for _, a := range f.job(id).Artifacts {
					current[a.Blob] = true
				}
				for _, a := range artifacts {
					require.Equal(t, current[a.Blob], blobExists(t, f.store, a.Blob), "job %d %s blob", id, a.FileType)
				}
			}

			n, err = sweeper.Sweep(context.Background())
			require.NoError(t, err)
			require.Zero(t, n, "a second sweep finds nothing")
		})
	}
}

func TestSweepNothingBeforeExpiry(t *testing.T) {
	f := newRunnerFixture(t)
	sc := newSweepScene(t, f)
	sweeper := jobartifacts.NewSweeper(f.store, jobartifacts.WithSweeperClock(func() time.Time { return f.now.Add(59 * time.Minute) }))
	n, err := sweeper.Sweep(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	for id, artifacts := range sc.blobs {
		require.Equal(t, artifacts, f.job(id).Artifacts)
	}
}

func TestSweepAfterDeleteProjectArtifacts(t *testing.T) {
	f := newRunnerFixture(t)
	sc := newSweepScene(t, f)
	_, otherToken := f.addJob(runnerOtherProjectID, jobartifacts.StatusRunning)
	otherJob := f.nextID
	require.Equal(t, http.StatusCreated, f.runner.upload(t, otherJob, otherToken, bytes.NewReader(runnerZip("other")), runnerUploadOptions{expireIn: "1 week"}).status)

	req, err := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/projects/%d/artifacts", f.runner.apiURL, runnerProjectID), nil)
	require.NoError(t, err)
	req.Header.Set("PRIVATE-TOKEN", runnerMaintainerToken)
	resp := f.runner.do(t, req)
	require.Equal(t, http.StatusAccepted, resp.status, string(resp.body))

	n, err := jobartifacts.NewSweeper(f.store, jobartifacts.WithSweeperClock(func() time.Time { return f.now })).Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, 5, n, "every unkept non-log artifact of the project")
	require.Equal(t, []string{"trace"}, artifactTypes(f, sc.expiredArchiveAndLog))
	for _, id := range []int64{sc.expiredTwo, sc.unexpired, sc.never} {
		require.Empty(t, artifactTypes(f, id), "job %d", id)
	}
	require.Equal(t, []string{"archive"}, artifactTypes(f, sc.kept), "kept artifacts stay")
	require.Equal(t, []string{"archive"}, artifactTypes(f, otherJob), "other projects are not touched")
}

// TestSweepDuringDownload sweeps an archive while a download of it is
// streaming: the download completes with the bytes it started with, and the
// next download is 404.
func TestSweepDuringDownload(t *testing.T) {
	f := newRunnerFixture(t)
	payload := make([]byte, 8<<20)
	_, _ = rand.Read(payload)
	archive := ziptest.Build(t, ziptest.Deflated("big.bin", string(payload)))
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	require.Equal(t, http.StatusCreated, f.runner.upload(t, jobID, token, bytes.NewReader(archive), runnerUploadOptions{expireIn: "1 hour"}).status)

	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/jobs/%d/artifacts", f.runner.apiURL, jobID), nil)
	require.NoError(t, err)
	req.Header.Set("JOB-TOKEN", token)
	resp, err := f.runner.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body := bufio.NewReader(resp.Body)
	head := make([]byte, 4096)
	_, err = io.ReadFull(body, head)
	require.NoError(t, err)

	n, err := jobartifacts.NewSweeper(f.store, jobartifacts.WithSweeperClock(func() time.Time { return f.now.Add(2 * time.Hour) })).Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)

	rest, err := io.ReadAll(body)
	if err == nil {
		require.Equal(t, zipcorpus.SHA256(archive), zipcorpus.SHA256(append(head, rest...)), "a download in flight never mixes bytes")
	} else {
		require.Less(t, len(head)+len(rest), len(archive), "a failed download is cut short, never wrong")
	}
	after := f.runner.download(t, jobID, token, false)
	require.Equal(t, http.StatusNotFound, after.status)
}

func TestSweeperRun(t *testing.T) {
	f := newRunnerFixture(t)
	sc := newSweepScene(t, f)
	sweeper := jobartifacts.NewSweeper(f.store, jobartifacts.WithSweeperClock(func() time.Time { return f.now.Add(2 * time.Hour) }))

	require.ErrorIs(t, sweeper.Run(context.Background(), 0), jobartifacts.ErrInvalidInterval)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sweeper.Run(ctx, time.Hour) }()
	// Run sweeps once at once; wait for that sweep, then stop it.
	require.Eventually(t, func() bool {
		j, err := f.store.JobByID(context.Background(), sc.expiredTwo)
		return err == nil && len(j.Artifacts) == 0
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Equal(t, []string{"archive"}, artifactTypes(f, sc.unexpired))
}
