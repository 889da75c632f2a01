package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// Seeder is implemented by stores that can be filled directly: memstore and
// fsstore. Tests, storetest and the example server's demo and import use it;
// the handler never does, and a host's own Store need not implement it, but
// a store needs it to run this suite.
type Seeder interface {
	// PutProject creates or replaces a project.
	PutProject(ctx context.Context, p jobartifacts.Project) error
	// PutPipeline creates or replaces a pipeline; its project must exist.
	PutPipeline(ctx context.Context, p jobartifacts.Pipeline) error
	// PutJob creates or replaces a job; its project and pipeline
	// (j.Pipeline.ID) must exist. Jobs read back carry the pipeline as last
	// stored with PutPipeline, not the copy in j. j.Artifacts are recorded as
	// given; their blobs are the caller's business.
	PutJob(ctx context.Context, j jobartifacts.Job) error
}

func seederCases() []metadataCase {
	return []metadataCase{
		{"PutProjectReplaces", testPutProjectReplaces},
		{"PutPipelineNeedsProject", testPutPipelineNeedsProject},
		{"PutPipelineReplaces", testPutPipelineReplaces},
		{"PutJobNeedsProjectAndPipeline", testPutJobNeedsProjectAndPipeline},
		{"PutJobReplaces", testPutJobReplaces},
		{"PutJobMovesToAnotherPipeline", testPutJobMovesToAnotherPipeline},
	}
}

// PutProject creates or replaces a project: the old path no longer finds it.
func testPutProjectReplaces(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/old")
	sd.project(1, "group/new")
	_, err := s.ProjectByPath(t.Context(), "group/old")
	requireNotFound(t, err)
	p, err := s.ProjectByPath(t.Context(), "group/new")
	require.NoError(t, err)
	require.Equal(t, int64(1), p.ID)
	p, err = s.Project(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, "group/new", p.PathWithNamespace)
}

// PutPipeline: its project must exist.
func testPutPipelineNeedsProject(t *testing.T, s MetadataUnderTest) {
	err := s.PutPipeline(t.Context(), jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: success})
	require.Error(t, err)
}

// PutPipeline creates or replaces a pipeline.
func testPutPipelineReplaces(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", running)
	sd.job(1, 10, 100, "build", success)
	_, err := s.LatestSuccessfulJob(t.Context(), 1, "main", "build")
	requireNotFound(t, err, "the pipeline is still running")

	sd.pipeline(1, 10, "main", success)
	j, err := s.LatestSuccessfulJob(t.Context(), 1, "main", "build")
	require.NoError(t, err)
	require.Equal(t, int64(100), j.ID)
	require.Equal(t, success, j.Pipeline.Status)
}

// PutJob: its project and pipeline must exist.
func testPutJobNeedsProjectAndPipeline(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	err := s.PutJob(t.Context(), jobartifacts.Job{ID: 100, ProjectID: 2, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build"})
	require.Error(t, err, "project 2 does not exist")
	err = s.PutJob(t.Context(), jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 11}, Name: "build"})
	require.Error(t, err, "pipeline 11 does not exist")
	_, err = s.JobByID(t.Context(), 100)
	requireNotFound(t, err, "a refused job is not stored")
}

// PutJob creates or replaces a job.
func testPutJobReplaces(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	sd.job(1, 10, 100, "build", success, artifactRecord(1, 100, archive, nil))
	sd.job(1, 10, 100, "test", failed)

	j, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, "test", j.Name)
	require.Equal(t, failed, j.Status)
	require.Empty(t, j.Artifacts, "the replacement's artifacts, as given")
	_, err = s.LatestSuccessfulJob(t.Context(), 1, "main", "build")
	requireNotFound(t, err, "the old name is gone")
	j, err = s.LatestSuccessfulJob(t.Context(), 1, "main", "test")
	require.NoError(t, err)
	require.Equal(t, int64(100), j.ID)
}

// A job replaced with another pipeline belongs to that pipeline only.
func testPutJobMovesToAnotherPipeline(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	sd.pipeline(1, 20, "dev", success)
	sd.job(1, 10, 100, "build", success)
	sd.job(1, 20, 100, "build", success)

	j, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, int64(20), j.Pipeline.ID)
	require.Equal(t, "dev", j.Pipeline.Ref)
	_, err = s.LatestSuccessfulJob(t.Context(), 1, "main", "build")
	requireNotFound(t, err, "the job left pipeline 10")
	j, err = s.LatestSuccessfulJob(t.Context(), 1, "dev", "build")
	require.NoError(t, err)
	require.Equal(t, int64(100), j.ID)
}
