package fsstore

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// readAll runs every metadata read of the seeded job through s, as a
// request would, and returns what they saw.
func readAll(t *testing.T, s *Store) (jobs []*jobartifacts.Job, projects []*jobartifacts.Project) {
	t.Helper()
	ctx := context.Background()
	p, err := s.Project(ctx, 1)
	require.NoError(t, err)
	byPath, err := s.ProjectByPath(ctx, "group/app")
	require.NoError(t, err)
	j1, err := s.Job(ctx, 1, 100)
	require.NoError(t, err)
	j2, err := s.JobByID(ctx, 100)
	require.NoError(t, err)
	j3, err := s.LatestSuccessfulJob(ctx, 1, "main", "build")
	require.NoError(t, err)
	p2, j4, err := s.ProjectJob(ctx, 1, 100)
	require.NoError(t, err)
	return []*jobartifacts.Job{j1, j2, j3, j4}, []*jobartifacts.Project{p, byPath, p2}
}

// TestProjectJobIsProjectThenJob: ProjectJob answers what Project and then
// Job answer, errors included (jobartifacts.ProjectJobReader).
func TestProjectJobIsProjectThenJob(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	seedJob(t, s)
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 2, PathWithNamespace: "group/other"}))
	for range 2 { // from the files, then from memory
		for _, tc := range []struct{ projectID, jobID int64 }{{1, 100}, {1, 999}, {2, 100}, {3, 100}} {
			wantP, errP := s.Project(ctx, tc.projectID)
			p, j, err := s.ProjectJob(ctx, tc.projectID, tc.jobID)
			if errP != nil {
				require.ErrorIs(t, err, jobartifacts.ErrNotFound, "%+v", tc)
				require.Nil(t, p)
				require.Nil(t, j)
				continue
			}
			require.Equal(t, wantP, p, "%+v", tc)
			wantJ, errJ := s.Job(ctx, tc.projectID, tc.jobID)
			if errJ != nil {
				require.ErrorIs(t, err, jobartifacts.ErrNotFound, "%+v", tc)
				require.Nil(t, j)
				continue
			}
			require.NoError(t, err)
			require.Equal(t, wantJ, j, "%+v", tc)
		}
	}
}

// TestCachedReadsSeeOtherStoresWrites: two Stores on one directory (as two
// processes would be); once b has read everything (and keeps it in
// memory), every write through a is seen by b's next read.
func TestCachedReadsSeeOtherStoresWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openTestStore(t, dir), openTestStore(t, dir)
	seedJob(t, a)
	readAll(t, b)
	readAll(t, b)

	key := jobartifacts.BlobKey("projects/1/jobs/100/archive-a")
	_, err := a.CreateArtifact(ctx, 1, 100, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, Blob: key})
	require.NoError(t, err)
	jobs, _ := readAll(t, b)
	for i, j := range jobs {
		got, ok := j.Archive()
		require.True(t, ok, "read %d sees the new artifact", i)
		require.Equal(t, key, got.Blob)
	}
	j, err := b.RecentSuccessfulJob(ctx, 1, "main", "build")
	require.NoError(t, err)
	require.Equal(t, int64(100), j.ID)

	require.NoError(t, a.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "public"}))
	_, projects := readAll(t, b)
	for _, p := range projects {
		require.Equal(t, "public", p.Visibility)
	}

	require.NoError(t, a.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "failed"}))
	_, err = b.LatestSuccessfulJob(ctx, 1, "main", "build")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	_, err = b.RecentSuccessfulJob(ctx, 1, "main", "build")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	got, err := b.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, "failed", got.Pipeline.Status)

	_, err = a.ForgetArtifacts(ctx, 1, 100)
	require.NoError(t, err)
	got, err = b.JobByID(ctx, 100)
	require.NoError(t, err)
	require.Empty(t, got.Artifacts)
}

// rewriteJob changes job 100's file behind the stores' back, as a write
// that crashed midway may have left it.
func rewriteJob(t *testing.T, dir, name string) {
	t.Helper()
	path := filepath.Join(dir, "jobs", "100.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var j jobartifacts.Job
	require.NoError(t, json.Unmarshal(data, &j))
	j.Name = name
	data, err = json.Marshal(j)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// TestCachedReadsComeFromMemory: while the generation stays, reads answer
// from memory (a file changed behind the store's back is not seen); a new
// generation, which every write sets before it changes anything, makes
// them read the files again. An empty meta.lock (no generation) turns the
// cache off.
func TestCachedReadsComeFromMemory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openTestStore(t, dir), openTestStore(t, dir)
	seedJob(t, a)
	readAll(t, b)

	rewriteJob(t, dir, "behind")
	j, err := b.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, "build", j.Name, "answered from memory")
	_, j, err = b.ProjectJob(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, "build", j.Name, "answered from memory")

	// A write that changes something else: the generation moves on.
	require.NoError(t, a.QueueBlobDeletions(ctx, "projects/9/x"))
	_, j, err = b.ProjectJob(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, "behind", j.Name, "read from the file again")
	j, err = b.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, "behind", j.Name, "read from the file again")

	// A write that crashed after setting the generation and changing a file.
	f, err := os.OpenFile(filepath.Join(dir, "meta.lock"), os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, newGeneration(f))
	rewriteJob(t, dir, "crashed")
	j, err = b.JobByID(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, "crashed", j.Name)

	// No generation: every read goes to the files.
	require.NoError(t, f.Truncate(0))
	require.NoError(t, f.Close())
	_, err = b.JobByID(ctx, 100)
	require.NoError(t, err)
	rewriteJob(t, dir, "uncached")
	j, err = b.JobByID(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, "uncached", j.Name)
	// The next write sets a generation again.
	require.NoError(t, a.QueueBlobDeletions(ctx, "projects/9/y"))
	require.NotZero(t, b.generation())
}

// TestCachedReadsUnderConcurrentWrites: readers on one Store never see a
// write of another go backwards, and the writer's own final state is seen
// once it is done (run with -race).
func TestCachedReadsUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openTestStore(t, dir, WithoutFsync()), openTestStore(t, dir, WithoutFsync())
	seedJob(t, a)
	const rounds = 40
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			last := time.Time{}
			for range 400 {
				j, err := b.JobByID(ctx, 100)
				if err != nil {
					errs <- err
					return
				}
				if j.ArtifactsExpireAt != nil {
					if j.ArtifactsExpireAt.Before(last) {
						errs <- os.ErrInvalid // went backwards
						return
					}
					last = *j.ArtifactsExpireAt
				}
			}
		})
	}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rounds {
		at := base.Add(time.Duration(i) * time.Hour)
		_, _, err := a.ReplaceArtifact(ctx, 1, 100, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive,
			Blob: jobartifacts.BlobKey("projects/1/jobs/100/archive-" + id(int64(i))), ExpireAt: &at})
		require.NoError(t, err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	j, err := b.JobByID(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, base.Add((rounds-1)*time.Hour), *j.ArtifactsExpireAt)
}

// TestKeepOnlyInItsGeneration: what a read from memory made of records of
// one generation is kept only while the cache holds that generation; it
// never puts an older one back.
func TestKeepOnlyInItsGeneration(t *testing.T) {
	var c recordCache
	older, newer := recordKey{kind: 'P', a: 1, b: 1}, recordKey{kind: 'P', a: 1, b: 2}
	c.store(2, recordKey{kind: 'p', a: 1}, cachedRecord{v: "project"})
	c.keep(1, older, cachedRecord{v: "of generation 1"})
	_, ok := c.lookup(1, older)
	require.False(t, ok, "generation 1 is gone")
	_, ok = c.lookup(2, older)
	require.False(t, ok, "kept in generation 2")
	c.keep(2, newer, cachedRecord{v: "of generation 2"})
	r, ok := c.lookup(2, newer)
	require.True(t, ok)
	require.Equal(t, "of generation 2", r.v)
	r, ok = c.lookup(2, recordKey{kind: 'p', a: 1})
	require.True(t, ok, "keep does not start the generation again")
	require.Equal(t, "project", r.v)
}
