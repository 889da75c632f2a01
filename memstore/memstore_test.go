package memstore_test

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// zipOf returns a zip archive of one stored file.
func zipOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, err := w.Create(name)
	require.NoError(t, err)
	_, err = f.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// Seeding that would break the store's invariants is refused, and nothing
// changes.
func TestSeedingConflicts(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/one"}))
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 2, PathWithNamespace: "group/two"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "success"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 20, ProjectID: 2, Ref: "main", Status: "success"}))

	tests := []struct {
		name string
		put  func() error
	}{
		{"PathOfAnotherProject", func() error {
			return s.PutProject(ctx, jobartifacts.Project{ID: 2, PathWithNamespace: "group/one"})
		}},
		{"PipelineMovesToAnotherProject", func() error {
			return s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 2, Ref: "dev"})
		}},
		{"JobInAnotherProjectsPipeline", func() error {
			return s.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 20}})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.put(), jobartifacts.ErrConflict)
		})
	}

	p, err := s.ProjectByPath(ctx, "group/two")
	require.NoError(t, err)
	require.Equal(t, int64(2), p.ID)
	p, err = s.ProjectByPath(ctx, "group/one")
	require.NoError(t, err)
	require.Equal(t, int64(1), p.ID)
	_, err = s.JobByID(ctx, 100)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

// Missing parents are reported as ErrNotFound.
func TestSeedingMissingParents(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	require.ErrorIs(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1}), jobartifacts.ErrNotFound)
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/one"}))
	require.ErrorIs(t, s.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}}), jobartifacts.ErrNotFound)
}

// PutArchive records a zip archive named artifacts.zip that never expires.
func TestPutArchive(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/one"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "success"}))
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}}))
	archive := zipOf(t, "a.txt", "a")

	j, err := s.PutArchive(ctx, 1, 100, archive)
	require.NoError(t, err)
	a, ok := j.Archive()
	require.True(t, ok)
	require.Equal(t, "zip", a.FileFormat)
	require.Equal(t, "artifacts.zip", a.Filename)
	require.Equal(t, int64(len(archive)), a.Size)
	require.Nil(t, a.ExpireAt)
	require.Nil(t, j.ArtifactsExpireAt)

	_, err = s.PutArchive(ctx, 1, 999, archive)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}
