package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

func lookupCases() []metadataCase {
	return []metadataCase{
		{"ProjectByID", testProjectByID},
		{"ProjectByPath", testProjectByPath},
		{"ProjectRoundTrip", testProjectRoundTrip},
		{"JobOfProject", testJobOfProject},
		{"JobByID", testJobByID},
		{"JobRoundTrip", testJobRoundTrip},
		{"JobCarriesStoredPipeline", testJobCarriesStoredPipeline},
		{"ReturnedJobIsCopy", testReturnedJobIsCopy},
		{"StoredJobIsCopy", testStoredJobIsCopy},
		{"ProjectIsCopy", testProjectIsCopy},
	}
}

// Project returns the project with the given numeric id, or ErrNotFound.
func testProjectByID(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.project(2, "group/other")
	for _, id := range []int64{1, 2} {
		p, err := s.Project(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, id, p.ID)
	}
	_, err := s.Project(t.Context(), 3)
	requireNotFound(t, err)
}

// ProjectByPath: the full path equals path exactly, case-sensitive.
func testProjectByPath(t *testing.T, s MetadataUnderTest) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.project(2, "group/sub.dir/app.v2")
	sd.project(3, "Group/App")
	sd.project(4, "a/b/c/d/e")
	tests := []struct {
		path string
		want int64 // 0: not found
	}{
		{"group/app", 1},
		{"group/sub.dir/app.v2", 2},
		{"Group/App", 3},
		{"a/b/c/d/e", 4},
		{"GROUP/APP", 0},
		{"group/App", 0},
		{"group", 0},
		{"group/", 0},
		{"group/app/", 0},
		{"/group/app", 0},
		{"app", 0},
		{"group/sub.dir", 0},
		{"group/sub.dir/app", 0},
		{"group/sub.dir/app.v", 0},
		{"group/subxdir/app.v2", 0},
		{"a/b/c/d", 0},
		{"", 0},
	}
	for _, tc := range tests {
		p, err := s.ProjectByPath(t.Context(), tc.path)
		if tc.want == 0 {
			requireNotFound(t, err, "path %q", tc.path)
			continue
		}
		require.NoError(t, err, "path %q", tc.path)
		require.Equal(t, tc.want, p.ID, "path %q", tc.path)
		require.Equal(t, tc.path, p.PathWithNamespace)
	}
}

func testProjectRoundTrip(t *testing.T, s MetadataUnderTest) {
	want := jobartifacts.Project{
		ID:                     7,
		PathWithNamespace:      "group/sub/app",
		Visibility:             "internal",
		PublicPipelines:        true,
		CIJobTokenScopeEnabled: true,
		JobTokenAllowlist:      []int64{3, 9},
		WebURL:                 "https://gitlab.example.com/group/sub/app",
	}
	require.NoError(t, s.PutProject(t.Context(), want))
	byID, err := s.Project(t.Context(), 7)
	require.NoError(t, err)
	require.Equal(t, want, *byID)
	byPath, err := s.ProjectByPath(t.Context(), "group/sub/app")
	require.NoError(t, err)
	require.Equal(t, want, *byPath)
}

// Job: a job that exists but belongs to another project is ErrNotFound.
func testJobOfProject(t *testing.T, s MetadataUnderTest) {
	twoProjects(t, s)
	tests := []struct {
		project, job int64
		found        bool
	}{
		{1, 100, true},
		{2, 200, true},
		{2, 100, false},
		{1, 200, false},
		{1, 999, false},
		{3, 100, false},
	}
	for _, tc := range tests {
		j, err := s.Job(t.Context(), tc.project, tc.job)
		if !tc.found {
			requireNotFound(t, err, "Job(%d, %d)", tc.project, tc.job)
			continue
		}
		require.NoError(t, err, "Job(%d, %d)", tc.project, tc.job)
		require.Equal(t, tc.job, j.ID)
		require.Equal(t, tc.project, j.ProjectID)
	}
}

// JobByID returns a job by its id alone, whatever its project.
func testJobByID(t *testing.T, s MetadataUnderTest) {
	twoProjects(t, s)
	for _, want := range []struct{ project, job int64 }{{1, 100}, {2, 200}} {
		j, err := s.JobByID(t.Context(), want.job)
		require.NoError(t, err)
		require.Equal(t, want.job, j.ID)
		require.Equal(t, want.project, j.ProjectID)
	}
	_, err := s.JobByID(t.Context(), 999)
	requireNotFound(t, err)
}

// fullJob is a job with every field set, as stored under pipeline p.
func fullJob(p jobartifacts.Pipeline) jobartifacts.Job {
	coverage, duration, queued := 87.5, 12.25, 0.5
	return jobartifacts.Job{
		ID: 100, ProjectID: p.ProjectID, Pipeline: p,
		Status: jobartifacts.StatusFailed, Stage: "test", Name: "unit tests", Ref: "feature/x",
		Tag: true, Coverage: &coverage, AllowFailure: true,
		CreatedAt: at(-3600 * time.Second), StartedAt: at(-3000 * time.Second), FinishedAt: at(-2000 * time.Second), ErasedAt: at(-1000 * time.Second),
		Duration: &duration, QueuedDuration: &queued,
		User: &jobartifacts.User{
			ID: 5, Username: "jo", Name: "Jo", State: "active", AvatarURL: "https://a.example/jo.png",
			WebURL: "https://gitlab.example.com/jo", CreatedAt: at(-86400 * time.Second), Bio: "bio", Location: "here",
			PublicEmail: "jo@example.com", LinkedIn: "jo-li", Twitter: "jo-tw", Discord: "jo-dc",
			WebsiteURL: "https://jo.example", Organization: "org", JobTitle: "dev", Pronouns: "they/them",
			Bot: true, WorkInformation: "dev at org", Followers: 3, Following: 4, LocalTime: "10:00 AM",
			Locked: true,
		},
		Commit: &jobartifacts.Commit{
			ID: shaOf(10), ShortID: shaOf(10)[:8], Title: "Fix it", Message: "Fix it\n\nreally",
			AuthorName: "Jo", AuthorEmail: "jo@example.com", AuthoredDate: at(-7200 * time.Second),
			CommitterName: "Al", CommitterEmail: "al@example.com", CommittedDate: at(-7100 * time.Second),
			CreatedAt: at(-7000 * time.Second), ParentIDs: []string{shaOf(9), shaOf(8)}, WebURL: "https://c.example",
		},
		WebURL: "https://gitlab.example.com/group/app/-/jobs/100",
		Runner: &jobartifacts.Runner{
			ID: 8, Description: "shared", IPAddress: "10.0.0.1", Active: true, Paused: true,
			IsShared: true, RunnerType: "instance_type", Name: "r1", Online: true, Status: "online",
		},
		RunnerManager: &jobartifacts.RunnerManager{
			ID: 9, SystemID: "s_abc", Version: "17.0.0", Revision: "abc", Platform: "linux",
			Architecture: "amd64", CreatedAt: at(-5000 * time.Second), ContactedAt: at(-100 * time.Second), IPAddress: "10.0.0.2",
			Status: "online",
		},
		Archived:      true,
		TagList:       []string{"docker", "linux"},
		FailureReason: "script_failure",
		Artifacts: []jobartifacts.Artifact{
			artifactRecord(p.ProjectID, 100, archive, at(3600*time.Second)),
			artifactRecord(p.ProjectID, 100, "junit", nil),
		},
		ArtifactsExpireAt: at(3600 * time.Second),
		ArtifactsLocked:   true,
		ArtifactsAccess:   "developer",
	}
}

// fullPipeline is a pipeline with every field set.
func fullPipeline(projectID, id int64, status string) jobartifacts.Pipeline {
	return jobartifacts.Pipeline{
		ID: id, IID: id + 1000, ProjectID: projectID, SHA: shaOf(id), Ref: "feature/x",
		Status: status, Source: "merge_request_event", CreatedAt: at(-9000 * time.Second), UpdatedAt: at(-8000 * time.Second),
		WebURL: fmt.Sprintf("https://gitlab.example.com/group/app/-/pipelines/%d", id),
	}
}

// PutJob/Job: every field of the job comes back as stored.
func testJobRoundTrip(t *testing.T, s MetadataUnderTest) {
	seeder{t, s}.project(1, "group/app")
	pl := fullPipeline(1, 10, jobartifacts.StatusSuccess)
	require.NoError(t, s.PutPipeline(t.Context(), pl))
	want := fullJob(pl)
	require.NoError(t, s.PutJob(t.Context(), want))

	got, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, want, *got)
	got, err = s.JobByID(t.Context(), 100)
	require.NoError(t, err)
	require.Equal(t, want, *got)
}

// Seeder.PutJob: jobs read back carry the pipeline as last stored with
// PutPipeline, not the copy in j.
func testJobCarriesStoredPipeline(t *testing.T, s MetadataUnderTest) {
	seeder{t, s}.project(1, "group/app")
	pl := fullPipeline(1, 10, jobartifacts.StatusRunning)
	require.NoError(t, s.PutPipeline(t.Context(), pl))
	stale := pl
	stale.Ref, stale.Status, stale.SHA, stale.WebURL = "bogus", "bogus", "bogus", "bogus"
	stale.CreatedAt, stale.UpdatedAt = nil, nil
	require.NoError(t, s.PutJob(t.Context(), jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: stale, Name: "build"}))

	got, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, pl, got.Pipeline)

	pl.Status, pl.UpdatedAt = jobartifacts.StatusSuccess, at(0)
	require.NoError(t, s.PutPipeline(t.Context(), pl))
	got, err = s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, pl, got.Pipeline)
	got, err = s.JobByID(t.Context(), 100)
	require.NoError(t, err)
	require.Equal(t, pl, got.Pipeline)
	got, err = s.LatestSuccessfulJob(t.Context(), 1, "feature/x", "build")
	require.NoError(t, err)
	require.Equal(t, pl, got.Pipeline)
}

// seedFullJob stores fullJob under a full pipeline and returns it as stored.
func seedFullJob(t *testing.T, s MetadataUnderTest) jobartifacts.Job {
	seeder{t, s}.project(1, "group/app")
	pl := fullPipeline(1, 10, jobartifacts.StatusSuccess)
	require.NoError(t, s.PutPipeline(t.Context(), pl))
	j := fullJob(pl)
	require.NoError(t, s.PutJob(t.Context(), j))
	return fullJob(pl)
}

// mutateJob changes every part of j that a shallow copy would share.
func mutateJob(j *jobartifacts.Job) {
	j.Name = "changed"
	j.Pipeline.Ref = "changed"
	*j.Pipeline.CreatedAt = baseTime
	*j.Coverage = -1
	*j.CreatedAt = baseTime
	j.User.Name = "changed"
	*j.User.CreatedAt = baseTime
	j.Commit.ParentIDs[0] = "changed"
	*j.Commit.AuthoredDate = baseTime
	j.Runner.Name = "changed"
	*j.RunnerManager.ContactedAt = baseTime
	j.TagList[0] = "changed"
	j.Artifacts[0].Filename = "changed"
	*j.Artifacts[0].ExpireAt = baseTime
	*j.ArtifactsExpireAt = baseTime
	j.Artifacts = append(j.Artifacts[:1], artifactRecord(1, 100, "metadata", nil))
}

// Returned values are copies: changing a returned *Job does not change the
// store.
func testReturnedJobIsCopy(t *testing.T, s MetadataUnderTest) {
	want := seedFullJob(t, s)
	reads := []func() (*jobartifacts.Job, error){
		func() (*jobartifacts.Job, error) { return s.Job(t.Context(), 1, 100) },
		func() (*jobartifacts.Job, error) { return s.JobByID(t.Context(), 100) },
		func() (*jobartifacts.Job, error) {
			return s.LatestSuccessfulJob(t.Context(), 1, "feature/x", "unit tests")
		},
	}
	if pj, ok := s.(jobartifacts.ProjectJobReader); ok {
		reads = append(reads, func() (*jobartifacts.Job, error) {
			before, err := s.Project(t.Context(), 1)
			require.NoError(t, err)
			p, j, err := pj.ProjectJob(t.Context(), 1, 100)
			require.NoError(t, err)
			p.PathWithNamespace = "changed/by/caller"
			after, err := s.Project(t.Context(), 1)
			require.NoError(t, err)
			require.Equal(t, before, after, "after changing the project ProjectJob returned")
			return j, nil
		})
	}
	for i, read := range reads {
		got, err := read()
		require.NoError(t, err, "read %d", i)
		mutateJob(got)
		again, err := s.Job(t.Context(), 1, 100)
		require.NoError(t, err)
		require.Equal(t, want, *again, "after changing the job returned by read %d", i)
	}
}

// Values given to PutJob are copied: changing them afterwards does not
// change the store.
func testStoredJobIsCopy(t *testing.T, s MetadataUnderTest) {
	seeder{t, s}.project(1, "group/app")
	pl := fullPipeline(1, 10, jobartifacts.StatusSuccess)
	require.NoError(t, s.PutPipeline(t.Context(), pl))
	given := fullJob(pl)
	require.NoError(t, s.PutJob(t.Context(), given))
	mutateJob(&given)
	*pl.CreatedAt = baseTime
	got, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, fullJob(fullPipeline(1, 10, jobartifacts.StatusSuccess)), *got)
}

func testProjectIsCopy(t *testing.T, s MetadataUnderTest) {
	given := jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", JobTokenAllowlist: []int64{2, 3}}
	require.NoError(t, s.PutProject(t.Context(), given))
	given.JobTokenAllowlist[0] = 99
	got, err := s.Project(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, []int64{2, 3}, got.JobTokenAllowlist)
	got.JobTokenAllowlist[1] = 99
	got, err = s.ProjectByPath(t.Context(), "group/app")
	require.NoError(t, err)
	require.Equal(t, []int64{2, 3}, got.JobTokenAllowlist)
	if pj, ok := s.(jobartifacts.ProjectJobReader); ok {
		// No such job: the project comes back all the same.
		got, _, err = pj.ProjectJob(t.Context(), 1, 100)
		require.ErrorIs(t, err, jobartifacts.ErrNotFound)
		require.Equal(t, []int64{2, 3}, got.JobTokenAllowlist)
		got.JobTokenAllowlist[0] = 99
		got, err = s.Project(t.Context(), 1)
		require.NoError(t, err)
		require.Equal(t, []int64{2, 3}, got.JobTokenAllowlist, "after changing the project ProjectJob returned")
	}
}
