package fsstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// These tests check fsstore against the MetadataStore and BlobStore doc
// comments with the store's own clock (WithClock), where storetest can only
// sleep, and with races on several Stores of one directory.

var now0 = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a store clock that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newStore opens a store on a fresh directory with a fake clock, and seeds
// project 1 and its pipeline 10.
func newStore(t *testing.T) (*Store, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: now0}
	s := openTestStore(t, t.TempDir(), WithClock(clock.Now), WithoutFsync())
	ctx := t.Context()
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	return s, clock
}

// view opens another Store on s's directory with s's clock, as another
// process would.
func view(t *testing.T, s *Store) *Store {
	t.Helper()
	return openTestStore(t, s.Dir(), WithClock(s.now), WithoutFsync())
}

func putJob(t *testing.T, s *Store, id int64, artifacts ...jobartifacts.Artifact) {
	t.Helper()
	require.NoError(t, s.PutJob(t.Context(), jobartifacts.Job{
		ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: fmt.Sprintf("job-%d", id),
		Status: jobartifacts.StatusSuccess, Artifacts: artifacts,
	}))
}

func at(d time.Duration) *time.Time {
	t := now0.Add(d)
	return &t
}

func artifact(fileType string, blob jobartifacts.BlobKey, expireAt *time.Time) jobartifacts.Artifact {
	return jobartifacts.Artifact{FileType: fileType, Blob: blob, ExpireAt: expireAt}
}

func blobsOf(j *jobartifacts.Job) []jobartifacts.BlobKey {
	var keys []jobartifacts.BlobKey
	for _, a := range j.Artifacts {
		keys = append(keys, a.Blob)
	}
	return keys
}

// queued claims every key of the queue, whatever its grace and claim, by
// moving the clock far ahead; the keys are finished, so the queue is empty
// afterwards.
func drainQueue(t *testing.T, s *Store, clock *fakeClock) []jobartifacts.BlobKey {
	t.Helper()
	clock.Advance(1000 * time.Hour)
	keys, err := s.ClaimBlobDeletions(t.Context(), 0, time.Minute, 1000)
	require.NoError(t, err)
	require.NoError(t, s.FinishBlobDeletions(t.Context(), keys...))
	slices.Sort(keys)
	return keys
}

func TestCreateArtifact(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t)
	putJob(t, s, 100)

	j, err := s.CreateArtifact(ctx, 1, 100, artifact("archive", "a1", at(time.Hour)))
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a1"}, blobsOf(j))
	require.Equal(t, at(time.Hour), j.ArtifactsExpireAt)
	require.Equal(t, "main", j.Pipeline.Ref)

	j, err = s.CreateArtifact(ctx, 1, 100, artifact("archive", "a2", nil))
	require.ErrorIs(t, err, jobartifacts.ErrConflict)
	require.NotNil(t, j, "the job as stored comes with the conflict")
	require.Equal(t, []jobartifacts.BlobKey{"a1"}, blobsOf(j), "holding the existing record")
	require.Equal(t, at(time.Hour), j.ArtifactsExpireAt, "nothing changed")

	j, err = s.CreateArtifact(ctx, 1, 100, artifact("junit", "j1", nil))
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a1", "j1"}, blobsOf(j))
	require.Nil(t, j.ArtifactsExpireAt, "the last upload decides")

	j, err = s.CreateArtifact(ctx, 2, 100, artifact("dotenv", "d1", nil))
	require.ErrorIs(t, err, jobartifacts.ErrNotFound, "job of another project")
	require.Nil(t, j)
	_, err = s.CreateArtifact(ctx, 1, 999, artifact("archive", "x", nil))
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

// Of several creates of one type racing on two views, exactly one wins, and
// the record is the winner's.
func TestCreateArtifactRaceAcrossViews(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t)
	views := []*Store{s, view(t, s)}
	const jobs, writers = 50, 8
	for id := range int64(jobs) {
		putJob(t, s, 100+id)
	}
	type result struct {
		jobID int64
		blob  jobartifacts.BlobKey
		err   error
		held  jobartifacts.BlobKey
	}
	results := make(chan result, jobs*writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			v := views[w%len(views)]
			for id := range int64(jobs) {
				key := jobartifacts.BlobKey(fmt.Sprintf("k-%d-%d", id, w))
				j, err := v.CreateArtifact(ctx, 1, 100+id, artifact("archive", key, nil))
				r := result{jobID: 100 + id, blob: key, err: err}
				if j != nil {
					a, _ := j.Archive()
					r.held = a.Blob
				}
				results <- r
			}
		})
	}
	wg.Wait()
	close(results)
	winners := map[int64]jobartifacts.BlobKey{}
	var losers []result
	for r := range results {
		if r.err == nil {
			_, dup := winners[r.jobID]
			require.False(t, dup, "job %d: two creates won", r.jobID)
			winners[r.jobID] = r.blob
			continue
		}
		require.ErrorIs(t, r.err, jobartifacts.ErrConflict)
		losers = append(losers, r)
	}
	require.Len(t, winners, jobs)
	for _, r := range losers {
		require.Equal(t, winners[r.jobID], r.held, "a loser sees the winner's record")
	}
	for id, key := range winners {
		j, err := views[1].Job(ctx, 1, id)
		require.NoError(t, err)
		require.Equal(t, []jobartifacts.BlobKey{key}, blobsOf(j))
	}
}

func TestReplaceArtifact(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	putJob(t, s, 100, artifact("trace", "t1", nil))

	j, replaced, err := s.ReplaceArtifact(ctx, 1, 100, artifact("archive", "a1", at(time.Hour)))
	require.NoError(t, err)
	require.Nil(t, replaced)
	require.Equal(t, []jobartifacts.BlobKey{"t1", "a1"}, blobsOf(j))
	require.Equal(t, at(time.Hour), j.ArtifactsExpireAt)

	j, replaced, err = s.ReplaceArtifact(ctx, 1, 100, artifact("archive", "a2", nil))
	require.NoError(t, err)
	require.Equal(t, artifact("archive", "a1", at(time.Hour)), *replaced)
	require.Equal(t, []jobartifacts.BlobKey{"t1", "a2"}, blobsOf(j))
	require.Nil(t, j.ArtifactsExpireAt)

	// The same key again replaces the record but queues nothing.
	_, replaced, err = s.ReplaceArtifact(ctx, 1, 100, artifact("archive", "a2", at(time.Minute)))
	require.NoError(t, err)
	require.Equal(t, jobartifacts.BlobKey("a2"), replaced.Blob)
	require.Equal(t, []jobartifacts.BlobKey{"a1"}, drainQueue(t, s, clock))

	_, _, err = s.ReplaceArtifact(ctx, 1, 999, artifact("archive", "x", nil))
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

// Of several replaces racing, each replaced record is returned by exactly
// one, and exactly the replaced blobs are queued.
func TestReplaceArtifactRaceAcrossViews(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	views := []*Store{s, view(t, s)}
	putJob(t, s, 100)
	const writers, perWriter = 8, 40
	replacedKeys := make(chan jobartifacts.BlobKey, writers*perWriter)
	errs := make(chan error, writers*perWriter)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				key := jobartifacts.BlobKey(fmt.Sprintf("k-%d-%d", w, i))
				_, replaced, err := views[w%2].ReplaceArtifact(ctx, 1, 100, artifact("archive", key, nil))
				if err != nil {
					errs <- err
				} else if replaced != nil {
					replacedKeys <- replaced.Blob
				}
			}
		})
	}
	wg.Wait()
	close(replacedKeys)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var got []jobartifacts.BlobKey
	for k := range replacedKeys {
		got = append(got, k)
	}
	j, err := s.Job(ctx, 1, 100)
	require.NoError(t, err)
	final, _ := j.Archive()
	require.Len(t, got, writers*perWriter-1)
	slices.Sort(got)
	require.Equal(t, got, drainQueue(t, s, clock), "exactly the replaced blobs are queued")
	got = append(got, final.Blob)
	slices.Sort(got)
	require.Equal(t, len(got), len(slices.Compact(slices.Clone(got))), "no record was replaced twice")
}

func TestKeepArtifacts(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t)
	putJob(t, s, 100, artifact("trace", "t", at(-time.Hour)))
	putJob(t, s, 101, artifact("archive", "a", at(-time.Hour)), artifact("junit", "j", at(time.Hour)))
	putJob(t, s, 102, artifact("archive", "a", at(time.Hour)), artifact("junit", "j", at(-time.Hour)))
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 103, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10},
		ArtifactsLocked: true, Artifacts: []jobartifacts.Artifact{artifact("archive", "a", at(-time.Hour))}}))

	for _, id := range []int64{100, 101} {
		j, err := s.KeepArtifacts(ctx, 1, id, now0)
		require.ErrorIs(t, err, jobartifacts.ErrConflict, "job %d has no available archive", id)
		require.Nil(t, j)
		stored, err := s.Job(ctx, 1, id)
		require.NoError(t, err)
		require.False(t, stored.ArtifactsLocked, "nothing changed")
		require.NotNil(t, stored.Artifacts[0].ExpireAt)
	}
	for _, id := range []int64{102, 103} {
		j, err := s.KeepArtifacts(ctx, 1, id, now0)
		require.NoError(t, err)
		require.True(t, j.ArtifactsLocked)
		require.Nil(t, j.ArtifactsExpireAt)
		for _, a := range j.Artifacts {
			require.Nil(t, a.ExpireAt, a.FileType)
		}
	}
	_, err := s.KeepArtifacts(ctx, 2, 102, now0)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

func TestForgetArtifacts(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	putJob(t, s, 100, artifact("trace", "t", nil), artifact("archive", "a", nil), artifact("junit", "j", nil))

	removed, err := s.ForgetArtifacts(ctx, 1, 100, "trace")
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{artifact("archive", "a", nil), artifact("junit", "j", nil)}, removed)
	j, err := s.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"t"}, blobsOf(j))

	removed, err = s.ForgetArtifacts(ctx, 1, 100, "trace")
	require.NoError(t, err, "nothing to forget is no error")
	require.Empty(t, removed)

	removed, err = s.ForgetArtifacts(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{artifact("trace", "t", nil)}, removed)
	require.Equal(t, []jobartifacts.BlobKey{"a", "j", "t"}, drainQueue(t, s, clock))

	_, err = s.ForgetArtifacts(ctx, 1, 999)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

func TestExpireProjectArtifacts(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t)
	putJob(t, s, 100, artifact("archive", "a", nil), artifact("junit", "j", at(-time.Hour)))
	putJob(t, s, 101, artifact("archive", "b", at(time.Hour)))
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 102, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10},
		ArtifactsLocked: true, Artifacts: []jobartifacts.Artifact{artifact("archive", "c", nil)}}))

	require.NoError(t, s.ExpireProjectArtifacts(ctx, 1, now0))
	j, err := s.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, at(0), j.Artifacts[0].ExpireAt)
	require.Equal(t, at(-time.Hour), j.Artifacts[1].ExpireAt, "an earlier expiry stays")
	require.Equal(t, at(0), j.ArtifactsExpireAt)
	j, err = s.Job(ctx, 1, 101)
	require.NoError(t, err)
	require.Equal(t, at(0), j.Artifacts[0].ExpireAt)
	j, err = s.Job(ctx, 1, 102)
	require.NoError(t, err)
	require.Nil(t, j.Artifacts[0].ExpireAt, "kept artifacts do not expire")

	require.ErrorIs(t, s.ExpireProjectArtifacts(ctx, 2, now0), jobartifacts.ErrNotFound)
}

func TestSweepExpiredArtifacts(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	putJob(t, s, 100, artifact("trace", "t100", at(-time.Hour)))                                                                     // a log: never
	putJob(t, s, 101, artifact("archive", "a101", at(-time.Hour)), artifact("junit", "j101", at(0)), artifact("trace", "t101", nil)) // two due
	putJob(t, s, 102, artifact("archive", "a102", at(time.Second)))                                                                  // not yet
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 103, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10},
		ArtifactsLocked: true, Artifacts: []jobartifacts.Artifact{artifact("archive", "a103", at(-time.Hour))}})) // kept
	putJob(t, s, 104, artifact("dotenv", "d104", at(-time.Minute)))

	_, err := s.SweepExpiredArtifacts(ctx, now0, 0)
	require.Error(t, err, "limit must be positive")

	swept, err := s.SweepExpiredArtifacts(ctx, now0, 1)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.SweptArtifact{{ProjectID: 1, JobID: 101, Artifact: artifact("archive", "a101", at(-time.Hour))}}, swept)
	j, err := s.Job(ctx, 1, 101)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"j101", "t101"}, blobsOf(j), "a limit stops within a job, keeping the rest in order")

	swept, err = s.SweepExpiredArtifacts(ctx, now0, 5)
	require.NoError(t, err)
	require.Len(t, swept, 2, "fewer than limit: none is left behind")
	require.Equal(t, jobartifacts.BlobKey("j101"), swept[0].Artifact.Blob)
	require.Equal(t, jobartifacts.SweptArtifact{ProjectID: 1, JobID: 104, Artifact: artifact("dotenv", "d104", at(-time.Minute))}, swept[1])

	swept, err = s.SweepExpiredArtifacts(ctx, now0, 5)
	require.NoError(t, err)
	require.Empty(t, swept)
	require.Equal(t, []jobartifacts.BlobKey{"a101", "d104", "j101"}, drainQueue(t, s, clock))

	for id, want := range map[int64][]jobartifacts.BlobKey{100: {"t100"}, 101: {"t101"}, 102: {"a102"}, 103: {"a103"}, 104: nil} {
		j, err := s.Job(ctx, 1, id)
		require.NoError(t, err)
		require.Equal(t, want, blobsOf(j), "job %d", id)
	}
}

// Sweepers on two views remove every due record once, and never a kept one.
func TestSweepRaceAcrossViews(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	views := []*Store{s, view(t, s)}
	const jobs = 200
	var want []jobartifacts.BlobKey
	for id := range int64(jobs) {
		a := jobartifacts.BlobKey(fmt.Sprintf("a%03d", id))
		j := jobartifacts.BlobKey(fmt.Sprintf("j%03d", id))
		putJob(t, s, 1000+id, artifact("archive", a, at(-time.Hour)), artifact("junit", j, at(-time.Hour)), artifact("trace", "t", at(-time.Hour)))
		want = append(want, a, j)
	}
	slices.Sort(want)
	type batch struct {
		swept []jobartifacts.SweptArtifact
		err   error
	}
	batches := make(chan batch, 4*jobs)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for {
				swept, err := views[w%2].SweepExpiredArtifacts(ctx, now0, 7)
				batches <- batch{swept, err}
				if err != nil || len(swept) < 7 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(batches)
	var got []jobartifacts.BlobKey
	for b := range batches {
		require.NoError(t, b.err)
		for _, a := range b.swept {
			got = append(got, a.Artifact.Blob)
		}
	}
	slices.Sort(got)
	require.Equal(t, want, got, "every due record removed by exactly one sweeper")
	require.Equal(t, want, drainQueue(t, s, clock))
}

// A keep racing a sweep either wins (the archive stays) or loses with
// ErrConflict (the archive is gone): never "kept" and gone.
func TestKeepRacingSweep(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t)
	other := view(t, s)
	const jobs = 100
	for id := range int64(jobs) {
		putJob(t, s, 1000+id, artifact("archive", jobartifacts.BlobKey(fmt.Sprintf("a%d", id)), at(0)))
	}
	keepErrs := make([]error, jobs)
	var wg sync.WaitGroup
	wg.Go(func() {
		for id := range int64(jobs) {
			// An hour earlier the archive was available: a keep racing the
			// sweep of now.
			_, keepErrs[id] = other.KeepArtifacts(ctx, 1, 1000+id, now0.Add(-time.Hour))
		}
	})
	wg.Go(func() {
		for {
			swept, err := s.SweepExpiredArtifacts(ctx, now0, 3)
			if err != nil || len(swept) < 3 {
				return
			}
		}
	})
	wg.Wait()
	for id := range int64(jobs) {
		j, err := s.Job(ctx, 1, 1000+id)
		require.NoError(t, err)
		_, has := j.Archive()
		if keepErrs[id] == nil {
			require.True(t, has, "job %d: kept, so the archive stays", 1000+id)
			require.True(t, j.ArtifactsLocked)
		} else {
			require.ErrorIs(t, keepErrs[id], jobartifacts.ErrConflict)
			require.False(t, has)
		}
	}
}

func TestBlobDeletionQueue(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	const grace, lease = time.Hour, 10 * time.Minute

	require.NoError(t, s.QueueBlobDeletions(ctx, "a", "b"))
	clock.Advance(30 * time.Minute)
	require.NoError(t, s.QueueBlobDeletions(ctx, "c", "a")) // "a" keeps its place
	keys, err := s.ClaimBlobDeletions(ctx, grace, lease, 10)
	require.NoError(t, err)
	require.Empty(t, keys, "nothing was queued an hour ago")

	clock.Advance(30 * time.Minute)
	keys, err = s.ClaimBlobDeletions(ctx, grace, lease, 1)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a"}, keys, "re-queuing a did not restart its grace; limit holds")
	keys, err = s.ClaimBlobDeletions(ctx, grace, lease, 10)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"b"}, keys, "a is claimed; c is in its grace")

	clock.Advance(lease)
	keys, err = s.ClaimBlobDeletions(ctx, grace, lease, 10)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a", "b"}, keys, "claims ended: retried")

	require.NoError(t, s.FinishBlobDeletions(ctx, "a", "never-queued"))
	clock.Advance(2 * lease)
	keys, err = s.ClaimBlobDeletions(ctx, grace, lease, 10)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"b", "c"}, keys, "a is finished; c's grace is over")

	_, err = s.ClaimBlobDeletions(ctx, grace, lease, 0)
	require.Error(t, err, "limit must be positive")
}

// Claimers on two views never get one key twice within a lease.
func TestClaimRaceAcrossViews(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	views := []*Store{s, view(t, s)}
	var want []jobartifacts.BlobKey
	for i := range 500 {
		want = append(want, jobartifacts.BlobKey(fmt.Sprintf("k%03d", i)))
	}
	require.NoError(t, s.QueueBlobDeletions(ctx, want...))
	clock.Advance(time.Hour)
	claims := make(chan []jobartifacts.BlobKey, len(want))
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for {
				keys, err := views[w%2].ClaimBlobDeletions(ctx, time.Minute, time.Hour, 9)
				if err != nil {
					errs <- err
					return
				}
				claims <- keys
				if len(keys) < 9 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(claims)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var got []jobartifacts.BlobKey
	for keys := range claims {
		got = append(got, keys...)
	}
	slices.Sort(got)
	require.Equal(t, want, got)
}

// Another Store on the directory sees and changes the same data, blobs and
// queue included.
func TestViewSharesEverything(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	v := view(t, s)
	putJob(t, s, 100)
	_, err := v.CreateArtifact(ctx, 1, 100, artifact("archive", "a", nil))
	require.NoError(t, err)
	_, err = v.PutBlob(ctx, "a", strings.NewReader("bytes"))
	require.NoError(t, err)
	j, err := s.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a"}, blobsOf(j))
	_, err = s.OpenBlob(ctx, "a")
	require.NoError(t, err)
	_, err = s.ForgetArtifacts(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a"}, drainQueue(t, v, clock))
}

func TestPutBlobIsCreateOnly(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	info, err := s.PutBlob(ctx, "k", strings.NewReader("first"))
	require.NoError(t, err)
	require.Equal(t, now0, info.ModTime, "dated by the store's clock")
	clock.Advance(time.Minute)
	_, err = s.PutBlob(ctx, "k", strings.NewReader("second"))
	require.ErrorIs(t, err, jobartifacts.ErrConflict)
	b, err := s.OpenBlob(ctx, "k")
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, info, b.Info(), "the old blob is untouched")
	data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Info().Size))
	require.NoError(t, err)
	require.Equal(t, "first", string(data))

	// Racing puts of one key: exactly one wins.
	const racers = 16
	views := []*Store{s, view(t, s)}
	errs := make(chan error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			_, err := views[i%2].PutBlob(ctx, "race", strings.NewReader(fmt.Sprint(i)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		if err == nil {
			won++
		} else {
			require.ErrorIs(t, err, jobartifacts.ErrConflict)
		}
	}
	require.Equal(t, 1, won)
}

func TestDeleteBlob(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t)
	_, err := s.PutBlob(ctx, "k", strings.NewReader("bytes"))
	require.NoError(t, err)
	b, err := s.OpenBlob(ctx, "k")
	require.NoError(t, err)
	defer b.Close()
	require.NoError(t, s.DeleteBlob(ctx, "k"))
	require.NoError(t, s.DeleteBlob(ctx, "k"), "deleting a missing blob succeeds")
	_, err = s.OpenBlob(ctx, "k")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	r, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "bytes", string(data), "a blob opened before keeps its bytes")
}

func TestSignedURLNotSupported(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.SignedURL(t.Context(), "k", jobartifacts.SignedURLOptions{Method: "GET"})
	require.ErrorIs(t, err, jobartifacts.ErrNotSupported)
}

func TestListBlobs(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	keys := []jobartifacts.BlobKey{"projects/1/jobs/2/a", "projects/1/jobs/2-x", "projects/1/jobs/20/a", "other", "projects/10/jobs/1/a"}
	for i, k := range keys {
		_, err := s.PutBlob(ctx, k, strings.NewReader(strings.Repeat("x", i)))
		require.NoError(t, err)
		clock.Advance(time.Second)
	}
	var got []jobartifacts.BlobAttributes
	token := ""
	pages := 0
	for {
		page, next, err := s.ListBlobs(ctx, "projects/", token, 2)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 2)
		got = append(got, page...)
		pages++
		if next == "" {
			break
		}
		token = next
	}
	require.Equal(t, 2, pages)
	require.Equal(t, []jobartifacts.BlobAttributes{
		{Key: "projects/1/jobs/2-x", Size: 1, ModTime: now0.Add(time.Second)},
		{Key: "projects/1/jobs/2/a", Size: 0, ModTime: now0},
		{Key: "projects/1/jobs/20/a", Size: 2, ModTime: now0.Add(2 * time.Second)},
		{Key: "projects/10/jobs/1/a", Size: 4, ModTime: now0.Add(4 * time.Second)},
	}, got)

	page, next, err := s.ListBlobs(ctx, "nothing/", "", 2)
	require.NoError(t, err)
	require.Empty(t, page)
	require.Empty(t, next)
	_, _, err = s.ListBlobs(ctx, "", "", 0)
	require.Error(t, err, "limit must be positive")
}

func TestNewRangeReader(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.PutBlob(t.Context(), "k", strings.NewReader("0123456789"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	b, err := s.OpenBlob(ctx, "k")
	require.NoError(t, err)

	tests := []struct {
		offset, length int64
		want           string
	}{
		{0, -1, "0123456789"},
		{3, 4, "3456"},
		{8, 100, "89"},
		{10, -1, ""},
		{10, 5, ""},
		{4, 0, ""},
	}
	for _, tt := range tests {
		r, err := b.NewRangeReader(tt.offset, tt.length)
		require.NoError(t, err)
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		require.Equal(t, tt.want, string(data), "offset %d length %d", tt.offset, tt.length)
		require.NoError(t, r.Close())
	}
	_, err = b.NewRangeReader(11, -1)
	require.Error(t, err, "an offset past Size")
	_, err = b.NewRangeReader(-1, 1)
	require.Error(t, err)

	open, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	cancel()
	_, err = open.Read(make([]byte, 1))
	require.ErrorIs(t, err, context.Canceled, "the open's context governs range reads")
	_, err = b.ReadAt(make([]byte, 1), 0)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, b.Close())
}

// A closed Blob fails its reads with fs.ErrClosed.
func TestReadAfterClose(t *testing.T) {
	s, _ := newStore(t)
	_, err := s.PutBlob(t.Context(), "projects/1/jobs/2/archive-0", bytes.NewReader([]byte("data")))
	require.NoError(t, err)
	b, err := s.OpenBlob(t.Context(), "projects/1/jobs/2/archive-0")
	require.NoError(t, err)
	r, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	_, err = b.ReadAt(make([]byte, 1), 0)
	require.ErrorIs(t, err, fs.ErrClosed)
	_, err = r.Read(make([]byte, 1))
	require.ErrorIs(t, err, fs.ErrClosed)
	_, err = b.NewRangeReader(0, 1)
	require.ErrorIs(t, err, fs.ErrClosed)
}
