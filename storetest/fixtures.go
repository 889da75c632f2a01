package storetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

const (
	success = jobartifacts.StatusSuccess
	failed  = jobartifacts.StatusFailed
	running = jobartifacts.StatusRunning
	archive = jobartifacts.ArtifactTypeArchive
	trace   = jobartifacts.ArtifactTypeTrace
)

// isNotFound reports whether err means "does not exist": the handler
// accepts ErrNotFound and fs.ErrNotExist alike.
func isNotFound(err error) bool {
	return errors.Is(err, jobartifacts.ErrNotFound) || errors.Is(err, fs.ErrNotExist)
}

func requireNotFound(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.True(t, isNotFound(err), "want ErrNotFound or fs.ErrNotExist, got %v", err)
}

func requireConflict(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.ErrorIs(t, err, jobartifacts.ErrConflict, msgAndArgs...)
}

// baseTime is the "now" of the suite's expiry cases. Times are UTC with
// millisecond precision so that any store keeps them exactly.
var baseTime = time.Date(2025, time.March, 4, 5, 6, 7, 123_000_000, time.UTC)

// at returns baseTime+d as a pointer, as the model's optional times are.
func at(d time.Duration) *time.Time {
	t := baseTime.Add(d)
	return &t
}

// requireSameTime compares optional times by instant and nil-ness.
func requireSameTime(t *testing.T, want, got *time.Time, what string) {
	t.Helper()
	if want == nil {
		require.Nil(t, got, "%s: want nil (never), got %v", what, got)
		return
	}
	require.NotNil(t, got, "%s: want %v, got nil", what, *want)
	require.True(t, want.Equal(*got), "%s: want %v, got %v", what, *want, *got)
}

// seeder fills a store through the Seeder methods only.
type seeder struct {
	t *testing.T
	s Seeder
}

func (sd seeder) project(id int64, path string) {
	sd.t.Helper()
	require.NoError(sd.t, sd.s.PutProject(sd.t.Context(), jobartifacts.Project{ID: id, PathWithNamespace: path, Visibility: "private"}))
}

func (sd seeder) pipeline(projectID, id int64, ref, status string) {
	sd.t.Helper()
	require.NoError(sd.t, sd.s.PutPipeline(sd.t.Context(), jobartifacts.Pipeline{
		ID: id, IID: id, ProjectID: projectID, Ref: ref, Status: status, SHA: shaOf(id), Source: "push",
	}))
}

func (sd seeder) job(projectID, pipelineID, id int64, name, status string, artifacts ...jobartifacts.Artifact) {
	sd.t.Helper()
	sd.put(jobartifacts.Job{
		ID: id, ProjectID: projectID, Pipeline: jobartifacts.Pipeline{ID: pipelineID},
		Name: name, Status: status, Stage: "test", Artifacts: artifacts,
	})
}

func (sd seeder) put(j jobartifacts.Job) {
	sd.t.Helper()
	require.NoError(sd.t, sd.s.PutJob(sd.t.Context(), j))
}

// seededBy is a view whose Seeder methods go to another view, so that what
// it reads was written by another replica.
type seededBy struct {
	MetadataUnderTest
	seeder Seeder
}

func (s seededBy) PutProject(ctx context.Context, p jobartifacts.Project) error {
	return s.seeder.PutProject(ctx, p)
}

func (s seededBy) PutPipeline(ctx context.Context, p jobartifacts.Pipeline) error {
	return s.seeder.PutPipeline(ctx, p)
}

func (s seededBy) PutJob(ctx context.Context, j jobartifacts.Job) error {
	return s.seeder.PutJob(ctx, j)
}

// shaOf is the commit SHA the suite gives pipeline id.
func shaOf(pipelineID int64) string { return fmt.Sprintf("%040x", pipelineID) }

// artifactRecord is an artifact record of the given type for a job, with a
// plausible blob key; the metadata cases never read the blob.
func artifactRecord(projectID, jobID int64, fileType string, expireAt *time.Time) jobartifacts.Artifact {
	return numberedRecord(projectID, jobID, fileType, expireAt, 0xff)
}

// numberedRecord is artifactRecord with the blob key's suffix n, so that
// several uploads of one type have distinct records.
func numberedRecord(projectID, jobID int64, fileType string, expireAt *time.Time, n int) jobartifacts.Artifact {
	format, filename := "gzip", fileType+".gz"
	if fileType == archive {
		format, filename = "zip", "artifacts.zip"
	}
	return jobartifacts.Artifact{
		FileType:   fileType,
		FileFormat: format,
		Filename:   filename,
		Size:       int64(len(fileType))*100 + int64(n),
		SHA256:     strings.Repeat("ab", 32),
		ExpireAt:   expireAt,
		Blob:       jobartifacts.BlobKey(fmt.Sprintf("projects/%d/jobs/%d/%s-%016x", projectID, jobID, fileType, n)),
	}
}

// twoProjects seeds project 1 (pipeline 10, job 100) and project 2
// (pipeline 20, job 200).
func twoProjects(t *testing.T, s Seeder) {
	sd := seeder{t, s}
	sd.project(1, "group/one")
	sd.project(2, "group/two")
	sd.pipeline(1, 10, "main", success)
	sd.pipeline(2, 20, "main", success)
	sd.job(1, 10, 100, "build", success)
	sd.job(2, 20, 200, "build", success)
}

// jobWithArtifacts seeds twoProjects, with job 100 holding the given
// artifacts and ArtifactsExpireAt.
func jobWithArtifacts(t *testing.T, s Seeder, expireAt *time.Time, artifacts ...jobartifacts.Artifact) {
	twoProjects(t, s)
	seeder{t, s}.put(jobartifacts.Job{
		ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build",
		Status: success, Artifacts: artifacts, ArtifactsExpireAt: expireAt,
	})
}

// drainQueue claims every queued key whose grace has passed at once (grace
// 0) for an hour, and returns them sorted. Keys claimed are not returned
// again within the subtest.
func drainQueue(t *testing.T, s jobartifacts.MetadataStore) []jobartifacts.BlobKey {
	t.Helper()
	const limit = 1000
	var all []jobartifacts.BlobKey
	for range 100 {
		keys, err := s.ClaimBlobDeletions(t.Context(), 0, time.Hour, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(keys), limit)
		all = append(all, keys...)
		if len(keys) < limit {
			break
		}
	}
	slices.Sort(all)
	return all
}

// blobKeys returns the blob keys of records, sorted.
func blobKeys(as ...jobartifacts.Artifact) []jobartifacts.BlobKey {
	var keys []jobartifacts.BlobKey
	for _, a := range as {
		keys = append(keys, a.Blob)
	}
	slices.Sort(keys)
	return keys
}

func fileTypes(as []jobartifacts.Artifact) []string {
	var types []string
	for _, a := range as {
		types = append(types, a.FileType)
	}
	slices.Sort(types)
	return types
}

// artifactOf returns the job's artifact of the given type.
func artifactOf(j *jobartifacts.Job, fileType string) (jobartifacts.Artifact, bool) {
	for _, a := range j.Artifacts {
		if a.FileType == fileType {
			return a, true
		}
	}
	return jobartifacts.Artifact{}, false
}

// errorList collects what goroutines saw, for the test goroutine to check:
// the suite never calls require off the test goroutine.
type errorList struct {
	mu   sync.Mutex
	errs []string
}

func (l *errorList) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

func (l *errorList) require(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Empty(t, l.errs)
}
