// Package storetest is a conformance suite for jobartifacts.Store
// implementations: one call runs a subtest for every sentence of the
// contract doc comments of MetadataStore, BlobStore, Blob, BlobInfo and
// Seeder, and checks that StoreArtifact and DeleteArtifacts work against the
// store.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.StoreUnderTest {
//			return memstore.New()
//		})
//	}
//
// The suite seeds stores through the Seeder methods only. Values are compared
// with testify's require.Equal, so a store must give back what it was given:
// the suite uses UTC times with millisecond precision, and slices that are
// either nil or non-empty.
package storetest

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// StoreUnderTest is a Store that can also be seeded.
type StoreUnderTest interface {
	jobartifacts.Store
	jobartifacts.Seeder
}

// Run runs the whole suite. newStore must return a fresh, empty store each
// time it is called; every subtest calls it once, with the subtest's t (so
// t.TempDir and t.Cleanup are the subtest's).
func Run(t *testing.T, newStore func(t *testing.T) StoreUnderTest) {
	t.Run("Metadata", func(t *testing.T) { runCases(t, newStore, metadataCases()) })
	t.Run("LatestSuccessfulJob", func(t *testing.T) { runLatestSuccessfulJob(t, newStore) })
	t.Run("RecentSuccessfulJob", func(t *testing.T) { runRecentSuccessfulJob(t, newStore) })
	t.Run("Artifacts", func(t *testing.T) { runCases(t, newStore, artifactCases()) })
	t.Run("Seeder", func(t *testing.T) { runCases(t, newStore, seederCases()) })
	t.Run("Blobs", func(t *testing.T) { runCases(t, newStore, blobCases()) })
	t.Run("Helpers", func(t *testing.T) { runCases(t, newStore, helperCases()) })
}

// storeCase is one subtest: it gets a fresh store.
type storeCase struct {
	name string
	run  func(t *testing.T, s StoreUnderTest)
}

func runCases(t *testing.T, newStore func(t *testing.T) StoreUnderTest, cases []storeCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}

// requireNotFound checks that err means "does not exist": the handler
// accepts ErrNotFound and fs.ErrNotExist alike.
func requireNotFound(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.True(t, errors.Is(err, jobartifacts.ErrNotFound) || errors.Is(err, fs.ErrNotExist),
		"want ErrNotFound or fs.ErrNotExist, got %v", err)
}

// baseTime is the "now" of the suite's expiry tests. Times are UTC with
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
	s StoreUnderTest
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
	require.NoError(sd.t, sd.s.PutJob(sd.t.Context(), jobartifacts.Job{
		ID: id, ProjectID: projectID, Pipeline: jobartifacts.Pipeline{ID: pipelineID},
		Name: name, Status: status, Stage: "test", Artifacts: artifacts,
	}))
}

// shaOf is the commit SHA the suite gives pipeline id.
func shaOf(pipelineID int64) string { return fmt.Sprintf("%040x", pipelineID) }

// artifactRecord is an artifact record of the given type for a job, with a
// plausible blob key; the suite's metadata tests never read the blob.
func artifactRecord(projectID, jobID int64, fileType string, expireAt *time.Time) jobartifacts.Artifact {
	format, filename := "gzip", fileType+".gz"
	if fileType == jobartifacts.ArtifactTypeArchive {
		format, filename = "zip", "artifacts.zip"
	}
	return jobartifacts.Artifact{
		FileType:   fileType,
		FileFormat: format,
		Filename:   filename,
		Size:       int64(len(fileType)) * 100,
		SHA256:     strings.Repeat("ab", 32),
		ExpireAt:   expireAt,
		Blob:       jobartifacts.BlobKey(fmt.Sprintf("projects/%d/jobs/%d/%s-00000000000000ff", projectID, jobID, fileType)),
	}
}
