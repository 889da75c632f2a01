package storetest

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

// Cases on two views of one metadata store, as two replicas see it: every
// conditional write races its rivals on both views, and the outcome is one
// a single process could have produced.
func viewCases() []viewCase {
	return []viewCase{
		{"WritesSeenByTheOtherView", testWritesSeenAcrossViews},
		{"RacingCreateArtifact", testRacingCreateArtifact},
		{"RacingReplaceArtifact", testRacingReplaceArtifact},
		{"RacingForgetArtifacts", testRacingForgetArtifacts},
		{"KeepVersusSweep", testKeepVersusSweep},
		{"ConcurrentSweepers", testConcurrentSweepers},
		{"ConcurrentClaims", testConcurrentClaims},
	}
}

// views returns the view of racer i: they alternate.
func views(a, b MetadataUnderTest) func(i int) MetadataUnderTest {
	return func(i int) MetadataUnderTest {
		if i%2 == 0 {
			return a
		}
		return b
	}
}

// race runs f(i) for i in [0, n) on goroutines that start together.
func race(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

// What one view writes, the other reads: records, locks and the queue.
func testWritesSeenAcrossViews(t *testing.T, a, b MetadataUnderTest) {
	twoProjects(t, a)
	created := numberedRecord(1, 100, archive, at(time.Hour), 1)
	ja, err := a.CreateArtifact(t.Context(), 1, 100, created)
	require.NoError(t, err)
	jb, err := b.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, ja, jb)

	_, err = b.CreateArtifact(t.Context(), 1, 100, numberedRecord(1, 100, archive, nil, 2))
	requireConflict(t, err, "the other view's record")

	_, replaced, err := b.ReplaceArtifact(t.Context(), 1, 100, numberedRecord(1, 100, archive, at(time.Hour), 3))
	require.NoError(t, err)
	require.Equal(t, &created, replaced)

	kept, err := a.KeepArtifacts(t.Context(), 1, 100, baseTime)
	require.NoError(t, err)
	jb, err = b.JobByID(t.Context(), 100)
	require.NoError(t, err)
	require.Equal(t, kept, jb)

	require.Equal(t, blobKeys(created), drainQueue(t, a), "queued by the other view")
	require.NoError(t, a.QueueBlobDeletions(t.Context(), queueKeys(10, 12)...))
	first := claim(t, b, 0, time.Hour, 1)
	require.Len(t, first, 1)
	second := claim(t, a, 0, time.Hour, 10)
	require.Len(t, second, 1)
	require.NotEqual(t, first, second, "claimed on the other view")
	require.Empty(t, claim(t, b, 0, time.Hour, 10))
	require.NoError(t, a.FinishBlobDeletions(t.Context(), first...))
	require.NoError(t, b.FinishBlobDeletions(t.Context(), second...))
}

// Of several CreateArtifact calls of one type racing on two views, exactly
// one succeeds; every other returns ErrConflict and the job holding the
// winner's record.
func testRacingCreateArtifact(t *testing.T, a, b MetadataUnderTest) {
	const jobs, racers = 20, 8
	sd := seeder{t, a}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	for i := range jobs {
		sd.job(1, 10, int64(100+i), "build", success)
	}
	view := views(a, b)
	for i := range jobs {
		id := int64(100 + i)
		type result struct {
			job *jobartifacts.Job
			err error
		}
		results := make([]result, racers)
		records := make([]jobartifacts.Artifact, racers)
		for r := range racers {
			records[r] = numberedRecord(1, id, archive, at(time.Duration(r)*time.Hour), r+1)
		}
		race(racers, func(r int) {
			j, err := view(r).CreateArtifact(t.Context(), 1, id, records[r])
			results[r] = result{j, err}
		})

		winner := -1
		for r, res := range results {
			if res.err == nil {
				require.Equal(t, -1, winner, "job %d: racers %d and %d both created", id, winner, r)
				winner = r
			}
		}
		require.NotEqual(t, -1, winner, "job %d: no create succeeded: %v", id, results[0].err)
		for r, res := range results {
			got := res.job
			if r != winner {
				requireConflict(t, res.err, "job %d racer %d", id, r)
			}
			require.NotNil(t, got, "job %d racer %d", id, r)
			require.Equal(t, []jobartifacts.Artifact{records[winner]}, got.Artifacts, "job %d racer %d sees the winner's record", id, r)
		}
		for _, v := range []MetadataUnderTest{a, b} {
			j, err := v.Job(t.Context(), 1, id)
			require.NoError(t, err)
			require.Equal(t, []jobartifacts.Artifact{records[winner]}, j.Artifacts)
			requireSameTime(t, records[winner].ExpireAt, j.ArtifactsExpireAt, "the winner's expiry")
		}
	}
	require.Empty(t, drainQueue(t, a), "creating removes nothing")
}

// Of several ReplaceArtifact calls racing on two views, each replaced record
// is returned by exactly one, and queued once.
func testRacingReplaceArtifact(t *testing.T, a, b MetadataUnderTest) {
	const racers, rounds = 8, 15
	initial := numberedRecord(1, 100, archive, nil, 0)
	jobWithArtifacts(t, a, nil, initial)
	view := views(a, b)
	record := func(r, round int) jobartifacts.Artifact {
		return numberedRecord(1, 100, archive, at(time.Duration(round)*time.Minute), 1+r*rounds+round)
	}
	replaced := make([][]jobartifacts.Artifact, racers)
	var problems errorList
	race(racers, func(r int) {
		for round := range rounds {
			_, old, err := view(r).ReplaceArtifact(t.Context(), 1, 100, record(r, round))
			switch {
			case err != nil:
				problems.add("racer %d round %d: %v", r, round, err)
			case old == nil:
				problems.add("racer %d round %d: nothing replaced, but the job always has an archive", r, round)
			default:
				replaced[r] = append(replaced[r], *old)
			}
		}
	})
	problems.require(t)

	j, err := b.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Len(t, j.Artifacts, 1)
	final := j.Artifacts[0]
	written := []jobartifacts.Artifact{initial}
	for r := range racers {
		for round := range rounds {
			written = append(written, record(r, round))
		}
	}
	returned := slices.Concat(replaced...)
	require.ElementsMatch(t, written, append(slices.Clone(returned), final),
		"every record written is replaced exactly once or is the final one")
	require.Equal(t, blobKeys(returned...), drainQueue(t, b), "exactly the replaced records' blobs are queued, once each")
}

// ForgetArtifacts racing on two views: each record is removed and returned
// by one of them, and the log stays.
func testRacingForgetArtifacts(t *testing.T, a, b MetadataUnderTest) {
	const jobs, racers, types = 10, 4, 6
	sd := seeder{t, a}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	var want []jobartifacts.Artifact
	for i := range jobs {
		id := int64(100 + i)
		as := []jobartifacts.Artifact{artifactRecord(1, id, trace, nil)}
		for k := range types {
			r := artifactRecord(1, id, fmt.Sprintf("type_%d", k), at(time.Hour))
			as = append(as, r)
			want = append(want, r)
		}
		sd.job(1, 10, id, "build", success, as...)
	}
	view := views(a, b)
	removed := make([][]jobartifacts.Artifact, racers)
	var problems errorList
	race(racers, func(r int) {
		for i := range jobs {
			got, err := view(r).ForgetArtifacts(t.Context(), 1, int64(100+(i+r)%jobs), trace)
			if err != nil {
				problems.add("racer %d: %v", r, err)
			}
			removed[r] = append(removed[r], got...)
		}
	})
	problems.require(t)
	all := slices.Concat(removed...)
	require.ElementsMatch(t, want, all, "each record removed once")
	for i := range jobs {
		j, err := b.Job(t.Context(), 1, int64(100+i))
		require.NoError(t, err)
		require.Equal(t, []jobartifacts.Artifact{artifactRecord(1, int64(100+i), trace, nil)}, j.Artifacts)
	}
	require.Equal(t, blobKeys(want...), drainQueue(t, a))
}

// KeepArtifacts racing SweepExpiredArtifacts: either the keep succeeds and
// the archive stays, or the sweep removes the archive and the keep fails
// with ErrConflict. Never "kept" and gone.
func testKeepVersusSweep(t *testing.T, a, b MetadataUnderTest) {
	const jobs = 60
	sd := seeder{t, a}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	for i := range jobs {
		id := int64(100 + i)
		sd.job(1, 10, id, "build", success, artifactRecord(1, id, archive, at(0)))
	}
	// The keep comes just before the archive expires, the sweep just after.
	keepNow, sweepNow := baseTime.Add(-time.Minute), baseTime

	keepErrs := make([]error, jobs)
	swept := make([][]jobartifacts.SweptArtifact, 2)
	var problems errorList
	var keepers sync.WaitGroup
	keepers.Add(2)
	keepersDone := make(chan struct{})
	go func() { keepers.Wait(); close(keepersDone) }()
	race(4, func(r int) {
		v := views(a, b)(r)
		if r < 2 { // keepers: a keeps the odd jobs, b the even ones, from the last, to cross the sweepers
			defer keepers.Done()
			for i := jobs - 1 - r; i >= 0; i -= 2 {
				_, keepErrs[i] = v.KeepArtifacts(t.Context(), 1, int64(100+i), keepNow)
			}
			return
		}
		for { // sweepers, until the keepers are done and nothing is left
			done := false
			select {
			case <-keepersDone:
				done = true
			default:
			}
			got, err := v.SweepExpiredArtifacts(t.Context(), sweepNow, 1)
			if err != nil {
				problems.add("sweeper %d: %v", r, err)
				return
			}
			swept[r-2] = append(swept[r-2], got...)
			if done && len(got) == 0 {
				return
			}
		}
	})
	problems.require(t)

	all := slices.Concat(swept...)
	sweptJobs := map[int64]int{}
	for _, s := range all {
		sweptJobs[s.JobID]++
	}
	for i := range jobs {
		id := int64(100 + i)
		j, err := b.Job(t.Context(), 1, id)
		require.NoError(t, err)
		_, has := j.Archive()
		switch {
		case keepErrs[i] == nil:
			require.True(t, has, "job %d: KeepArtifacts succeeded but the archive is gone", id)
			require.True(t, j.ArtifactsLocked, "job %d", id)
			require.Zero(t, sweptJobs[id], "job %d: kept and swept", id)
		case errors.Is(keepErrs[i], jobartifacts.ErrConflict):
			require.False(t, has, "job %d: the keep found no archive, yet it is there", id)
			require.Equal(t, 1, sweptJobs[id], "job %d: swept once", id)
		default:
			require.NoError(t, keepErrs[i], "job %d", id)
		}
	}
	require.Equal(t, sweptKeys(all), drainQueue(t, a))
}

// Sweepers on both views, racing each other, re-uploads and keeps: no
// record is returned twice, nothing kept or freshly uploaded is removed,
// and every record that stayed due is removed.
func testConcurrentSweepers(t *testing.T, a, b MetadataUnderTest) {
	const jobs, sweepers, limit = 100, 4, 3
	const (
		plain    = iota // due archive and log
		reupload        // due archive, replaced meanwhile by one that never expires
		keep            // due archive, kept meanwhile (just before it expired)
		locked          // due archive of a job kept already
		mixed           // due archive, unexpired metadata
		kinds
	)
	sd := seeder{t, a}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	due := func(id int64) jobartifacts.Artifact { return numberedRecord(1, id, archive, at(-time.Hour), 0) }
	fresh := func(id int64) jobartifacts.Artifact { return numberedRecord(1, id, archive, nil, 1) }
	for i := range jobs {
		id := int64(100 + i)
		as := []jobartifacts.Artifact{due(id), artifactRecord(1, id, trace, at(-time.Hour))}
		if i%kinds == mixed {
			as = append(as, artifactRecord(1, id, "metadata", at(time.Hour)))
		}
		sd.put(jobartifacts.Job{
			ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: success,
			Artifacts: as, ArtifactsLocked: i%kinds == locked,
		})
	}

	swept := make([][]jobartifacts.SweptArtifact, sweepers)
	replacedOld := make([]*jobartifacts.Artifact, jobs)
	keepErrs := make([]error, jobs)
	var problems errorList
	race(sweepers+2, func(r int) {
		switch {
		case r == sweepers: // re-uploads on a
			for i := reupload; i < jobs; i += kinds {
				var err error
				_, replacedOld[i], err = a.ReplaceArtifact(t.Context(), 1, int64(100+i), fresh(int64(100+i)))
				if err != nil {
					problems.add("ReplaceArtifact job %d: %v", 100+i, err)
				}
			}
		case r == sweepers+1: // keeps on b, at a time the archive had not expired yet
			for i := keep; i < jobs; i += kinds {
				_, keepErrs[i] = b.KeepArtifacts(t.Context(), 1, int64(100+i), baseTime.Add(-2*time.Hour))
			}
		default:
			v := views(a, b)(r)
			for range 1000 {
				got, err := v.SweepExpiredArtifacts(t.Context(), baseTime, limit)
				if err != nil {
					problems.add("sweeper %d: %v", r, err)
					return
				}
				swept[r] = append(swept[r], got...)
				if len(got) < limit {
					return
				}
			}
			problems.add("sweeper %d never finished", r)
		}
	})
	problems.require(t)
	// Sweepers may finish before a re-upload or keep lost its race; what
	// is still due now goes with one more sweep.
	all := slices.Concat(slices.Concat(swept...), sweepAll(t, a, baseTime, limit))

	seen := map[jobartifacts.BlobKey]bool{}
	for _, s := range all {
		require.False(t, seen[s.Artifact.Blob], "%s swept twice", s.Artifact.Blob)
		seen[s.Artifact.Blob] = true
		require.Equal(t, due(s.JobID), s.Artifact, "only due archives are swept")
	}
	var queued []jobartifacts.Artifact
	for i := range jobs {
		id := int64(100 + i)
		j, err := b.Job(t.Context(), 1, id)
		require.NoError(t, err)
		got, has := j.Archive()
		wasSwept := seen[due(id).Blob]
		switch i % kinds {
		case plain, mixed:
			require.True(t, wasSwept, "job %d: due archive not swept", id)
			require.False(t, has, "job %d", id)
		case reupload:
			require.True(t, has, "job %d: the re-upload is gone", id)
			require.Equal(t, fresh(id), got, "job %d keeps its re-upload", id)
			if replacedOld[i] != nil {
				require.Equal(t, due(id), *replacedOld[i], "job %d", id)
				require.False(t, wasSwept, "job %d: the replaced record was swept too", id)
				queued = append(queued, *replacedOld[i])
			} else {
				require.True(t, wasSwept, "job %d: the old record is neither replaced nor swept", id)
			}
		case keep:
			if keepErrs[i] == nil {
				require.True(t, has, "job %d: kept but gone", id)
				require.False(t, wasSwept, "job %d: kept and swept", id)
			} else {
				require.ErrorIs(t, keepErrs[i], jobartifacts.ErrConflict, "job %d", id)
				require.True(t, wasSwept, "job %d: the keep failed but the archive was not swept", id)
			}
		case locked:
			require.False(t, wasSwept, "job %d: kept long ago, swept", id)
			require.Equal(t, due(id), got, "job %d", id)
		}
		_, hasTrace := artifactOf(j, trace)
		require.True(t, hasTrace, "job %d: the log is never swept", id)
		_, hasMetadata := artifactOf(j, "metadata")
		require.Equal(t, i%kinds == mixed, hasMetadata, "job %d: unexpired metadata stays", id)
	}
	for _, s := range all {
		queued = append(queued, s.Artifact)
	}
	require.Equal(t, blobKeys(queued...), drainQueue(t, a), "swept and replaced blobs are queued, once each")
}

// Claims on two views never hand out a key twice within the lease.
func testConcurrentClaims(t *testing.T, a, b MetadataUnderTest) {
	const keys, claimers, limit = 60, 4, 4
	require.NoError(t, a.QueueBlobDeletions(t.Context(), queueKeys(0, keys)...))
	claimed := make([][]jobartifacts.BlobKey, claimers)
	var problems errorList
	race(claimers, func(r int) {
		for range keys {
			got, err := views(a, b)(r).ClaimBlobDeletions(t.Context(), 0, time.Hour, limit)
			if err != nil {
				problems.add("claimer %d: %v", r, err)
				return
			}
			if len(got) > limit {
				problems.add("claimer %d: %d keys, limit %d", r, len(got), limit)
			}
			claimed[r] = append(claimed[r], got...)
			if len(got) == 0 {
				return
			}
		}
	})
	problems.require(t)
	all := slices.Concat(claimed...)
	slices.Sort(all)
	require.Equal(t, queueKeys(0, keys), all, "every key claimed exactly once")
	require.Empty(t, claim(t, b, 0, time.Hour, keys))
}
