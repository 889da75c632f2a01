package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

func artifactCases() []storeCase {
	return []storeCase{
		{"KeepArtifacts", testKeepArtifacts},
		{"KeepArtifactsMissingJob", testKeepArtifactsMissingJob},
		{"RecordArtifact", testRecordArtifact},
		{"RecordArtifactMissingJob", testRecordArtifactMissingJob},
		{"ForgetArtifactsByType", testForgetArtifactsByType},
		{"ForgetAllArtifacts", testForgetAllArtifacts},
		{"ForgetArtifactsMissingJob", testForgetArtifactsMissingJob},
		{"ExpireProjectArtifacts", testExpireProjectArtifacts},
		{"ExpireProjectArtifactsUnknownProject", testExpireProjectArtifactsUnknownProject},
		{"ExpiredArtifacts", testExpiredArtifacts},
		{"ExpiredArtifactsLimit", testExpiredArtifactsLimit},
	}
}

// jobWithArtifacts seeds project 1 (and 2), pipeline 10 and job 100 with the
// given artifacts, and job 200 of project 2.
func jobWithArtifacts(t *testing.T, s StoreUnderTest, expireAt *time.Time, artifacts ...jobartifacts.Artifact) {
	twoProjects(t, s)
	require.NoError(t, s.PutJob(t.Context(), jobartifacts.Job{
		ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build",
		Status: jobartifacts.StatusSuccess, Artifacts: artifacts, ArtifactsExpireAt: expireAt,
	}))
}

func fileTypes(as []jobartifacts.Artifact) []string {
	var types []string
	for _, a := range as {
		types = append(types, a.FileType)
	}
	slices.Sort(types)
	return types
}

// KeepArtifacts: the job's ArtifactsExpireAt and every Artifact.ExpireAt
// become nil, ArtifactsLocked becomes true, and the updated job is returned.
func testKeepArtifacts(t *testing.T, s StoreUnderTest) {
	jobWithArtifacts(t, s, at(2*time.Hour),
		artifactRecord(1, 100, jobartifacts.ArtifactTypeArchive, at(time.Hour)),
		artifactRecord(1, 100, "metadata", at(2*time.Hour)))

	kept, err := s.KeepArtifacts(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, int64(100), kept.ID)
	require.Equal(t, "build", kept.Name)
	require.True(t, kept.ArtifactsLocked)
	require.Nil(t, kept.ArtifactsExpireAt)
	require.Equal(t, []string{"archive", "metadata"}, fileTypes(kept.Artifacts))
	for _, a := range kept.Artifacts {
		require.Nil(t, a.ExpireAt, "artifact %s", a.FileType)
	}

	again, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, kept, again, "the returned job is the stored one")
}

func testKeepArtifactsMissingJob(t *testing.T, s StoreUnderTest) {
	twoProjects(t, s)
	_, err := s.KeepArtifacts(t.Context(), 1, 999)
	requireNotFound(t, err)
	_, err = s.KeepArtifacts(t.Context(), 1, 200)
	requireNotFound(t, err, "job 200 belongs to project 2")
	j, err := s.Job(t.Context(), 2, 200)
	require.NoError(t, err)
	require.False(t, j.ArtifactsLocked, "a refused keep changes nothing")
}

// RecordArtifact adds a, replacing the artifact of the same FileType, and
// sets ArtifactsExpireAt to a.ExpireAt: the last upload decides.
func testRecordArtifact(t *testing.T, s StoreUnderTest) {
	jobWithArtifacts(t, s, nil)

	first := artifactRecord(1, 100, jobartifacts.ArtifactTypeArchive, at(time.Hour))
	j, err := s.RecordArtifact(t.Context(), 1, 100, first)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{first}, j.Artifacts)
	requireSameTime(t, first.ExpireAt, j.ArtifactsExpireAt, "ArtifactsExpireAt after the first upload")

	metadata := artifactRecord(1, 100, "metadata", at(3*time.Hour))
	j, err = s.RecordArtifact(t.Context(), 1, 100, metadata)
	require.NoError(t, err)
	require.ElementsMatch(t, []jobartifacts.Artifact{first, metadata}, j.Artifacts)
	requireSameTime(t, metadata.ExpireAt, j.ArtifactsExpireAt, "ArtifactsExpireAt after the metadata upload")

	replacement := artifactRecord(1, 100, jobartifacts.ArtifactTypeArchive, nil)
	replacement.Blob += "-new"
	replacement.Size = 12345
	j, err = s.RecordArtifact(t.Context(), 1, 100, replacement)
	require.NoError(t, err)
	require.ElementsMatch(t, []jobartifacts.Artifact{replacement, metadata}, j.Artifacts)
	require.Nil(t, j.ArtifactsExpireAt, "the last upload never expires")
	archive, ok := j.Archive()
	require.True(t, ok)
	require.Equal(t, replacement, archive)

	again, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, j, again, "the returned job is the stored one")
}

func testRecordArtifactMissingJob(t *testing.T, s StoreUnderTest) {
	twoProjects(t, s)
	a := artifactRecord(1, 999, jobartifacts.ArtifactTypeArchive, nil)
	_, err := s.RecordArtifact(t.Context(), 1, 999, a)
	requireNotFound(t, err)
	_, err = s.RecordArtifact(t.Context(), 1, 200, a)
	requireNotFound(t, err, "job 200 belongs to project 2")
	j, err := s.Job(t.Context(), 2, 200)
	require.NoError(t, err)
	require.Empty(t, j.Artifacts, "a refused record changes nothing")
}

// ForgetArtifacts removes the artifacts of the given types and returns what
// it removed; nothing to forget is not an error.
func testForgetArtifactsByType(t *testing.T, s StoreUnderTest) {
	archive := artifactRecord(1, 100, jobartifacts.ArtifactTypeArchive, nil)
	metadata := artifactRecord(1, 100, "metadata", at(time.Hour))
	junit := artifactRecord(1, 100, "junit", nil)
	jobWithArtifacts(t, s, nil, archive, metadata, junit)

	removed, err := s.ForgetArtifacts(t.Context(), 1, 100, "junit", "metadata")
	require.NoError(t, err)
	require.ElementsMatch(t, []jobartifacts.Artifact{metadata, junit}, removed)
	j, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{archive}, j.Artifacts)

	removed, err = s.ForgetArtifacts(t.Context(), 1, 100, "junit")
	require.NoError(t, err, "nothing to forget is not an error")
	require.Empty(t, removed)
	j, err = s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{archive}, j.Artifacts)
}

// ForgetArtifacts with no types removes all of them.
func testForgetAllArtifacts(t *testing.T, s StoreUnderTest) {
	archive := artifactRecord(1, 100, jobartifacts.ArtifactTypeArchive, nil)
	metadata := artifactRecord(1, 100, "metadata", at(time.Hour))
	jobWithArtifacts(t, s, at(time.Hour), archive, metadata)

	removed, err := s.ForgetArtifacts(t.Context(), 1, 100)
	require.NoError(t, err)
	require.ElementsMatch(t, []jobartifacts.Artifact{archive, metadata}, removed)
	j, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Empty(t, j.Artifacts)

	removed, err = s.ForgetArtifacts(t.Context(), 1, 100)
	require.NoError(t, err, "a job with nothing to forget is not an error")
	require.Empty(t, removed)
}

func testForgetArtifactsMissingJob(t *testing.T, s StoreUnderTest) {
	jobWithArtifacts(t, s, nil, artifactRecord(1, 100, jobartifacts.ArtifactTypeArchive, nil))
	_, err := s.ForgetArtifacts(t.Context(), 1, 999)
	requireNotFound(t, err)
	_, err = s.ForgetArtifacts(t.Context(), 2, 100)
	requireNotFound(t, err, "job 100 belongs to project 1")
	j, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Len(t, j.Artifacts, 1, "a refused forget changes nothing")
}

// ExpireProjectArtifacts: every artifact of the project's unkept jobs expires
// at now if it would expire later or never; kept jobs and other projects are
// untouched, and an earlier expiry is not pushed later.
func testExpireProjectArtifacts(t *testing.T, s StoreUnderTest) {
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
	}
	jobs := []seededJob{
		{1, 10, 100, false, []*time.Time{nil}, []*time.Time{&now}},
		{1, 10, 101, false, []*time.Time{at(time.Hour)}, []*time.Time{&now}},
		{1, 10, 102, false, []*time.Time{at(-time.Hour)}, []*time.Time{at(-time.Hour)}},
		{1, 11, 103, false, []*time.Time{at(-time.Minute), nil, at(time.Minute)}, []*time.Time{at(-time.Minute), &now, &now}},
		{1, 11, 104, true, []*time.Time{nil, at(time.Hour)}, []*time.Time{nil, at(time.Hour)}},
		{2, 20, 200, false, []*time.Time{nil, at(time.Hour)}, []*time.Time{nil, at(time.Hour)}},
	}
	types := []string{jobartifacts.ArtifactTypeArchive, "metadata", "junit"}
	for _, j := range jobs {
		var as []jobartifacts.Artifact
		for i, e := range j.expireAt {
			as = append(as, artifactRecord(j.project, j.id, types[i], e))
		}
		require.NoError(t, s.PutJob(t.Context(), jobartifacts.Job{
			ID: j.id, ProjectID: j.project, Pipeline: jobartifacts.Pipeline{ID: j.pipeline},
			Name: "build", Status: success, Artifacts: as, ArtifactsLocked: j.locked,
		}))
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
	}
}

func testExpireProjectArtifactsUnknownProject(t *testing.T, s StoreUnderTest) {
	twoProjects(t, s)
	requireNotFound(t, s.ExpireProjectArtifacts(t.Context(), 3, baseTime))
}

// seedExpiry seeds jobs across two projects for ExpiredArtifacts and returns
// the ids of those expired at baseTime.
func seedExpiry(t *testing.T, s StoreUnderTest) []int64 {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.project(2, "group/other")
	sd.pipeline(1, 10, "main", success)
	sd.pipeline(2, 20, "main", success)
	archive := func(project, job int64, expireAt *time.Time) jobartifacts.Artifact {
		return artifactRecord(project, job, jobartifacts.ArtifactTypeArchive, expireAt)
	}
	put := func(project, pipeline, id int64, locked bool, as ...jobartifacts.Artifact) {
		require.NoError(t, s.PutJob(t.Context(), jobartifacts.Job{
			ID: id, ProjectID: project, Pipeline: jobartifacts.Pipeline{ID: pipeline},
			Name: "build", Status: success, Artifacts: as, ArtifactsLocked: locked,
		}))
	}
	put(1, 10, 100, false, archive(1, 100, at(-time.Hour)))                                                // expired
	put(1, 10, 101, false, archive(1, 101, at(0)))                                                         // expires exactly now: not after now
	put(1, 10, 102, false, archive(1, 102, at(time.Millisecond)))                                          // not yet
	put(1, 10, 103, false, archive(1, 103, nil))                                                           // never
	put(1, 10, 104, true, archive(1, 104, at(-time.Hour)))                                                 // kept
	put(1, 10, 105, false, archive(1, 105, nil), artifactRecord(1, 105, "metadata", at(-time.Minute)))     // one of two expired
	put(1, 10, 106, false)                                                                                 // no artifacts
	put(2, 20, 200, false, archive(2, 200, at(-24*time.Hour)))                                             // other project, expired
	put(2, 20, 201, false, archive(2, 201, at(time.Hour)), artifactRecord(2, 201, "junit", at(time.Hour))) // not yet
	return []int64{100, 101, 105, 200}
}

// ExpiredArtifacts lists unkept jobs, across projects, with an artifact whose
// ExpireAt is not after now; limit <= 0 means no limit.
func testExpiredArtifacts(t *testing.T, s StoreUnderTest) {
	want := seedExpiry(t, s)
	for _, limit := range []int{0, -1, len(want), len(want) + 5} {
		jobs, err := s.ExpiredArtifacts(t.Context(), baseTime, limit)
		require.NoError(t, err)
		require.ElementsMatch(t, want, jobIDs(jobs), "limit %d", limit)
	}
}

// ExpiredArtifacts lists up to limit jobs.
func testExpiredArtifactsLimit(t *testing.T, s StoreUnderTest) {
	want := seedExpiry(t, s)
	for limit := 1; limit < len(want); limit++ {
		jobs, err := s.ExpiredArtifacts(t.Context(), baseTime, limit)
		require.NoError(t, err)
		require.Len(t, jobs, limit)
		require.Subset(t, want, jobIDs(jobs), "limit %d", limit)
	}
}

func jobIDs(jobs []*jobartifacts.Job) []int64 {
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}
