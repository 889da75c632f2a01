package jobartifacts_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// TestCacheControl pins Cache-Control and Vary on every route's success and
// error answers (issue 10, item 4). GitLab's API gets them from Rails'
// Rack::ETag: "max-age=0, private, must-revalidate" on the 200 and 201
// bodies it digests (JSON), "no-cache" on everything else, downloads
// included. Ours makes "no-cache" private unless the request carried no
// credential and its project is public, so that a shared cache never
// stores a response that not everyone may read (a missing and a hidden
// project alike: no header tells them apart), and varies on the credential
// headers.
func TestCacheControl(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	runner := newRunnerFixture(t)
	runJob, runToken := runner.addJob(runnerProjectID, jobartifacts.StatusRunning)

	const (
		json    = "max-age=0, private, must-revalidate"
		public  = "no-cache"
		private = "private, no-cache"
	)
	p1, p2 := "/api/v4/projects/1", "/api/v4/projects/2"
	reporter, maintainer := asUser(apiTokenReporter), asUser(apiTokenMaintainer)
	tests := []struct {
		name   string
		method string
		target string
		header http.Header
		status int
		want   string
	}{
		// Route 1.
		{name: "1 reporter", target: p1 + "/jobs/100/artifacts", header: reporter, status: 200, want: private},
		{name: "1 job_token query", target: p1 + "/jobs/100/artifacts?job_token=" + apiJobTokenOwn, status: 200, want: private},
		{name: "1 private_token query", target: p1 + "/jobs/100/artifacts?private_token=" + apiTokenReporter, status: 200, want: private},
		{name: "1 bearer", target: p1 + "/jobs/100/artifacts", header: headerOf("Authorization", "Bearer "+apiTokenReporter), status: 200, want: private},
		{name: "1 anonymous public", target: p2 + "/jobs/200/artifacts", status: 200, want: public},
		{name: "1 anonymous public HEAD", method: http.MethodHead, target: p2 + "/jobs/200/artifacts", status: 200, want: public},
		{name: "1 maintainer public", target: p2 + "/jobs/200/artifacts", header: maintainer, status: 200, want: private},
		{name: "1 anonymous private", target: p1 + "/jobs/100/artifacts", status: 404, want: private},
		{name: "1 anonymous missing project", target: "/api/v4/projects/999/jobs/1/artifacts", status: 404, want: private},
		{name: "1 anonymous public missing job", target: p2 + "/jobs/999/artifacts", status: 404, want: public},
		{name: "1 bad token", target: p2 + "/jobs/200/artifacts", header: asUser(apiTokenBad), status: 401, want: private},
		{name: "1 reporter no archive", target: p1 + "/jobs/103/artifacts", header: reporter, status: 404, want: private},
		{name: "1 anonymous public 304", target: p2 + "/jobs/200/artifacts", header: headerOf("If-None-Match", "*"), status: 304, want: public},
		{name: "1 reporter 206", target: p1 + "/jobs/100/artifacts", header: headerOf("PRIVATE-TOKEN", apiTokenReporter, "Range", "bytes=0-3"), status: 206, want: private},
		// Route 2.
		{name: "2 reporter", target: p1 + "/jobs/artifacts/main/download?job=test", header: reporter, status: 200, want: private},
		{name: "2 anonymous public", target: p2 + "/jobs/artifacts/main/download?job=build", status: 200, want: public},
		{name: "2 missing job param", target: p1 + "/jobs/artifacts/main/download", header: reporter, status: 400, want: private},
		{name: "2 reporter no such job", target: p1 + "/jobs/artifacts/main/download?job=nope", header: reporter, status: 404, want: private},
		// Route 3.
		{name: "3 reporter", target: p1 + "/jobs/100/artifacts/hello.txt", header: reporter, status: 200, want: private},
		{name: "3 anonymous public", target: p2 + "/jobs/200/artifacts/public.txt", status: 200, want: public},
		{name: "3 anonymous private", target: p1 + "/jobs/100/artifacts/hello.txt", status: 404, want: private},
		{name: "3 reporter missing entry", target: p1 + "/jobs/100/artifacts/nope.txt", header: reporter, status: 404, want: private},
		// Route 4.
		{name: "4 reporter", target: p1 + "/jobs/artifacts/main/raw/hello.txt?job=test", header: reporter, status: 200, want: private},
		{name: "4 anonymous public", target: p2 + "/jobs/artifacts/main/raw/public.txt?job=build", status: 200, want: public},
		{name: "4 anonymous public missing entry", target: p2 + "/jobs/artifacts/main/raw/nope.txt?job=build", status: 404, want: public},
		// Route 5.
		{name: "5 developer", method: http.MethodPost, target: p1 + "/jobs/106/artifacts/keep", header: asUser(apiTokenDeveloper), status: 200, want: json},
		{name: "5 reporter", method: http.MethodPost, target: p1 + "/jobs/106/artifacts/keep", header: reporter, status: 403, want: private},
		{name: "5 anonymous", method: http.MethodPost, target: p2 + "/jobs/200/artifacts/keep", status: 401, want: private},
		// Routes 6 and 7.
		{name: "6 maintainer", method: http.MethodDelete, target: p1 + "/jobs/102/artifacts", header: maintainer, status: 204, want: private},
		{name: "6 reporter", method: http.MethodDelete, target: p1 + "/jobs/102/artifacts", header: reporter, status: 403, want: private},
		{name: "7 reporter", method: http.MethodDelete, target: p1 + "/artifacts", header: reporter, status: 403, want: private},
		// Route 8.
		{name: "8 reporter", target: p1 + "/jobs/108/artifacts/tree", header: reporter, status: 200, want: json},
		{name: "8 anonymous public", target: p2 + "/jobs/200/artifacts/tree", status: 200, want: json},
		{name: "8 reporter missing path", target: p1 + "/jobs/108/artifacts/tree?path=nope", header: reporter, status: 404, want: private},
		{name: "8 bad page", target: p1 + "/jobs/108/artifacts/tree?page=x", header: reporter, status: 400, want: private},
		// Route 10.
		{name: "10 job token", target: "/api/v4/jobs/100/artifacts", header: headerOf("JOB-TOKEN", apiJobTokenOwn), status: 200, want: private},
		{name: "10 no token", target: "/api/v4/jobs/100/artifacts", status: 401, want: private},
		{name: "10 no archive", target: "/api/v4/jobs/103/artifacts", header: headerOf("JOB-TOKEN", apiJobTokenOwn), status: 404, want: private},
		// No route.
		{name: "unknown route anonymous", target: "/api/v4/nothing", status: 404, want: private},
		{name: "unknown route with token", target: "/api/v4/nothing", header: reporter, status: 404, want: private},
		{name: "wrong method with token", method: http.MethodPut, target: p1 + "/jobs/100/artifacts", header: maintainer, status: 404, want: private},
		{name: "OPTIONS with token", method: http.MethodOptions, target: p1 + "/jobs/100/artifacts", header: maintainer, status: 204, want: private},
		{name: "OPTIONS anonymous, runner path", method: http.MethodOptions, target: "/api/v4/jobs/100/artifacts", status: 204, want: private},
		// Last: it expires project 2's archives.
		{name: "7 maintainer", method: http.MethodDelete, target: "/api/v4/projects/2/artifacts", header: maintainer, status: 202, want: private},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			resp := f.do(t, method, tt.target, tt.header)
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			assert.Equal(t, []string{tt.want}, resp.header.Values("Cache-Control"))
			assert.Equal(t, "Authorization, Job-Token, Private-Token, Origin", resp.header.Get("Vary"))
		})
	}

	// Route 9, the runner's upload.
	resp := runner.postMultipart(fmt.Sprintf("/jobs/%d/artifacts", runJob), map[string]string{"JOB-TOKEN": runToken}, "file", "artifacts.zip", runnerZip("cache"))
	require.Equal(t, http.StatusCreated, resp.status)
	assert.Equal(t, json, resp.header.Get("Cache-Control"))
	resp = runner.postMultipart(fmt.Sprintf("/jobs/%d/artifacts", runJob), map[string]string{"JOB-TOKEN": "glcbt-wrong"}, "file", "artifacts.zip", runnerZip("cache"))
	require.Equal(t, http.StatusForbidden, resp.status)
	assert.Equal(t, private, resp.header.Get("Cache-Control"))
}

// anonymousReadsAll lets anonymous requests read every project: an
// Authorizer may open a private project to requests without credentials
// (a trusted network, say); its answers are still not for a shared cache.
type anonymousReadsAll struct{ jobartifacts.Authorizer }

func (a anonymousReadsAll) Authorize(ctx context.Context, p jobartifacts.Principal, action jobartifacts.Action, project *jobartifacts.Project, job *jobartifacts.Job) (jobartifacts.Decision, error) {
	if p == nil && action == jobartifacts.ActionReadArtifacts {
		return jobartifacts.Allow(), nil
	}
	return a.Authorizer.Authorize(ctx, p, action, project, job)
}

func TestCacheControlNonPublicProjectWithoutCredential(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{
		wrapAuthz: func(a jobartifacts.Authorizer) jobartifacts.Authorizer { return anonymousReadsAll{a} },
	})
	for _, target := range []string{
		"/api/v4/projects/1/jobs/100/artifacts",
		"/api/v4/projects/1/jobs/100/artifacts/hello.txt",
		"/api/v4/projects/1/jobs/artifacts/main/download?job=test",
		"/api/v4/projects/1/jobs/artifacts/main/raw/hello.txt?job=test",
	} {
		resp := f.do(t, http.MethodGet, target, nil)
		require.Equal(t, http.StatusOK, resp.status, "%s: %s", target, resp.body)
		assert.Equal(t, "private, no-cache", resp.header.Get("Cache-Control"), target)
	}
}

// TestCacheControlRedirect: a redirect to object storage carries a signed
// URL; it is private whenever the archive is.
func TestCacheControlRedirect(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{wrapStore: func(m *memstore.Store) jobartifacts.Store { return &urlStore{Store: m} }})
	resp := f.do(t, http.MethodGet, "/api/v4/projects/1/jobs/100/artifacts", asUser(apiTokenReporter))
	require.Equal(t, http.StatusFound, resp.status)
	assert.Equal(t, "private, no-cache", resp.header.Get("Cache-Control"))
	resp = f.do(t, http.MethodGet, "/api/v4/projects/2/jobs/200/artifacts", nil)
	require.Equal(t, http.StatusFound, resp.status)
	assert.Equal(t, "no-cache", resp.header.Get("Cache-Control"))
}
