package clienttest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// The seeded world. Project paths hold dots and a subgroup, the ref holds a
// slash, and archive entries hold spaces, "+" and non-ASCII letters, since
// those are what clients encode differently.
const (
	projectID       = 1
	projectPath     = "my-group/sub.group/my.project"
	otherProjectID  = 2
	otherPath       = "other-group/other.project"
	slashRef        = "feature/x"
	buildJobName    = "build"
	olderBuildJobID = 100 // success, in the older successful pipeline of slashRef
	pdfJobID        = 101 // success, same pipeline, never kept
	newerBuildJobID = 110 // failed (allowed to fail), in the newest successful pipeline of slashRef
	deployJobID     = 120 // running: its job token authenticates
	otherJobID      = 200 // in otherProject, whose job token allowlist is empty

	maintainerToken = "glpat-maintainer-token"
	oauthToken      = "oauth-access-token"
	reporterToken   = "glpat-reporter-token"
	outsiderToken   = "glpat-outsider-token"
	deployJobToken  = "glcbt-deploy-job-token"
)

// Archive entry names that need escaping in a URL in different ways.
const (
	plainEntry   = "plain.txt"
	spacedEntry  = "dir/sub dir/file+1.txt"
	unicodeEntry = "ünï cödé/ß €.txt"
	pdfEntry     = "some/release/file.pdf"
)

// olderFiles and newerFiles tell the two "build" jobs' archives apart, so a
// download shows which job the server picked.
var (
	olderFiles = map[string]string{plainEntry: "plain, older build\n", spacedEntry: "spaces and plus, older build\n", unicodeEntry: "unicode, older build\n"}
	newerFiles = map[string]string{plainEntry: "plain, newer build\n", spacedEntry: "spaces and plus, newer build\n", unicodeEntry: "unicode, newer build\n"}
	pdfFiles   = map[string]string{pdfEntry: "%PDF-1.4 release notes\n"}
)

// fixture is a handler on a real HTTP server, seeded with the world above,
// plus a log of the request URIs it received as they came off the wire.
type fixture struct {
	server   *httptest.Server
	store    *memstore.Store
	requests *requestLog
	// jobs are the seeded jobs as the store returned them after their
	// artifacts were recorded (sizes filled in).
	jobs    map[int64]*jobartifacts.Job
	project jobartifacts.Project
	archive map[int64][]byte
}

// requestLog records "METHOD request-URI" of each request, exactly as sent.
type requestLog struct {
	mu   sync.Mutex
	uris []string
}

func (l *requestLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uris = append(l.uris, s)
}

// last returns the most recent request line.
func (l *requestLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.uris) == 0 {
		return ""
	}
	return l.uris[len(l.uris)-1]
}

func ptr[T any](v T) *T { return &v }

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err) // the test's own constant
	}
	return &t
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	s := memstore.New()
	f := &fixture{store: s, requests: &requestLog{}, jobs: map[int64]*jobartifacts.Job{}, archive: map[int64][]byte{}}

	f.project = jobartifacts.Project{
		ID: projectID, PathWithNamespace: projectPath, Visibility: "private",
		CIJobTokenScopeEnabled: true, WebURL: "https://gitlab.example.com/" + projectPath,
	}
	require.NoError(t, s.PutProject(ctx, f.project))
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: otherProjectID, PathWithNamespace: otherPath, Visibility: "private"}))

	olderPipeline := jobartifacts.Pipeline{
		ID: 10, IID: 3, ProjectID: projectID, SHA: "0123456789abcdef0123456789abcdef01234567", Ref: slashRef,
		Status: jobartifacts.StatusSuccess, Source: "push",
		CreatedAt: at("2024-05-01T10:00:00.123Z"), UpdatedAt: at("2024-05-01T10:09:00.456Z"),
		WebURL: "https://gitlab.example.com/" + projectPath + "/-/pipelines/10",
	}
	for _, p := range []jobartifacts.Pipeline{
		olderPipeline,
		{ID: 11, IID: 4, ProjectID: projectID, SHA: "89abcdef0123456789abcdef0123456789abcdef", Ref: slashRef, Status: jobartifacts.StatusSuccess},
		{ID: 12, IID: 5, ProjectID: projectID, Ref: "main", Status: jobartifacts.StatusRunning},
		{ID: 20, IID: 1, ProjectID: otherProjectID, Ref: "main", Status: jobartifacts.StatusSuccess},
	} {
		require.NoError(t, s.PutPipeline(ctx, p))
	}

	// The older build job sets every field GitLab's Job entity carries, so
	// that the keep test can compare all of them.
	olderBuild := jobartifacts.Job{
		ID: olderBuildJobID, ProjectID: projectID, Pipeline: jobartifacts.Pipeline{ID: 10},
		Status: jobartifacts.StatusSuccess, Stage: "test", Name: buildJobName, Ref: slashRef,
		Coverage: ptr(87.5), CreatedAt: at("2024-05-01T10:00:01.001Z"), StartedAt: at("2024-05-01T10:00:05.250Z"),
		FinishedAt: at("2024-05-01T10:08:59.999Z"), Duration: ptr(534.749), QueuedDuration: ptr(4.249),
		User: &jobartifacts.User{
			ID: 7, Username: "jdoe", Name: "Jane Doe", State: "active", AvatarURL: "https://gitlab.example.com/avatar/7.png",
			WebURL: "https://gitlab.example.com/jdoe", CreatedAt: at("2020-01-02T03:04:05.678Z"), Bio: "builds things",
			Location: "Zürich", PublicEmail: "jdoe@example.com", LinkedIn: "jdoe-li", Twitter: "jdoe_tw", Discord: "jdoe#1",
			WebsiteURL: "https://jdoe.example.com", Organization: "Example Inc.", JobTitle: "Engineer", Pronouns: "she/her",
			WorkInformation: "Engineer at Example Inc.", Followers: 3, Following: 4, LocalTime: "10:00 AM",
		},
		Commit: &jobartifacts.Commit{
			ID: olderPipeline.SHA, ShortID: olderPipeline.SHA[:8], Title: "Add release notes",
			Message: "Add release notes\n\nWith details.", AuthorName: "Jane Doe", AuthorEmail: "jdoe@example.com",
			AuthoredDate: at("2024-04-30T09:00:00.000Z"), CommitterName: "John Roe", CommitterEmail: "jroe@example.com",
			CommittedDate: at("2024-04-30T09:30:00.500Z"), CreatedAt: at("2024-04-30T09:30:00.500Z"),
			ParentIDs: []string{"fedcba9876543210fedcba9876543210fedcba98"},
			WebURL:    "https://gitlab.example.com/" + projectPath + "/-/commit/" + olderPipeline.SHA,
		},
		WebURL: "https://gitlab.example.com/" + projectPath + "/-/jobs/100",
		Runner: &jobartifacts.Runner{
			ID: 33, Description: "shared runner", IPAddress: "10.0.0.3", Active: true, IsShared: true,
			RunnerType: "instance_type", Name: "gitlab-runner", Online: true, Status: "online",
		},
		RunnerManager: &jobartifacts.RunnerManager{ID: 44, SystemID: "s_0123456789ab", Version: "17.0.0", Revision: "abcdef12",
			Platform: "linux", Architecture: "amd64", Status: "online"},
		TagList: []string{"docker", "linux"},
	}
	jobs := []jobartifacts.Job{
		olderBuild,
		{ID: pdfJobID, ProjectID: projectID, Pipeline: jobartifacts.Pipeline{ID: 10}, Status: jobartifacts.StatusSuccess, Stage: "deploy", Name: "pdf", Ref: slashRef},
		{ID: newerBuildJobID, ProjectID: projectID, Pipeline: jobartifacts.Pipeline{ID: 11}, Status: jobartifacts.StatusFailed,
			Stage: "test", Name: buildJobName, Ref: slashRef, AllowFailure: true, FailureReason: "script_failure"},
		{ID: deployJobID, ProjectID: projectID, Pipeline: jobartifacts.Pipeline{ID: 12}, Status: jobartifacts.StatusRunning, Stage: "deploy", Name: "deploy", Ref: "main"},
		{ID: otherJobID, ProjectID: otherProjectID, Pipeline: jobartifacts.Pipeline{ID: 20}, Status: jobartifacts.StatusSuccess, Stage: "test", Name: buildJobName, Ref: "main"},
	}
	for _, j := range jobs {
		require.NoError(t, s.PutJob(ctx, j))
	}

	// Archives expire in the future, so that keeping them changes something.
	expiry := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Millisecond)
	for jobID, files := range map[int64]map[string]string{olderBuildJobID: olderFiles, pdfJobID: pdfFiles, newerBuildJobID: newerFiles, otherJobID: olderFiles} {
		project := int64(projectID)
		if jobID == otherJobID {
			project = otherProjectID
		}
		f.archive[jobID] = ziptest.Build(t, ziptest.Files(files)...)
		_, err := jobartifacts.StoreArtifact(ctx, s, project, jobID, jobartifacts.Artifact{
			FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip", ExpireAt: &expiry,
		}, bytes.NewReader(f.archive[jobID]))
		require.NoError(t, err)
	}
	// The older build also has a log and a metadata file, as real jobs do;
	// the metadata goes last so the job's expiry stays set (last upload decides).
	for _, a := range []jobartifacts.Artifact{
		{FileType: jobartifacts.ArtifactTypeTrace, FileFormat: "raw", Filename: "job.log"},
		{FileType: "metadata", FileFormat: "gzip", Filename: "metadata.gz", ExpireAt: &expiry},
	} {
		_, err := jobartifacts.StoreArtifact(ctx, s, projectID, olderBuildJobID, a, bytes.NewReader([]byte(a.FileType+" bytes")))
		require.NoError(t, err)
	}
	for _, j := range jobs {
		got, err := s.Job(ctx, j.ProjectID, j.ID)
		require.NoError(t, err)
		f.jobs[j.ID] = got
	}

	authz := tokenauth.New(s)
	for _, u := range []tokenauth.User{
		{Name: "maintainer", Tokens: []string{maintainerToken}, Roles: map[int64]tokenauth.Role{projectID: tokenauth.Maintainer, otherProjectID: tokenauth.Maintainer}},
		{Name: "oauth-user", Tokens: []string{oauthToken}, Roles: map[int64]tokenauth.Role{projectID: tokenauth.Maintainer}},
		{Name: "reporter", Tokens: []string{reporterToken}, Roles: map[int64]tokenauth.Role{projectID: tokenauth.Reporter}},
		{Name: "outsider", Tokens: []string{outsiderToken}},
	} {
		require.NoError(t, authz.AddUser(u))
	}
	require.NoError(t, authz.AddJobToken(deployJobToken, deployJobID))

	handler := jobartifacts.New(s, authz)
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.add(r.Method + " " + r.RequestURI)
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(f.server.Close)
	return f
}
