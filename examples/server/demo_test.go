package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// demoJobIDs are all the jobs the demo creates.
func demoJobIDs() []int64 { return []int64{1, 42, 5, 43, 44, 45, 100} }

// reopenable opens a store on the same data each time it is called, as a
// restarted server does.
type reopenable func(t *testing.T) seedStore

func storesUnderTest() map[string]func(t *testing.T) reopenable {
	return map[string]func(t *testing.T) reopenable{
		"memstore": func(t *testing.T) reopenable {
			s := memstore.New()
			return func(*testing.T) seedStore { return s }
		},
		"fsstore": func(t *testing.T) reopenable {
			dir := t.TempDir()
			return func(t *testing.T) seedStore {
				s, err := fsstore.Open(dir, fsstore.WithoutFsync())
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				return s
			}
		},
	}
}

// TestSeedDemoTwice seeds, changes the demo as a user of the docs' examples
// would (keep job 1, delete job 42's artifacts), seeds again after a
// "restart", and checks that nothing was created again or undone.
func TestSeedDemoTwice(t *testing.T) {
	for name, newStore := range storesUnderTest() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			open := newStore(t)
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

			s := open(t)
			created, err := seedDemo(ctx, s, now)
			require.NoError(t, err)
			require.ElementsMatch(t, demoJobIDs(), created)
			before := snapshotJobs(t, s)

			job1 := before[demoKeepJobID]
			require.NotNil(t, job1.ArtifactsExpireAt)
			require.Equal(t, now.Add(demoArchiveExpiry), *job1.ArtifactsExpireAt)
			_, err = s.KeepArtifacts(ctx, demoProjectID, demoKeepJobID, now)
			require.NoError(t, err)
			_, err = s.ForgetArtifacts(ctx, demoProjectID, demoTestJobID)
			require.NoError(t, err)
			changed := snapshotJobs(t, s)

			// The same store again, and a fresh handle on the same data.
			for _, again := range []seedStore{s, open(t)} {
				created, err = seedDemo(ctx, again, now.Add(time.Hour))
				require.NoError(t, err)
				require.Empty(t, created)
				require.Equal(t, changed, snapshotJobs(t, again))
			}
			require.Nil(t, changed[demoKeepJobID].ArtifactsExpireAt, "keep is not undone")
			require.True(t, changed[demoKeepJobID].ArtifactsLocked)
			require.Empty(t, changed[demoTestJobID].Artifacts, "delete is not undone")
			require.Equal(t, before[demoPDFJobID], changed[demoPDFJobID], "untouched jobs stay as seeded")
		})
	}
}

// TestSeedDemoCompletes creates what is missing and only that: a store where
// a job of the demo was never written (an interrupted seeding) gets it, with
// its archive.
func TestSeedDemoCompletes(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	project, pipelines, err := demoData()
	require.NoError(t, err)
	require.NoError(t, s.PutProject(ctx, project))
	master := pipelines[1]
	require.NoError(t, s.PutPipeline(ctx, master.pipeline))
	require.NoError(t, putDemoJob(ctx, s, master.jobs[0], time.Now()))

	created, err := seedDemo(ctx, s, time.Now())
	require.NoError(t, err)
	require.NotContains(t, created, master.jobs[0].job.ID)
	require.Contains(t, created, int64(demoPDFJobID))

	j, err := s.LatestSuccessfulJob(ctx, demoProjectID, "master", "pdf")
	require.NoError(t, err)
	require.Equal(t, demoPDFJobID, j.ID)
	a, ok := j.Archive()
	require.True(t, ok)
	b, err := s.OpenBlob(ctx, a.Blob)
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, int64(len(master.jobs[1].archive)), b.Info().Size)
}

// TestSeedDemoConflicts refuses to seed over data that is not the demo's.
func TestSeedDemoConflicts(t *testing.T) {
	tests := []struct {
		name  string
		setup func(ctx context.Context, s *memstore.Store) error
	}{
		{
			name: "project 1 has another path",
			setup: func(ctx context.Context, s *memstore.Store) error {
				return s.PutProject(ctx, jobartifacts.Project{ID: demoProjectID, PathWithNamespace: "someone/else"})
			},
		},
		{
			name: "job 42 is in another project",
			setup: func(ctx context.Context, s *memstore.Store) error {
				if err := s.PutProject(ctx, jobartifacts.Project{ID: 7, PathWithNamespace: "group/app"}); err != nil {
					return err
				}
				if err := s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 70, ProjectID: 7, Ref: "main", Status: "success"}); err != nil {
					return err
				}
				return s.PutJob(ctx, jobartifacts.Job{ID: demoTestJobID, ProjectID: 7, Pipeline: jobartifacts.Pipeline{ID: 70}, Name: "build"})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := memstore.New()
			require.NoError(t, tt.setup(ctx, s))
			_, err := seedDemo(ctx, s, time.Now())
			require.ErrorIs(t, err, errDemoConflict)
		})
	}
}

// snapshotJobs reads every demo job.
func snapshotJobs(t *testing.T, s seedStore) map[int64]*jobartifacts.Job {
	t.Helper()
	jobs := map[int64]*jobartifacts.Job{}
	for _, id := range demoJobIDs() {
		j, err := s.JobByID(context.Background(), id)
		require.NoError(t, err)
		jobs[id] = j
	}
	return jobs
}
