package pgstore

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// These stress the conditional operations harder than storetest does, on
// two stores with their own pools over one schema (two replicas). The
// goroutines only record what they saw; the checks run on the test
// goroutine.

var raceNow = time.Date(2026, time.January, 2, 3, 4, 5, 678_000_000, time.UTC)

// twoReplicas returns two stores on one fresh schema, each with its own pool.
func twoReplicas(t *testing.T) (a, b *Store) {
	schema := newSchema(t)
	return openStore(t, schema), openStore(t, schema)
}

// seedJobs puts project 1, pipeline 10 and jobs 1..n (ids 1000+i).
func seedJobs(t *testing.T, s *Store, n int, artifacts func(i int) []jobartifacts.Artifact) []int64 {
	ctx := t.Context()
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	ids := make([]int64, n)
	for i := range n {
		ids[i] = int64(1000 + i)
		j := jobartifacts.Job{ID: ids[i], ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: jobartifacts.StatusSuccess}
		if artifacts != nil {
			j.Artifacts = artifacts(i)
		}
		require.NoError(t, s.PutJob(ctx, j))
	}
	return ids
}

func record(fileType string, key string, expire *time.Time) jobartifacts.Artifact {
	return jobartifacts.Artifact{FileType: fileType, FileFormat: "zip", Filename: fileType + ".zip", Size: 3, SHA256: "abc", ExpireAt: expire, Blob: jobartifacts.BlobKey(key)}
}

// queued returns every key in the deletion queue.
func queued(t *testing.T, s *Store) []string {
	rows, err := s.pool.Query(t.Context(), `SELECT blob_key FROM `+quoted(s.schema)+`.deleted_blobs ORDER BY blob_key`)
	require.NoError(t, err)
	var keys []string
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	return keys
}

// 16 writers on two replicas replace one job's archive 20 times each: every
// key is either the one recorded at the end or returned as replaced by
// exactly one call, and exactly the replaced keys are queued (research §5.2:
// 0 orphans when the job row is locked first).
func TestRacingReplacesOrphanNothing(t *testing.T) {
	a, b := twoReplicas(t)
	seedJobs(t, a, 1, nil)
	const writers, rounds = 16, 20
	replaced := make([][]string, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			for r := range rounds {
				_, old, err := s.ReplaceArtifact(t.Context(), 1, 1000, record("archive", fmt.Sprintf("k-%02d-%02d", w, r), nil))
				if err != nil {
					errs[w] = err
					return
				}
				if old != nil {
					replaced[w] = append(replaced[w], string(old.Blob))
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	j, err := b.Job(t.Context(), 1, 1000)
	require.NoError(t, err)
	require.Len(t, j.Artifacts, 1)
	all := []string{string(j.Artifacts[0].Blob)}
	var returned []string
	for _, keys := range replaced {
		returned = append(returned, keys...)
	}
	all = append(all, returned...)
	slices.Sort(all)
	require.Len(t, all, writers*rounds, "every upload is recorded or returned as replaced")
	require.Equal(t, len(all), len(slices.Compact(slices.Clone(all))), "no key returned twice")
	slices.Sort(returned)
	require.Equal(t, returned, queued(t, a), "exactly the replaced keys are queued")
}

// Creates of one type race on two replicas for 50 jobs: one winner per job;
// every loser gets ErrConflict and the job holding the winner's record.
func TestRacingCreatesOneWinnerPerJob(t *testing.T) {
	a, b := twoReplicas(t)
	ids := seedJobs(t, a, 50, nil)
	const racers = 6
	type result struct {
		key   string
		job   *jobartifacts.Job
		err   error
		jobID int64
	}
	results := make([]result, len(ids)*racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range results {
		s := a
		if i%2 == 1 {
			s = b
		}
		jobID := ids[i%len(ids)]
		key := fmt.Sprintf("k-%d-%d", jobID, i)
		wg.Go(func() {
			<-start
			j, err := s.CreateArtifact(t.Context(), 1, jobID, record("archive", key, &raceNow))
			results[i] = result{key: key, job: j, err: err, jobID: jobID}
		})
	}
	close(start)
	wg.Wait()

	winners := map[int64]string{}
	for _, r := range results {
		if r.err == nil {
			require.NotContains(t, winners, r.jobID, "two creates won job %d", r.jobID)
			winners[r.jobID] = r.key
		}
	}
	require.Len(t, winners, len(ids))
	for _, r := range results {
		require.NotNil(t, r.job)
		require.Len(t, r.job.Artifacts, 1)
		require.Equal(t, winners[r.jobID], string(r.job.Artifacts[0].Blob), "job %d", r.jobID)
		if r.key != winners[r.jobID] {
			require.ErrorIs(t, r.err, jobartifacts.ErrConflict)
		}
		require.True(t, raceNow.Equal(*r.job.ArtifactsExpireAt))
	}
	require.Empty(t, queued(t, a), "a create replaces nothing")
}

// Four sweepers on two replicas and a keeper race over 300 jobs with an
// expired archive and an expired trace each, plus 50 kept jobs: no record
// is swept twice, no trace and nothing kept is swept, a successful keep
// leaves its archive, a failed one means the archive was swept, and nothing
// sweepable is left.
func TestSweepersAndKeepsRace(t *testing.T) {
	a, b := twoReplicas(t)
	past := raceNow.Add(-time.Hour)
	const due, kept = 300, 50
	// Job i's archive expires i seconds after past: sweeps go oldest first,
	// the keeper newest first, so they meet.
	ids := seedJobs(t, a, due+kept, func(i int) []jobartifacts.Artifact {
		expire := past.Add(time.Duration(i) * time.Second)
		return []jobartifacts.Artifact{
			record("archive", fmt.Sprintf("archive-%d", i), &expire),
			record("trace", fmt.Sprintf("trace-%d", i), &past),
		}
	})
	for _, id := range ids[due:] {
		j, err := a.JobByID(t.Context(), id)
		require.NoError(t, err)
		j.ArtifactsLocked = true
		require.NoError(t, a.PutJob(t.Context(), *j))
	}

	const sweepers = 4
	swept := make([][]jobartifacts.SweptArtifact, sweepers)
	errs := make([]error, sweepers+1)
	keepOK := map[int64]bool{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range sweepers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			for {
				batch, err := s.SweepExpiredArtifacts(t.Context(), raceNow, 3)
				if err != nil {
					errs[w] = err
					return
				}
				swept[w] = append(swept[w], batch...)
				if len(batch) == 0 {
					return
				}
			}
		})
	}
	// The keeper keeps every third due job while the sweepers run, at an
	// earlier "now", when the archive was still available.
	wg.Go(func() {
		<-start
		for i := due - 1; i >= 0; i -= 3 {
			_, err := b.KeepArtifacts(t.Context(), 1, ids[i], past.Add(-time.Minute))
			switch {
			case err == nil:
				keepOK[ids[i]] = true
			case errors.Is(err, jobartifacts.ErrConflict):
				keepOK[ids[i]] = false
			default:
				errs[sweepers] = err
				return
			}
		}
	})
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	seen := map[string]bool{}
	for _, batch := range swept {
		for _, sa := range batch {
			require.False(t, seen[string(sa.Artifact.Blob)], "swept twice: %s", sa.Artifact.Blob)
			seen[string(sa.Artifact.Blob)] = true
			require.Equal(t, "archive", sa.Artifact.FileType)
			require.Equal(t, int64(1), sa.ProjectID)
			require.GreaterOrEqual(t, sa.JobID, ids[0])
			require.Less(t, sa.JobID, ids[due], "a kept job's record was swept")
		}
	}
	for i, id := range ids[:due] {
		j, err := a.JobByID(t.Context(), id)
		require.NoError(t, err)
		_, hasArchive := j.Archive()
		ok, kept := keepOK[id]
		switch {
		case kept && ok:
			require.True(t, hasArchive, "job %d was kept but its archive is gone", id)
			require.True(t, j.ArtifactsLocked)
			require.False(t, seen[fmt.Sprintf("archive-%d", i)])
		default:
			require.False(t, hasArchive, "job %d: archive left behind", id)
			require.True(t, seen[fmt.Sprintf("archive-%d", i)])
		}
		require.Len(t, j.Artifacts, map[bool]int{true: 2, false: 1}[hasArchive], "the trace stays")
	}
	rest, err := b.SweepExpiredArtifacts(t.Context(), raceNow, 100)
	require.NoError(t, err)
	require.Empty(t, rest)
	q := queued(t, a)
	require.Len(t, q, len(seen), "every swept key is queued")
	for _, k := range q {
		require.True(t, seen[k], k)
	}
	t.Logf("swept %d archives in 4 sweepers; %d of %d keeps won", len(seen), countTrue(keepOK), len(keepOK))
}

func countTrue(m map[int64]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// Three claimers on two replicas drain 500 queued keys with a long lease:
// each key is handed out once.
func TestConcurrentClaimsDisjoint(t *testing.T) {
	a, b := twoReplicas(t)
	keys := make([]jobartifacts.BlobKey, 500)
	for i := range keys {
		keys[i] = jobartifacts.BlobKey(fmt.Sprintf("q-%04d", i))
	}
	require.NoError(t, a.QueueBlobDeletions(t.Context(), keys...))
	const claimers = 3
	got := make([][]jobartifacts.BlobKey, claimers)
	errs := make([]error, claimers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for c := range claimers {
		s := a
		if c%2 == 1 {
			s = b
		}
		wg.Go(func() {
			<-start
			for {
				batch, err := s.ClaimBlobDeletions(t.Context(), 0, time.Hour, 9)
				if err != nil || len(batch) == 0 {
					errs[c] = err
					return
				}
				got[c] = append(got[c], batch...)
			}
		})
	}
	close(start)
	wg.Wait()
	var all []jobartifacts.BlobKey
	for c := range claimers {
		require.NoError(t, errs[c])
		all = append(all, got[c]...)
	}
	slices.Sort(all)
	require.Equal(t, keys, all, "every key claimed exactly once")
}
