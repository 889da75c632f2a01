package jobartifacts_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/logtest"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// apiNow is the fixed clock of every API fixture: expiry is decided against it.
var apiNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// Tokens of the fixture's principals. They are long and distinctive so that a
// test can prove none of them ever reaches a log.
const (
	apiTokenMaintainer = "glpat-maintainer-8b1f0c2d7e"
	apiTokenDeveloper  = "glpat-developer-3c9a4e5f61"
	apiTokenReporter   = "glpat-reporter-5d2e7f8a90"
	apiTokenGuest      = "glpat-guest-7e4f1a2b3c"
	apiTokenOutsider   = "glpat-outsider-9f6a3b4c5d"
	apiTokenExpired    = "glpat-expired-1a8b5c6d7e"
	apiTokenBad        = "glpat-not-a-real-token-000"

	apiJobTokenOwn      = "glcbt-own-project-2b7c9d0e1f"  // running job 107 of project 1
	apiJobTokenAllowed  = "glcbt-allowlisted-4d9e1f2a3b"  // running job 300 of project 3, allowlisted by project 1
	apiJobTokenDenied   = "glcbt-not-allowed-6f1a3b4c5d"  // running job 400 of project 4
	apiJobTokenFinished = "glcbt-finished-job-8a3b5c6d7e" // job 100, which succeeded: no longer valid
)

// Projects of the fixture.
const (
	apiProjectPrivate    = 1 // group/sub/my.proj, private, allowlists project 3
	apiProjectPublic     = 2 // public with public pipelines
	apiProjectAllowed    = 3 // other/allowed: its job tokens may read project 1
	apiProjectDenied     = 4 // other/denied: its job tokens may not
	apiProjectNoPipeline = 5 // public without public pipelines
	apiPrivatePath       = "group/sub/my.proj"
)

// apiOddArchive is job 100's archive: names that must be matched exactly,
// and one entry of each compression method served.
var apiOddArchive = []ziptest.Entry{
	ziptest.Deflated("hello.txt", "hello world\n"),
	ziptest.Deflated("a b.txt", "space in name\n"),
	ziptest.Deflated("a+b.txt", "plus in name\n"),
	ziptest.Deflated("pct%20.txt", "literal percent-two-zero\n"),
	ziptest.Deflated("dir with space/file name.txt", "nested with spaces\n"),
	ziptest.Deflated("ünï/日本.txt", "unicode name\n"),
	ziptest.Deflated("../evil.txt", "dot-dot entry\n"),
	ziptest.Deflated("evil.txt", "decoy evil\n"),
	ziptest.Deflated("a//b.txt", "double slash entry\n"),
	ziptest.Deflated("a/b.txt", "decoy a/b\n"),
	ziptest.Deflated("./c.txt", "dot slash entry\n"),
	ziptest.Deflated("c.txt", "decoy c\n"),
	{Name: "dir/"},
	ziptest.Deflated("dir/inner.txt", "inner\n"),
	ziptest.Stored("stored.bin", "stored bytes \x00\x01\x02"),
	{Name: "zstd.txt", Body: []byte(strings.Repeat("zstd compressed text ", 20)), Method: ziptest.Zstd},
	ziptest.Deflated("report.json", `{"ok":true}`),
	ziptest.Deflated("page.html", "<html><body>hi</body></html>\n"),
}

// apiTestArchive is job 101's archive, the newest successful "test" job on main.
var apiTestArchive = []ziptest.Entry{
	ziptest.Deflated("hello.txt", "hello from test\n"),
	ziptest.Deflated("dir/raw/file.txt", "raw in the path\n"),
	ziptest.Deflated("index.html", "<!DOCTYPE html><html><body>x</body></html>\n"),
	ziptest.Deflated("logo.svg", `<svg xmlns="http://www.w3.org/2000/svg"></svg>`),
}

// apiTreeArchive is job 108's archive, for the tree listing.
var apiTreeArchive = []ziptest.Entry{
	ziptest.Deflated("README.md", "# readme\n"),
	{Name: "bin/"},
	ziptest.Deflated("bin/app", "app\n"),
	ziptest.Deflated("docs/guide/intro.txt", "intro\n"),
	ziptest.Deflated("docs/index.html", "<html></html>\n"),
}

// apiFixture is a handler over a seeded memstore and a tokenauth Authorizer,
// served by httptest.
type apiFixture struct {
	store    *memstore.Store
	authz    *tokenauth.Authorizer
	server   *httptest.Server
	client   *http.Client
	logs     *logtest.Buffer
	archives map[int64][]byte // job id → archive bytes as stored
}

// apiFixtureConfig tunes newAPIFixture.
type apiFixtureConfig struct {
	// wrapStore replaces the Store the handler sees (the authorizer keeps
	// the memstore).
	wrapStore func(*memstore.Store) jobartifacts.Store
	// wrapAuthz replaces the Authorizer the handler sees.
	wrapAuthz func(jobartifacts.Authorizer) jobartifacts.Authorizer
	options   []jobartifacts.Option
	// wrapHandler, if set, wraps the Handler that the server serves.
	wrapHandler func(http.Handler) http.Handler
	// tls serves over HTTPS; http2 offers HTTP/2 there too.
	tls, http2 bool
}

// newAPIFixture seeds projects 1–5, their pipelines, jobs, users and job
// tokens (see the apiProject*, apiToken* constants and seedAPIFixture), and
// serves a Handler over them.
func newAPIFixture(t testing.TB, cfg apiFixtureConfig) *apiFixture {
	t.Helper()
	f := &apiFixture{
		store:    memstore.New(),
		logs:     &logtest.Buffer{},
		archives: make(map[int64][]byte),
	}
	f.authz = tokenauth.New(f.store, tokenauth.WithClock(func() time.Time { return apiNow }))
	f.seed(t)

	var store jobartifacts.Store = f.store
	if cfg.wrapStore != nil {
		store = cfg.wrapStore(f.store)
	}
	var authz jobartifacts.Authorizer = f.authz
	if cfg.wrapAuthz != nil {
		authz = cfg.wrapAuthz(f.authz)
	}
	opts := append([]jobartifacts.Option{
		jobartifacts.WithClock(func() time.Time { return apiNow }),
		jobartifacts.WithLogger(slog.New(slog.NewTextHandler(f.logs, nil))),
	}, cfg.options...)
	var handler http.Handler = jobartifacts.New(store, authz, opts...)
	if cfg.wrapHandler != nil {
		handler = cfg.wrapHandler(handler)
	}
	f.server = httptest.NewUnstartedServer(handler)
	if cfg.tls {
		f.server.EnableHTTP2 = cfg.http2
		f.server.StartTLS()
	} else {
		f.server.Start()
	}
	t.Cleanup(f.server.Close)
	client := *f.server.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f.client = &client
	return f
}

func ptr[T any](v T) *T { return &v }

func (f *apiFixture) seed(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	projects := []jobartifacts.Project{
		{ID: apiProjectPrivate, PathWithNamespace: apiPrivatePath, Visibility: "private", CIJobTokenScopeEnabled: true,
			JobTokenAllowlist: []int64{apiProjectAllowed}, WebURL: "https://gitlab.example.com/group/sub/my.proj"},
		{ID: apiProjectPublic, PathWithNamespace: "group/public-app", Visibility: "public", PublicPipelines: true},
		{ID: apiProjectAllowed, PathWithNamespace: "other/allowed", Visibility: "private"},
		{ID: apiProjectDenied, PathWithNamespace: "other/denied", Visibility: "private"},
		{ID: apiProjectNoPipeline, PathWithNamespace: "group/public-nopipes", Visibility: "public"},
	}
	for _, p := range projects {
		require.NoError(t, f.store.PutProject(ctx, p))
	}
	pipelineCreated := time.Date(2016, 1, 11, 10, 13, 30, 0, time.UTC)
	pipelines := []jobartifacts.Pipeline{
		{ID: 10, IID: 3, ProjectID: 1, SHA: "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd", Ref: "main", Status: "success",
			Source: "push", CreatedAt: &pipelineCreated, UpdatedAt: ptr(pipelineCreated.Add(2 * time.Minute)),
			WebURL: "https://gitlab.example.com/group/sub/my.proj/-/pipelines/10"},
		{ID: 11, ProjectID: 1, Ref: "main", Status: "success"},
		{ID: 12, ProjectID: 1, Ref: "feature/x", Status: "success"},
		{ID: 13, ProjectID: 1, Ref: "main", Status: "failed"}, // newest on main, but failed: never "latest successful"
		{ID: 14, ProjectID: 1, Ref: "expired-ref", Status: "success"},
		{ID: 20, ProjectID: 2, Ref: "main", Status: "success"},
		{ID: 30, ProjectID: 3, Ref: "main", Status: "running"},
		{ID: 40, ProjectID: 4, Ref: "main", Status: "running"},
		{ID: 50, ProjectID: 5, Ref: "main", Status: "success"},
	}
	for _, p := range pipelines {
		require.NoError(t, f.store.PutPipeline(ctx, p))
	}

	past := apiNow.Add(-time.Hour)
	job := func(id, project, pipeline int64, name, status string) jobartifacts.Job {
		return jobartifacts.Job{ID: id, ProjectID: project, Pipeline: jobartifacts.Pipeline{ID: pipeline}, Name: name, Status: status, Ref: "main"}
	}
	jobs := []jobartifacts.Job{
		job(100, 1, 10, "build", "success"),
		job(101, 1, 11, "test", "success"),
		job(102, 1, 12, "build", "success"),
		job(103, 1, 10, "lint", "success"),
		job(104, 1, 14, "build", "success"),
		job(105, 1, 10, "kept", "success"),
		apiFullJob(),
		job(107, 1, 10, "deploy", "running"),
		job(108, 1, 10, "docs", "success"),
		job(109, 1, 10, "unicode-name", "success"),
		job(113, 1, 13, "test", "success"),
		job(110, 1, 10, "artifacts-for-developers", "success"),
		job(111, 1, 10, "artifacts-for-nobody", "success"),
		job(112, 1, 10, "latin-name", "success"),
		job(114, 1, 10, "nameless", "success"),
		job(200, 2, 20, "build", "success"),
		job(300, 3, 30, "build", "running"),
		job(400, 4, 40, "build", "running"),
		job(500, 5, 50, "build", "success"),
	}
	byID := make(map[int64]jobartifacts.Job, len(jobs))
	for _, j := range jobs {
		switch j.ID {
		case 105:
			j.ArtifactsLocked = true // kept, so its expired archive is still available
		case 110:
			j.ArtifactsAccess = "developer"
		case 111:
			j.ArtifactsAccess = "none"
		}
		require.NoError(t, f.store.PutJob(ctx, j))
		byID[j.ID] = j
	}

	archives := []struct {
		job      jobartifacts.Job
		entries  []ziptest.Entry
		expireAt *time.Time
		filename string
	}{
		{job: byID[100], entries: apiOddArchive},
		{job: byID[101], entries: apiTestArchive},
		{job: byID[102], entries: []ziptest.Entry{ziptest.Deflated("feature.txt", "feature branch\n")}},
		{job: byID[104], entries: []ziptest.Entry{ziptest.Deflated("old.txt", "expired but not swept\n")}, expireAt: &past},
		{job: byID[105], entries: []ziptest.Entry{ziptest.Deflated("kept.txt", "kept forever\n")}, expireAt: &past},
		{job: byID[106], entries: []ziptest.Entry{ziptest.Deflated("rspec.xml", "<testsuites/>\n")}, expireAt: ptr(apiNow.Add(7 * 24 * time.Hour))},
		{job: byID[108], entries: apiTreeArchive},
		{job: byID[109], entries: []ziptest.Entry{ziptest.Deflated("x.txt", "x\n")}, filename: "日本.zip"},
		{job: byID[113], entries: []ziptest.Entry{ziptest.Deflated("hello.txt", "from a failed pipeline\n")}},
		{job: byID[110], entries: []ziptest.Entry{ziptest.Deflated("dev.txt", "developers only\n")}},
		{job: byID[111], entries: []ziptest.Entry{ziptest.Deflated("none.txt", "nobody\n")}},
		{job: byID[112], entries: []ziptest.Entry{ziptest.Deflated("x.txt", "x\n")}, filename: "résumé.zip"},
		{job: byID[114], entries: []ziptest.Entry{ziptest.Deflated("x.txt", "x\n")}, filename: "-"},
		{job: byID[200], entries: []ziptest.Entry{ziptest.Deflated("public.txt", "public artifact\n")}},
		{job: byID[500], entries: []ziptest.Entry{ziptest.Deflated("nopipes.txt", "no public pipelines\n")}},
	}
	for _, a := range archives {
		data := ziptest.Build(t, a.entries...)
		f.storeArtifact(t, a.job, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip",
			Filename: artifactFilename(a.filename), ExpireAt: a.expireAt}, data)
		f.archives[a.job.ID] = data
	}
	// Job 103 has a log but no archive; job 106 a log next to its archive.
	f.storeArtifact(t, byID[103], jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeTrace, FileFormat: "raw", Filename: "job.log"}, []byte("log\n"))
	f.storeArtifact(t, byID[106], jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeTrace, FileFormat: "raw", Filename: "job.log",
		ExpireAt: ptr(apiNow.Add(7 * 24 * time.Hour))}, []byte("rspec log\n"))

	users := []tokenauth.User{
		{Name: "maintainer", Tokens: []string{apiTokenMaintainer}, Roles: map[int64]tokenauth.Role{1: tokenauth.Maintainer, 2: tokenauth.Maintainer}},
		{Name: "developer", Tokens: []string{apiTokenDeveloper}, Roles: map[int64]tokenauth.Role{1: tokenauth.Developer}},
		{Name: "reporter", Tokens: []string{apiTokenReporter}, Roles: map[int64]tokenauth.Role{1: tokenauth.Reporter}},
		{Name: "guest", Tokens: []string{apiTokenGuest}, Roles: map[int64]tokenauth.Role{1: tokenauth.Guest}},
		{Name: "outsider", Tokens: []string{apiTokenOutsider}, Roles: map[int64]tokenauth.Role{3: tokenauth.Reporter}},
		{Name: "expired", Tokens: []string{apiTokenExpired}, ExpiresAt: &past, Roles: map[int64]tokenauth.Role{1: tokenauth.Maintainer}},
	}
	for _, u := range users {
		require.NoError(t, f.authz.AddUser(u))
	}
	for token, jobID := range map[string]int64{
		apiJobTokenOwn: 107, apiJobTokenAllowed: 300, apiJobTokenDenied: 400, apiJobTokenFinished: 100,
	} {
		require.NoError(t, f.authz.AddJobToken(token, jobID))
	}
}

// artifactFilename is the seeded archive's Filename: "" means the usual
// "artifacts.zip", "-" none at all.
func artifactFilename(name string) string {
	switch name {
	case "":
		return "artifacts.zip"
	case "-":
		return ""
	default:
		return name
	}
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// storeArtifact records data as an artifact of j through the library's own
// StoreArtifact, as an upload would.
func (f *apiFixture) storeArtifact(t testing.TB, j jobartifacts.Job, a jobartifacts.Artifact, data []byte) {
	t.Helper()
	_, err := jobartifacts.StoreArtifact(context.Background(), f.store, j.ProjectID, j.ID, a, bytes.NewReader(data))
	require.NoError(t, err)
}

// apiFullJob is job 106: every field of GitLab's Job entity set, failed.
func apiFullJob() jobartifacts.Job {
	created := time.Date(2016, 1, 11, 10, 13, 33, 506_000_000, time.UTC)
	cet := time.FixedZone("CET", 3600)
	return jobartifacts.Job{
		ID: 106, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10},
		Status: "failed", Stage: "test", Name: "rspec", Ref: "main", Tag: false,
		Coverage: ptr(87.5), AllowFailure: true,
		CreatedAt:  &created,
		StartedAt:  ptr(time.Date(2016, 1, 11, 11, 13, 34, 123_456_789, cet)), // 10:13:34.123Z
		FinishedAt: ptr(time.Date(2016, 1, 11, 10, 15, 10, 0, time.UTC)),
		Duration:   ptr(96.494), QueuedDuration: ptr(0.617),
		User: &jobartifacts.User{
			ID: 1, Username: "root", Name: "Administrator", State: "active", Locked: false,
			AvatarURL: "https://gravatar.example/avatar/root", WebURL: "https://gitlab.example.com/root",
			CreatedAt: ptr(time.Date(2015, 12, 21, 13, 14, 24, 77_000_000, time.UTC)),
			Bio:       "bio", Location: "Earth", PublicEmail: "root@example.com", LinkedIn: "in/root", Twitter: "@root",
			Discord: "root#1", WebsiteURL: "https://root.example", Organization: "Example", JobTitle: "Admin",
			Pronouns: "they/them", Bot: false, WorkInformation: "Admin at Example", Followers: 2, Following: 3,
			LocalTime: "12:00 PM",
		},
		Commit: &jobartifacts.Commit{
			ID: "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd", Title: "Test the CI integration.",
			Message: "Test the CI integration.\n", AuthorName: "Administrator", AuthorEmail: "admin@example.com",
			AuthoredDate:  ptr(time.Date(2016, 1, 11, 10, 13, 0, 0, time.UTC)),
			CommitterName: "Administrator", CommitterEmail: "admin@example.com",
			CommittedDate: ptr(time.Date(2016, 1, 11, 10, 13, 0, 0, time.UTC)),
			CreatedAt:     ptr(time.Date(2016, 1, 11, 10, 13, 0, 0, time.UTC)),
			ParentIDs:     []string{"1a0b36b3cdad1d2ee32457c102a8c0b7056fa863"},
			WebURL:        "https://gitlab.example.com/group/sub/my.proj/-/commit/0ff3ae19",
		},
		WebURL: "https://gitlab.example.com/group/sub/my.proj/-/jobs/106",
		Runner: &jobartifacts.Runner{ID: 32, Description: "shared runner", IPAddress: "10.0.0.5", Active: true,
			Paused: false, IsShared: true, RunnerType: "instance_type", Name: "gitlab-runner", Online: true, Status: "online"},
		RunnerManager: &jobartifacts.RunnerManager{ID: 1, SystemID: "s_89e5e9956577", Version: "16.11.1",
			Revision: "535ced5f", Platform: "linux", Architecture: "amd64",
			CreatedAt:   ptr(time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)),
			ContactedAt: ptr(time.Date(2024, 5, 1, 9, 5, 0, 250_000_000, time.UTC)),
			IPAddress:   "10.0.0.5", Status: "online"},
		TagList:       []string{"docker", "linux"},
		FailureReason: "script_failure",
	}
}

// apiResponse is what a client saw.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
	err    error // from the round trip or from reading the body
}

// send makes a request whose path and query go on the wire exactly as in
// target (nothing re-encoded, cleaned or normalised) and reads the answer.
func (f *apiFixture) send(method, target string, header http.Header) apiResponse {
	path, query, _ := strings.Cut(target, "?")
	req, err := http.NewRequest(method, f.server.URL, nil)
	if err != nil {
		return apiResponse{err: err}
	}
	req.URL.Opaque = path
	req.URL.RawQuery = query
	for k, vs := range header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return apiResponse{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: body, err: err}
}

// do is send for requests that must complete.
func (f *apiFixture) do(t testing.TB, method, target string, header http.Header) apiResponse {
	t.Helper()
	resp := f.send(method, target, header)
	require.NoError(t, resp.err, "%s %s", method, target)
	return resp
}

// headerOf builds request headers from name/value pairs.
func headerOf(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// errDiskOnFire is the distinctive internal error of the faulty store: it
// must reach the log and never a response body.
var errDiskOnFire = errors.New("disk on fire at /var/lib/secret/artifacts.db")

// faultyStore is a memstore whose named methods fail with a chosen error.
type faultyStore struct {
	*memstore.Store
	faults map[string]error
}

func (s *faultyStore) fault(method string) error { return s.faults[method] }

func (s *faultyStore) Project(ctx context.Context, id int64) (*jobartifacts.Project, error) {
	if err := s.fault("Project"); err != nil {
		return nil, err
	}
	return s.Store.Project(ctx, id)
}

func (s *faultyStore) ProjectByPath(ctx context.Context, path string) (*jobartifacts.Project, error) {
	if err := s.fault("ProjectByPath"); err != nil {
		return nil, err
	}
	return s.Store.ProjectByPath(ctx, path)
}

func (s *faultyStore) Job(ctx context.Context, projectID, jobID int64) (*jobartifacts.Job, error) {
	if err := s.fault("Job"); err != nil {
		return nil, err
	}
	return s.Store.Job(ctx, projectID, jobID)
}

func (s *faultyStore) LatestSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*jobartifacts.Job, error) {
	if err := s.fault("LatestSuccessfulJob"); err != nil {
		return nil, err
	}
	return s.Store.LatestSuccessfulJob(ctx, projectID, ref, name)
}

func (s *faultyStore) RecentSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*jobartifacts.Job, error) {
	if err := s.fault("RecentSuccessfulJob"); err != nil {
		return nil, err
	}
	return s.Store.RecentSuccessfulJob(ctx, projectID, ref, name)
}

func (s *faultyStore) KeepArtifacts(ctx context.Context, projectID, jobID int64, now time.Time) (*jobartifacts.Job, error) {
	if err := s.fault("KeepArtifacts"); err != nil {
		return nil, err
	}
	return s.Store.KeepArtifacts(ctx, projectID, jobID, now)
}

func (s *faultyStore) ForgetArtifacts(ctx context.Context, projectID, jobID int64, except ...string) ([]jobartifacts.Artifact, error) {
	if err := s.fault("ForgetArtifacts"); err != nil {
		return nil, err
	}
	return s.Store.ForgetArtifacts(ctx, projectID, jobID, except...)
}

func (s *faultyStore) ExpireProjectArtifacts(ctx context.Context, projectID int64, now time.Time) error {
	if err := s.fault("ExpireProjectArtifacts"); err != nil {
		return err
	}
	return s.Store.ExpireProjectArtifacts(ctx, projectID, now)
}

func (s *faultyStore) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	if err := s.fault("OpenBlob"); err != nil {
		return nil, err
	}
	return s.Store.OpenBlob(ctx, key)
}

func (s *faultyStore) DeleteBlob(ctx context.Context, key jobartifacts.BlobKey) error {
	if err := s.fault("DeleteBlob"); err != nil {
		return err
	}
	return s.Store.DeleteBlob(ctx, key)
}

// urlStore is a memstore that hands out object-storage URLs for blobs, or
// fails to with err.
type urlStore struct {
	*memstore.Store
	err error
}

func (s *urlStore) SignedURL(_ context.Context, key jobartifacts.BlobKey, opts jobartifacts.SignedURLOptions) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	return "https://objects.example.com/" + string(key) + "?method=" + cmpOr(opts.Method, "GET") +
		"&response-content-disposition=" + url.QueryEscape(opts.ContentDisposition), nil
}

// faultyAuthorizer is tokenauth with failures injected: Authenticate fails
// for authnFailToken, Authorize fails for authzFailProject.
type faultyAuthorizer struct {
	jobartifacts.Authorizer
	authnFailToken   string
	authzFailProject int64
	err              error
}

func (a *faultyAuthorizer) Authenticate(ctx context.Context, cred jobartifacts.Credential) (jobartifacts.Principal, error) {
	if cred.Token != "" && cred.Token == a.authnFailToken {
		return nil, a.err
	}
	return a.Authorizer.Authenticate(ctx, cred)
}

func (a *faultyAuthorizer) Authorize(ctx context.Context, p jobartifacts.Principal, action jobartifacts.Action, project *jobartifacts.Project, job *jobartifacts.Job) (jobartifacts.Decision, error) {
	if project != nil && project.ID == a.authzFailProject {
		return jobartifacts.Decision{}, a.err
	}
	return a.Authorizer.Authorize(ctx, p, action, project, job)
}
