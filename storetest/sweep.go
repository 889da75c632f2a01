package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

func sweepCases() []metadataCase {
	return []metadataCase{
		{"SweepExpiredArtifacts", testSweepExpiredArtifacts},
		{"SweepExpiredArtifactsLimit", testSweepExpiredArtifactsLimit},
		{"SweepSkipsWhatItCannotRemove", testSweepSkipsWhatItCannotRemove},
	}
}

// seedExpiry seeds jobs across two projects with records that
// SweepExpiredArtifacts must and must not remove at baseTime, and returns
// those it must remove.
func seedExpiry(t *testing.T, s Seeder) []jobartifacts.SweptArtifact {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.project(2, "group/other")
	sd.pipeline(1, 10, "main", success)
	sd.pipeline(2, 20, "main", success)
	var due []jobartifacts.SweptArtifact
	put := func(project, pipeline, id int64, locked bool, as ...jobartifacts.Artifact) {
		sd.put(jobartifacts.Job{
			ID: id, ProjectID: project, Pipeline: jobartifacts.Pipeline{ID: pipeline},
			Name: "build", Status: success, Artifacts: as, ArtifactsLocked: locked,
		})
	}
	record := func(project, job int64, fileType string, expireAt *time.Time, isDue bool) jobartifacts.Artifact {
		a := artifactRecord(project, job, fileType, expireAt)
		if isDue {
			due = append(due, jobartifacts.SweptArtifact{ProjectID: project, JobID: job, Artifact: a})
		}
		return a
	}
	put(1, 10, 100, false, record(1, 100, archive, at(-time.Hour), true))
	put(1, 10, 101, false, record(1, 101, archive, at(0), true)) // expires exactly now: not after now
	put(1, 10, 102, false, record(1, 102, archive, at(time.Millisecond), false))
	put(1, 10, 103, false, record(1, 103, archive, nil, false))
	put(1, 10, 104, true, record(1, 104, archive, at(-time.Hour), false)) // kept
	put(1, 10, 105, false, record(1, 105, archive, nil, false), record(1, 105, "metadata", at(-time.Minute), true))
	put(1, 10, 106, false)
	put(1, 10, 107, false, record(1, 107, trace, at(-time.Hour), false)) // a log is never swept
	put(1, 10, 108, false, record(1, 108, trace, at(-time.Hour), false), record(1, 108, archive, at(-time.Hour), true))
	put(2, 20, 200, false, record(2, 200, archive, at(-24*time.Hour), true))
	put(2, 20, 201, false, record(2, 201, archive, at(time.Hour), false), record(2, 201, "junit", at(time.Hour), false))
	put(2, 20, 202, true, record(2, 202, "junit", at(-time.Hour), false), record(2, 202, trace, at(-time.Hour), false))
	return due
}

// sweptKeys returns the blob keys of swept records, sorted.
func sweptKeys(swept []jobartifacts.SweptArtifact) []jobartifacts.BlobKey {
	var as []jobartifacts.Artifact
	for _, a := range swept {
		as = append(as, a.Artifact)
	}
	return blobKeys(as...)
}

// SweepExpiredArtifacts removes and returns the records expired at now, not
// logs, of unkept jobs, across projects; it queues exactly their blobs and
// leaves every other record.
func testSweepExpiredArtifacts(t *testing.T, s MetadataUnderTest) {
	want := seedExpiry(t, s)
	before := map[int64]*jobartifacts.Job{}
	for _, id := range []int64{100, 101, 102, 103, 104, 105, 106, 107, 108, 200, 201, 202} {
		j, err := s.JobByID(t.Context(), id)
		require.NoError(t, err)
		before[id] = j
	}

	swept, err := s.SweepExpiredArtifacts(t.Context(), baseTime, 100)
	require.NoError(t, err)
	require.ElementsMatch(t, want, swept)
	require.Equal(t, sweptKeys(want), drainQueue(t, s), "exactly the swept records' blobs are queued")

	for id, b := range before {
		j, err := s.JobByID(t.Context(), id)
		require.NoError(t, err)
		var left []jobartifacts.Artifact
		for _, a := range b.Artifacts {
			if !containsRecord(want, id, a) {
				left = append(left, a)
			}
		}
		require.ElementsMatch(t, left, j.Artifacts, "job %d keeps what was not due", id)
		require.Equal(t, b.ArtifactsLocked, j.ArtifactsLocked, "job %d", id)
	}

	swept, err = s.SweepExpiredArtifacts(t.Context(), baseTime, 100)
	require.NoError(t, err)
	require.Empty(t, swept, "nothing is left to sweep")
	require.Empty(t, drainQueue(t, s))
}

func containsRecord(swept []jobartifacts.SweptArtifact, jobID int64, a jobartifacts.Artifact) bool {
	for _, sa := range swept {
		if sa.JobID == jobID && sa.Artifact.FileType == a.FileType {
			return true
		}
	}
	return false
}

// sweepAll sweeps with limit until a sweep returns fewer than limit, and
// returns everything swept. A sweep that returns fewer than limit has left
// nothing behind, so the one after it returns nothing.
func sweepAll(t *testing.T, s jobartifacts.MetadataStore, now time.Time, limit int) []jobartifacts.SweptArtifact {
	t.Helper()
	var all []jobartifacts.SweptArtifact
	for range 1000 {
		swept, err := s.SweepExpiredArtifacts(t.Context(), now, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(swept), limit, "limit %d", limit)
		all = append(all, swept...)
		if len(swept) < limit {
			swept, err = s.SweepExpiredArtifacts(t.Context(), now, limit)
			require.NoError(t, err)
			require.Empty(t, swept, "a sweep that returned %d of limit %d left records behind", len(swept), limit)
			return all
		}
	}
	require.FailNow(t, "SweepExpiredArtifacts never returned fewer than limit")
	return nil
}

// SweepExpiredArtifacts removes up to limit records per call, each once.
func testSweepExpiredArtifactsLimit(t *testing.T, s MetadataUnderTest) {
	want := seedExpiry(t, s)
	for limit := 1; limit <= len(want)+1; limit++ {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			swept, err := s.SweepExpiredArtifacts(t.Context(), baseTime, limit)
			require.NoError(t, err)
			require.Len(t, swept, min(limit, len(want)))
			require.Subset(t, want, swept)
			// Put the swept records back for the next limit.
			for _, a := range swept {
				_, _, err := s.ReplaceArtifact(t.Context(), a.ProjectID, a.JobID, a.Artifact)
				require.NoError(t, err)
			}
			drainQueue(t, s)
		})
	}
	swept := sweepAll(t, s, baseTime, 2)
	require.ElementsMatch(t, want, swept)
}

// Records that do not match are never returned, however many there are
// before the due ones: a sweep with limit returns limit records while any
// are left, and never revisits what it cannot remove.
func testSweepSkipsWhatItCannotRemove(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	const blockers, due = 60, 5
	var want []jobartifacts.SweptArtifact
	for i := range blockers + due {
		id := int64(100 + i)
		var as []jobartifacts.Artifact
		locked := false
		switch {
		case i >= blockers:
			a := artifactRecord(1, id, archive, at(-time.Hour))
			as = append(as, a, artifactRecord(1, id, trace, at(-time.Hour)))
			want = append(want, jobartifacts.SweptArtifact{ProjectID: 1, JobID: id, Artifact: a})
		case i%3 == 0: // only an expired log
			as = append(as, artifactRecord(1, id, trace, at(-time.Hour)))
		case i%3 == 1: // kept
			as = append(as, artifactRecord(1, id, archive, at(-time.Hour)))
			locked = true
		default: // not yet expired, and the job's expiry passed
			as = append(as, artifactRecord(1, id, archive, at(time.Hour)), artifactRecord(1, id, "metadata", nil))
		}
		exp := at(-time.Hour)
		sd.put(jobartifacts.Job{
			ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: success,
			Artifacts: as, ArtifactsLocked: locked, ArtifactsExpireAt: exp,
		})
	}
	var swept []jobartifacts.SweptArtifact
	for _, n := range []int{2, 2, 1} {
		got, err := s.SweepExpiredArtifacts(t.Context(), baseTime, 2)
		require.NoError(t, err)
		require.Len(t, got, n, "records are left: the sweep must return them")
		swept = append(swept, got...)
	}
	got, err := s.SweepExpiredArtifacts(t.Context(), baseTime, 2)
	require.NoError(t, err)
	require.Empty(t, got)
	require.ElementsMatch(t, want, swept)
	require.Equal(t, sweptKeys(want), drainQueue(t, s))
}
