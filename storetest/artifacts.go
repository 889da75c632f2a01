package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

func artifactCases() []metadataCase {
	return []metadataCase{
		{"CreateArtifact", testCreateArtifact},
		{"CreateArtifactConflict", testCreateArtifactConflict},
		{"CreateArtifactMissingJob", testCreateArtifactMissingJob},
		{"ReplaceArtifact", testReplaceArtifact},
		{"ReplaceArtifactSameBlob", testReplaceArtifactSameBlob},
		{"ReplaceArtifactMissingJob", testReplaceArtifactMissingJob},
		{"KeepArtifacts", testKeepArtifacts},
		{"KeepArtifactsNeedsAvailableArchive", testKeepArtifactsNeedsArchive},
		{"KeepArtifactsMissingJob", testKeepArtifactsMissingJob},
		{"ForgetArtifactsExcept", testForgetArtifactsExcept},
		{"ForgetAllArtifacts", testForgetAllArtifacts},
		{"ForgetArtifactsMissingJob", testForgetArtifactsMissingJob},
		{"ExpireProjectArtifacts", testExpireProjectArtifacts},
		{"ExpireProjectArtifactsUnknownProject", testExpireProjectArtifactsUnknownProject},
		{"ReturnedRecordsAreCopies", testReturnedRecordsAreCopies},
		{"ConcurrentUse", testMetadataConcurrentUse},
	}
}

// CreateArtifact records a when the job has no artifact of its type, sets
// ArtifactsExpireAt to a.ExpireAt (the last upload decides) and returns the
// updated job, which is the stored one.
func testCreateArtifact(t *testing.T, s MetadataUnderTest) {
	jobWithArtifacts(t, s, nil)

	first := artifactRecord(1, 100, archive, at(time.Hour))
	j, err := s.CreateArtifact(t.Context(), 1, 100, first)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{first}, j.Artifacts)
	requireSameTime(t, first.ExpireAt, j.ArtifactsExpireAt, "ArtifactsExpireAt after the first upload")

	metadata := artifactRecord(1, 100, "metadata", at(3*time.Hour))
	j, err = s.CreateArtifact(t.Context(), 1, 100, metadata)
	require.NoError(t, err)
	require.ElementsMatch(t, []jobartifacts.Artifact{first, metadata}, j.Artifacts)
	requireSameTime(t, metadata.ExpireAt, j.ArtifactsExpireAt, "ArtifactsExpireAt after the metadata upload")

	junit := artifactRecord(1, 100, "junit", nil)
	j, err = s.CreateArtifact(t.Context(), 1, 100, junit)
	require.NoError(t, err)
	require.Nil(t, j.ArtifactsExpireAt, "the last upload never expires")

	again, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, j, again, "the returned job is the stored one")
	require.Empty(t, drainQueue(t, s), "creating removes nothing")
}

// CreateArtifact of a type the job has changes nothing and returns the job
// as stored, holding the existing record, with ErrConflict.
func testCreateArtifactConflict(t *testing.T, s MetadataUnderTest) {
	existing := numberedRecord(1, 100, archive, at(time.Hour), 1)
	jobWithArtifacts(t, s, at(time.Hour), existing, artifactRecord(1, 100, "metadata", nil))
	before, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)

	j, err := s.CreateArtifact(t.Context(), 1, 100, numberedRecord(1, 100, archive, nil, 2))
	requireConflict(t, err)
	require.NotNil(t, j, "the job as stored comes with the conflict")
	require.Equal(t, before, j)
	a, ok := j.Archive()
	require.True(t, ok)
	require.Equal(t, existing, a, "the existing record")

	after, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, before, after, "a refused create changes nothing")
	require.Empty(t, drainQueue(t, s))
}

func testCreateArtifactMissingJob(t *testing.T, s MetadataUnderTest) {
	twoProjects(t, s)
	for _, ids := range []struct{ project, job int64 }{{1, 999}, {1, 200}, {3, 100}} {
		j, err := s.CreateArtifact(t.Context(), ids.project, ids.job, artifactRecord(ids.project, ids.job, archive, nil))
		requireNotFound(t, err, "project %d job %d", ids.project, ids.job)
		require.Nil(t, j, "a missing job is nil")
	}
	j, err := s.Job(t.Context(), 2, 200)
	require.NoError(t, err)
	require.Empty(t, j.Artifacts, "a refused create changes nothing")
}

// ReplaceArtifact records a whatever the job has, returns the record it
// replaced and queues that record's blob in the same step.
func testReplaceArtifact(t *testing.T, s MetadataUnderTest) {
	metadata := artifactRecord(1, 100, "metadata", at(3*time.Hour))
	jobWithArtifacts(t, s, at(3*time.Hour), metadata)

	first := numberedRecord(1, 100, archive, at(time.Hour), 1)
	j, replaced, err := s.ReplaceArtifact(t.Context(), 1, 100, first)
	require.NoError(t, err)
	require.Nil(t, replaced, "nothing to replace")
	require.ElementsMatch(t, []jobartifacts.Artifact{metadata, first}, j.Artifacts)
	requireSameTime(t, first.ExpireAt, j.ArtifactsExpireAt, "ArtifactsExpireAt after the first upload")
	require.Empty(t, drainQueue(t, s), "nothing replaced, nothing queued")

	second := numberedRecord(1, 100, archive, nil, 2)
	j, replaced, err = s.ReplaceArtifact(t.Context(), 1, 100, second)
	require.NoError(t, err)
	require.Equal(t, &first, replaced)
	require.ElementsMatch(t, []jobartifacts.Artifact{metadata, second}, j.Artifacts)
	require.Nil(t, j.ArtifactsExpireAt, "the last upload never expires")
	again, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, j, again, "the returned job is the stored one")
	require.Equal(t, blobKeys(first), drainQueue(t, s), "the replaced record's blob is queued")
}

// ReplaceArtifact with the blob the job records already queues nothing:
// the blob is still needed.
func testReplaceArtifactSameBlob(t *testing.T, s MetadataUnderTest) {
	old := artifactRecord(1, 100, archive, at(time.Hour))
	jobWithArtifacts(t, s, at(time.Hour), old)
	renamed := old
	renamed.Filename, renamed.ExpireAt = "renamed.zip", nil
	j, replaced, err := s.ReplaceArtifact(t.Context(), 1, 100, renamed)
	require.NoError(t, err)
	require.Equal(t, &old, replaced)
	require.Equal(t, []jobartifacts.Artifact{renamed}, j.Artifacts)
	require.Empty(t, drainQueue(t, s), "the blob is still recorded")
}

func testReplaceArtifactMissingJob(t *testing.T, s MetadataUnderTest) {
	twoProjects(t, s)
	for _, ids := range []struct{ project, job int64 }{{1, 999}, {1, 200}, {3, 100}} {
		_, _, err := s.ReplaceArtifact(t.Context(), ids.project, ids.job, artifactRecord(ids.project, ids.job, archive, nil))
		requireNotFound(t, err, "project %d job %d", ids.project, ids.job)
	}
	j, err := s.Job(t.Context(), 2, 200)
	require.NoError(t, err)
	require.Empty(t, j.Artifacts, "a refused replace changes nothing")
}

// KeepArtifacts: the job's ArtifactsExpireAt and every Artifact.ExpireAt
// become nil, ArtifactsLocked becomes true, and the updated job is returned.
func testKeepArtifacts(t *testing.T, s MetadataUnderTest) {
	jobWithArtifacts(t, s, at(2*time.Hour),
		artifactRecord(1, 100, archive, at(time.Hour)),
		artifactRecord(1, 100, "metadata", at(2*time.Hour)),
		artifactRecord(1, 100, trace, at(-time.Hour)))

	kept, err := s.KeepArtifacts(t.Context(), 1, 100, baseTime)
	require.NoError(t, err)
	require.Equal(t, int64(100), kept.ID)
	require.Equal(t, "build", kept.Name)
	require.True(t, kept.ArtifactsLocked)
	require.Nil(t, kept.ArtifactsExpireAt)
	require.Equal(t, []string{"archive", "metadata", "trace"}, fileTypes(kept.Artifacts))
	for _, a := range kept.Artifacts {
		require.Nil(t, a.ExpireAt, "artifact %s", a.FileType)
	}

	again, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, kept, again, "the returned job is the stored one")

	kept, err = s.KeepArtifacts(t.Context(), 1, 100, baseTime.Add(1000*time.Hour))
	require.NoError(t, err, "kept artifacts never expire: keeping again succeeds")
	require.Equal(t, again, kept)
}

// KeepArtifacts keeps only a job with an archive that has not expired at
// now (Job.HasAvailableArchive); otherwise it changes nothing and returns
// ErrConflict.
func testKeepArtifactsNeedsArchive(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	tests := []struct {
		name        string
		archive     bool
		archiveExp  *time.Time
		jobExp      *time.Time
		locked      bool
		wantKept    bool
		otherRecord bool
	}{
		{name: "ArchiveUnexpired", archive: true, archiveExp: at(time.Millisecond), wantKept: true},
		{name: "ArchiveNeverExpires", archive: true, wantKept: true},
		{name: "ArchiveExpired", archive: true, archiveExp: at(-time.Hour)},
		{name: "ArchiveExpiresExactlyNow", archive: true, archiveExp: at(0)},
		{name: "ArchiveUnsetJobExpired", archive: true, jobExp: at(-time.Hour)},
		{name: "ArchiveUnsetJobUnexpired", archive: true, jobExp: at(time.Hour), wantKept: true},
		{name: "ArchiveUnexpiredJobExpired", archive: true, archiveExp: at(time.Hour), jobExp: at(-time.Hour), wantKept: true},
		{name: "ExpiredButLocked", archive: true, archiveExp: at(-time.Hour), locked: true, wantKept: true},
		{name: "NoArchive", otherRecord: true},
		{name: "NoArtifacts"},
	}
	for i, tc := range tests {
		id := int64(100 + i)
		var as []jobartifacts.Artifact
		if tc.archive {
			as = append(as, artifactRecord(1, id, archive, tc.archiveExp))
		}
		if tc.otherRecord {
			as = append(as, artifactRecord(1, id, "metadata", nil))
		}
		sd.put(jobartifacts.Job{
			ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: tc.name, Status: success,
			Artifacts: as, ArtifactsExpireAt: tc.jobExp, ArtifactsLocked: tc.locked,
		})
	}
	for i, tc := range tests {
		id := int64(100 + i)
		before, err := s.Job(t.Context(), 1, id)
		require.NoError(t, err)
		kept, err := s.KeepArtifacts(t.Context(), 1, id, baseTime)
		after, err2 := s.Job(t.Context(), 1, id)
		require.NoError(t, err2)
		if !tc.wantKept {
			requireConflict(t, err, tc.name)
			require.Equal(t, before, after, "%s: a refused keep changes nothing", tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		require.True(t, after.ArtifactsLocked, tc.name)
		require.Nil(t, after.ArtifactsExpireAt, tc.name)
		require.Equal(t, after, kept, tc.name)
	}
}

func testKeepArtifactsMissingJob(t *testing.T, s MetadataUnderTest) {
	jobWithArtifacts(t, s, nil, artifactRecord(1, 100, archive, nil))
	seeder{t, s}.job(2, 20, 200, "build", success, artifactRecord(2, 200, archive, nil))
	_, err := s.KeepArtifacts(t.Context(), 1, 999, baseTime)
	requireNotFound(t, err)
	_, err = s.KeepArtifacts(t.Context(), 1, 200, baseTime)
	requireNotFound(t, err, "job 200 belongs to project 2")
	j, err := s.Job(t.Context(), 2, 200)
	require.NoError(t, err)
	require.False(t, j.ArtifactsLocked, "a refused keep changes nothing")
}

// ForgetArtifacts removes every artifact whose type is not in except,
// returns the removed records and queues their blobs; route 6 leaves the
// log ("trace").
func testForgetArtifactsExcept(t *testing.T, s MetadataUnderTest) {
	arch := artifactRecord(1, 100, archive, nil)
	metadata := artifactRecord(1, 100, "metadata", at(time.Hour))
	junit := artifactRecord(1, 100, "junit", nil)
	log := artifactRecord(1, 100, trace, nil)
	jobWithArtifacts(t, s, nil, arch, metadata, log, junit)

	removed, err := s.ForgetArtifacts(t.Context(), 1, 100, trace)
	require.NoError(t, err)
	require.ElementsMatch(t, []jobartifacts.Artifact{arch, metadata, junit}, removed)
	j, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{log}, j.Artifacts)
	require.Equal(t, blobKeys(arch, metadata, junit), drainQueue(t, s), "exactly the removed records' blobs are queued")

	removed, err = s.ForgetArtifacts(t.Context(), 1, 100, trace, "junit")
	require.NoError(t, err, "nothing to forget is not an error")
	require.Empty(t, removed)
	j, err = s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{log}, j.Artifacts)
	require.Empty(t, drainQueue(t, s), "nothing removed, nothing queued")
}

// ForgetArtifacts with no exceptions removes all of them.
func testForgetAllArtifacts(t *testing.T, s MetadataUnderTest) {
	arch := artifactRecord(1, 100, archive, nil)
	metadata := artifactRecord(1, 100, "metadata", at(time.Hour))
	log := artifactRecord(1, 100, trace, nil)
	jobWithArtifacts(t, s, at(time.Hour), arch, metadata, log)

	removed, err := s.ForgetArtifacts(t.Context(), 1, 100)
	require.NoError(t, err)
	require.ElementsMatch(t, []jobartifacts.Artifact{arch, metadata, log}, removed)
	j, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Empty(t, j.Artifacts)
	require.Equal(t, blobKeys(arch, metadata, log), drainQueue(t, s))

	removed, err = s.ForgetArtifacts(t.Context(), 1, 100)
	require.NoError(t, err, "a job with nothing to forget is not an error")
	require.Empty(t, removed)
}

func testForgetArtifactsMissingJob(t *testing.T, s MetadataUnderTest) {
	jobWithArtifacts(t, s, nil, artifactRecord(1, 100, archive, nil))
	_, err := s.ForgetArtifacts(t.Context(), 1, 999)
	requireNotFound(t, err)
	_, err = s.ForgetArtifacts(t.Context(), 2, 100, trace)
	requireNotFound(t, err, "job 100 belongs to project 1")
	j, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Len(t, j.Artifacts, 1, "a refused forget changes nothing")
	require.Empty(t, drainQueue(t, s))
}

// ExpireProjectArtifacts: every artifact of the project's unkept jobs, and
// the jobs' ArtifactsExpireAt, expire at now if they would expire later or
// never; kept jobs and other projects are untouched, and an earlier expiry
// is not pushed later.
func testExpireProjectArtifacts(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.project(2, "group/other")
	sd.pipeline(1, 10, "main", success)
	sd.pipeline(1, 11, "dev", failed)
	sd.pipeline(2, 20, "main", success)
	now := baseTime
	type seededJob struct {
		project, pipeline, id int64
		locked                bool
		expireAt              []*time.Time // one artifact per entry
		want                  []*time.Time
		jobExpireAt, wantJob  *time.Time
	}
	jobs := []seededJob{
		{1, 10, 100, false, []*time.Time{nil}, []*time.Time{&now}, nil, &now},
		{1, 10, 101, false, []*time.Time{at(time.Hour)}, []*time.Time{&now}, at(time.Hour), &now},
		{1, 10, 102, false, []*time.Time{at(-time.Hour)}, []*time.Time{at(-time.Hour)}, at(-time.Hour), at(-time.Hour)},
		{1, 11, 103, false, []*time.Time{at(-time.Minute), nil, at(time.Minute)}, []*time.Time{at(-time.Minute), &now, &now}, at(time.Minute), &now},
		{1, 11, 104, true, []*time.Time{nil, at(time.Hour)}, []*time.Time{nil, at(time.Hour)}, nil, nil},
		{2, 20, 200, false, []*time.Time{nil, at(time.Hour)}, []*time.Time{nil, at(time.Hour)}, at(time.Hour), at(time.Hour)},
	}
	types := []string{archive, "metadata", "junit"}
	for _, j := range jobs {
		var as []jobartifacts.Artifact
		for i, e := range j.expireAt {
			as = append(as, artifactRecord(j.project, j.id, types[i], e))
		}
		sd.put(jobartifacts.Job{
			ID: j.id, ProjectID: j.project, Pipeline: jobartifacts.Pipeline{ID: j.pipeline},
			Name: "build", Status: success, Artifacts: as, ArtifactsLocked: j.locked, ArtifactsExpireAt: j.jobExpireAt,
		})
	}

	require.NoError(t, s.ExpireProjectArtifacts(t.Context(), 1, now))

	for _, want := range jobs {
		got, err := s.Job(t.Context(), want.project, want.id)
		require.NoError(t, err)
		require.Equal(t, want.locked, got.ArtifactsLocked)
		require.Len(t, got.Artifacts, len(want.want), "job %d", want.id)
		for i, w := range want.want {
			a := got.Artifacts[slices.IndexFunc(got.Artifacts, func(a jobartifacts.Artifact) bool { return a.FileType == types[i] })]
			requireSameTime(t, w, a.ExpireAt, fmt.Sprintf("job %d artifact %s", want.id, types[i]))
		}
		requireSameTime(t, want.wantJob, got.ArtifactsExpireAt, fmt.Sprintf("job %d ArtifactsExpireAt", want.id))
	}
	require.Empty(t, drainQueue(t, s), "expiring removes nothing")
}

func testExpireProjectArtifactsUnknownProject(t *testing.T, s MetadataUnderTest) {
	twoProjects(t, s)
	requireNotFound(t, s.ExpireProjectArtifacts(t.Context(), 3, baseTime))
}

// The jobs that the artifact methods return are copies too: changing them
// changes neither the store nor the records it returns later.
func testReturnedRecordsAreCopies(t *testing.T, s MetadataUnderTest) {
	twoProjects(t, s)
	record := func(n int) jobartifacts.Artifact {
		return numberedRecord(1, 100, archive, at(time.Duration(n)*time.Hour), n)
	}
	given := record(1)
	j, err := s.CreateArtifact(t.Context(), 1, 100, given)
	require.NoError(t, err)
	want, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	j.Artifacts[0].Filename = "changed"
	*j.Artifacts[0].ExpireAt = baseTime
	*j.ArtifactsExpireAt = baseTime
	require.Equal(t, record(1), given, "the job CreateArtifact returned shares memory with the record given")
	got, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, want, got, "after changing the job CreateArtifact returned")

	given = record(2)
	j, replaced, err := s.ReplaceArtifact(t.Context(), 1, 100, given)
	require.NoError(t, err)
	require.Equal(t, record(1), *replaced)
	replaced.Filename = "changed"
	*replaced.ExpireAt = baseTime
	j.Artifacts[0].Filename = "changed"
	*j.Artifacts[0].ExpireAt = baseTime
	require.Equal(t, record(2), given, "the job ReplaceArtifact returned shares memory with the record given")
	got, err = s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{record(2)}, got.Artifacts, "after changing what ReplaceArtifact returned")

	// Records given are copied: changing them afterwards changes nothing.
	given = numberedRecord(1, 100, "junit", at(time.Hour), 3)
	_, err = s.CreateArtifact(t.Context(), 1, 100, given)
	require.NoError(t, err)
	*given.ExpireAt = baseTime
	got, err = s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	a, ok := artifactOf(got, "junit")
	require.True(t, ok)
	require.Equal(t, numberedRecord(1, 100, "junit", at(time.Hour), 3), a, "after changing the record given")
}

// MetadataStore implementations MUST be safe for concurrent use: writers of
// different artifact types and readers of the same job run at once, and
// every write is kept.
func testMetadataConcurrentUse(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	sd.job(1, 10, 100, "build", success)

	const workers, rounds = 8, 20
	var problems errorList
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			fileType := fmt.Sprintf("type_%d", w)
			first := numberedRecord(1, 100, fileType, nil, 0)
			if _, err := s.CreateArtifact(t.Context(), 1, 100, first); err != nil {
				problems.add("worker %d: CreateArtifact: %v", w, err)
			}
			prev := first
			for r := range rounds {
				a := numberedRecord(1, 100, fileType, at(time.Duration(r)*time.Minute), r+1)
				_, replaced, err := s.ReplaceArtifact(t.Context(), 1, 100, a)
				switch {
				case err != nil:
					problems.add("worker %d: ReplaceArtifact: %v", w, err)
				case replaced == nil || replaced.Blob != prev.Blob:
					problems.add("worker %d round %d: replaced %v, want the record of round %d", w, r, replaced, r-1)
				}
				prev = a
				if _, err := s.Job(t.Context(), 1, 100); err != nil {
					problems.add("worker %d: Job: %v", w, err)
				}
				if _, err := s.LatestSuccessfulJob(t.Context(), 1, "main", "build"); err != nil {
					problems.add("worker %d: LatestSuccessfulJob: %v", w, err)
				}
			}
		})
	}
	wg.Wait()
	problems.require(t)
	j, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Len(t, j.Artifacts, workers, "one artifact per type, each replaced %d times", rounds)
	for _, a := range j.Artifacts {
		require.Contains(t, string(a.Blob), fmt.Sprintf("-%016x", rounds), "the last record of %s", a.FileType)
	}
	require.Len(t, drainQueue(t, s), workers*rounds, "every replaced record's blob is queued")
}
