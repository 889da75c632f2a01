package jobartifacts_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// GitLab's own request spec for these routes,
// spec/requests/api/ci/job_artifacts_spec.rb (RSpec.describe
// API::Ci::JobArtifacts), replayed against the handler: every expectation
// that is observable over HTTP and within our model, each row naming its
// describe › context › it path. Left out: Workhorse's internal headers
// (Gitlab-Workhorse-Send-Data: we serve the bytes Workhorse would), stats
// refresh (409), CDN and send-url proxying, child pipelines, the
// non_public_artifacts feature flag, and "when job token scope is enabled ›
// does not allow downloading artifacts" (404 in that GitLab version, 403
// with GitLab's message in newer ones and ours: TestHandlerResponses).

const (
	specArtifact     = "other_artifacts_0.1.2/another-subdirectory/banana_sample.gif"
	specArchiveName  = "ci_build_artifacts.zip"
	specJob          = 120 // project 1, pipeline 10: "spec-build", ci_build_artifacts.zip
	specRefJob       = 121 // project 1, pipeline 11 (newest successful on main): "spec-ref"
	specNonPublicJob = 201 // project 2 (public, public pipelines): artifacts:access developer
	specNoArchiveJob = 103 // project 1: a log, no archive
	specPublicGuest  = "glpat-public-guest-31c4d5e6f7"
)

// newSpecFixture is the API fixture plus the jobs the spec's factories
// make (:artifacts is GitLab's ci_build_artifacts.zip, here with the entry
// the spec reads) and a guest of the public project.
func newSpecFixture(t *testing.T, cfg apiFixtureConfig) *apiFixture {
	t.Helper()
	f := newAPIFixture(t, cfg)
	ctx := context.Background()
	archive := ziptest.Build(t, ziptest.Deflated(specArtifact, "GIF89a banana"), ziptest.Deflated("ci_artifacts.txt", "artifacts\n"))
	for _, j := range []jobartifacts.Job{
		{ID: specJob, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "spec-build", Status: "success", Ref: "main"},
		{ID: specRefJob, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 11}, Name: "spec-ref", Status: "success", Ref: "main"},
		{ID: specNonPublicJob, ProjectID: 2, Pipeline: jobartifacts.Pipeline{ID: 20}, Name: "non-public", Status: "success", Ref: "main", ArtifactsAccess: "developer"},
	} {
		require.NoError(t, f.store.PutJob(ctx, j))
		f.storeArtifact(t, j, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: specArchiveName,
			ExpireAt: ptr(apiNow.AddDate(0, 0, 7))}, archive)
		f.archives[j.ID] = archive
	}
	require.NoError(t, f.authz.AddUser(tokenauth.User{Name: "public-guest", Tokens: []string{specPublicGuest}, Roles: map[int64]tokenauth.Role{2: tokenauth.Guest}}))
	return f
}

func TestGitLabJobArtifactsSpec(t *testing.T) {
	f := newSpecFixture(t, apiFixtureConfig{})
	p1, p2, p5 := "/api/v4/projects/1", "/api/v4/projects/2", "/api/v4/projects/5"
	developer, reporter, guest := asUser(apiTokenDeveloper), asUser(apiTokenReporter), asUser(apiTokenGuest)
	downloadHeaders := map[string]string{
		"Content-Transfer-Encoding": "binary",
		"Content-Disposition":       `attachment; filename="ci_build_artifacts.zip"; filename*=UTF-8''ci_build_artifacts.zip`,
	}
	tests := []struct {
		spec    string
		method  string
		target  string
		header  http.Header
		status  int
		headers map[string]string
		archive int64 // the body is this job's whole archive
		message bool  // the body is JSON with a "message"
	}{
		// describe 'GET /projects/:id/jobs/:job_id/artifacts/:artifact_path'
		{spec: "GET …/artifacts/:artifact_path › when job has artifacts › when user is anonymous › when project is public › allows to access artifacts",
			target: p2 + "/jobs/200/artifacts/public.txt", status: 200},
		{spec: "GET …/artifacts/:artifact_path › when job has artifacts › when user is anonymous › when project is public with artifacts that are non public › rejects access to artifacts",
			target: p2 + "/jobs/201/artifacts/" + specArtifact, status: 403},
		{spec: "GET …/artifacts/:artifact_path › when job has artifacts › when user is anonymous › when project is public with builds access disabled › rejects access to artifacts",
			target: p5 + "/jobs/500/artifacts/nopipes.txt", status: 403},
		{spec: "GET …/artifacts/:artifact_path › when job has artifacts › when user is anonymous › when project is private › rejects access and hides existence of artifacts",
			target: p1 + "/jobs/120/artifacts/" + specArtifact, status: 404},
		{spec: "GET …/artifacts/:artifact_path › when job has artifacts › when user is authorized › returns a specific artifact file for a valid path",
			target: p1 + "/jobs/120/artifacts/" + specArtifact, header: developer, status: 200},
		{spec: "GET …/artifacts/:artifact_path › when job has artifacts › when user is authorized › when artifacts are locked › allows access to expired artifact",
			target: p1 + "/jobs/105/artifacts/kept.txt", header: developer, status: 200},
		{spec: "GET …/artifacts/:artifact_path › when job does not have artifacts › does not return job artifact file",
			target: p1 + "/jobs/103/artifacts/some/artifact", header: developer, status: 404},

		// describe 'GET /projects/:id/jobs/:job_id/artifacts'
		{spec: "GET …/jobs/:job_id/artifacts › normal authentication › job with artifacts › when artifacts are stored locally › authorized user › downloads artifact › returns specific job artifacts",
			target: p1 + "/jobs/120/artifacts", header: developer, status: 200, headers: downloadHeaders, archive: specJob},
		{spec: "GET …/jobs/:job_id/artifacts › … › when job token is used › when job token scope is enabled › when project is added to the job token scope › downloads artifact",
			target: p1 + "/jobs/120/artifacts?job_token=" + apiJobTokenAllowed, status: 200, headers: downloadHeaders, archive: specJob},
		{spec: "GET …/jobs/:job_id/artifacts › … › when artifacts are stored locally › unauthorized user › does not return specific job artifacts",
			target: p1 + "/jobs/120/artifacts", status: 404},
		{spec: "GET …/jobs/:job_id/artifacts › … › when public project guest and artifacts are non public › rejects access and hides existence of artifacts",
			target: p2 + "/jobs/201/artifacts", header: asUser(specPublicGuest), status: 403},
		{spec: "GET …/jobs/:job_id/artifacts › normal authentication › job with artifacts › does not return job artifacts if not uploaded",
			target: p1 + "/jobs/103/artifacts", header: developer, status: 404},

		// describe 'GET /projects/:id/artifacts/:ref_name/download?job=name'
		{spec: "GET …/:ref_name/download?job=name › when not logged in › does not find a resource in a private project",
			target: p1 + "/jobs/artifacts/main/download?job=spec-ref", status: 404},
		{spec: "GET …/:ref_name/download?job=name › when logging as guest › gives 403",
			target: p1 + "/jobs/artifacts/main/download?job=spec-ref", header: guest, status: 403},
		{spec: "GET …/:ref_name/download?job=name › non-existing job › has no such ref › not found",
			target: p1 + "/jobs/artifacts/TAIL/download?job=spec-ref", header: reporter, status: 404},
		{spec: "GET …/:ref_name/download?job=name › non-existing job › has no such job › not found",
			target: p1 + "/jobs/artifacts/main/download?job=NOBUILD", header: reporter, status: 404},
		{spec: "GET …/:ref_name/download?job=name › find proper job › with regular branch › a valid file › when artifacts are stored locally",
			target: p1 + "/jobs/artifacts/main/download?job=spec-ref", header: reporter, status: 200, headers: downloadHeaders, archive: specRefJob},
		{spec: "GET …/:ref_name/download?job=name › find proper job › with branch name containing slash › a valid file",
			target: p1 + "/jobs/artifacts/feature/x/download?job=build", header: reporter, status: 200,
			headers: map[string]string{"Content-Transfer-Encoding": "binary"}},

		// describe 'GET id/jobs/artifacts/:ref_name/raw/*artifact_path?job=name'
		{spec: "GET …/:ref_name/raw/*artifact_path › when job has artifacts › when user is anonymous › when project is public › allows to access artifacts",
			target: p2 + "/jobs/artifacts/main/raw/public.txt?job=build", status: 200},
		{spec: "GET …/:ref_name/raw/*artifact_path › when job has artifacts › when user is anonymous › when project is public with builds access disabled › rejects access to artifacts",
			target: p5 + "/jobs/artifacts/main/raw/nopipes.txt?job=build", status: 403, message: true},
		{spec: "GET …/:ref_name/raw/*artifact_path › when job has artifacts › when user is anonymous › when project is public with non public artifacts › rejects access and hides existence of artifacts",
			target: p2 + "/jobs/artifacts/main/raw/" + specArtifact + "?job=non-public", status: 403, message: true},
		{spec: "GET …/:ref_name/raw/*artifact_path › when job has artifacts › when user is anonymous › when project is private › rejects access and hides existence of artifacts",
			target: p1 + "/jobs/artifacts/main/raw/" + specArtifact + "?job=spec-ref", status: 404, message: true},
		{spec: "GET …/:ref_name/raw/*artifact_path › when job has artifacts › when user is authorized › returns a specific artifact file for a valid path",
			target: p1 + "/jobs/artifacts/main/raw/" + specArtifact + "?job=spec-ref", header: developer, status: 200},
		{spec: "GET …/:ref_name/raw/*artifact_path › when job has artifacts › with branch name containing slash › returns a specific artifact file for a valid path",
			target: p1 + "/jobs/artifacts/feature/x/raw/feature.txt?job=build", header: developer, status: 200},
		{spec: "GET …/:ref_name/raw/*artifact_path › when job has artifacts › non-existing job › has no such ref › not found",
			target: p1 + "/jobs/artifacts/wrong-ref/raw/some/artifact?job=spec-ref", header: developer, status: 404},
		{spec: "GET …/:ref_name/raw/*artifact_path › when job has artifacts › non-existing job › has no such job › not found",
			target: p1 + "/jobs/artifacts/main/raw/some/artifact?job=wrong-job-name", header: developer, status: 404},
		{spec: "GET …/:ref_name/raw/*artifact_path › when job does not have artifacts › does not return job artifact file",
			target: p1 + "/jobs/artifacts/main/raw/some/artifact?job=lint", header: developer, status: 404},

		// describe 'POST /projects/:id/jobs/:job_id/artifacts/keep'
		{spec: "POST …/artifacts/keep › no artifacts › responds with not found",
			method: http.MethodPost, target: p1 + "/jobs/103/artifacts/keep", header: developer, status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			resp := f.do(t, method, tt.target, tt.header)
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			for k, v := range tt.headers {
				assert.Equal(t, v, resp.header.Get(k), k)
			}
			if tt.archive != 0 {
				assert.Equal(t, f.archives[tt.archive], resp.body)
			}
			if tt.message {
				assert.Contains(t, string(resp.body), `"message":`)
			}
		})
	}
}

// TestGitLabJobArtifactsSpecKeep: describe 'POST /projects/:id/jobs/:job_id/artifacts/keep'
// › artifacts did not expire › keeps artifacts: 200 and the job's expiry is gone.
func TestGitLabJobArtifactsSpecKeep(t *testing.T) {
	f := newSpecFixture(t, apiFixtureConfig{})
	resp := f.do(t, http.MethodPost, "/api/v4/projects/1/jobs/120/artifacts/keep", asUser(apiTokenDeveloper))
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
	j, err := f.store.Job(context.Background(), 1, specJob)
	require.NoError(t, err)
	require.Nil(t, j.ArtifactsExpireAt)
	a, ok := j.Archive()
	require.True(t, ok)
	require.Nil(t, a.ExpireAt)
}

// TestGitLabJobArtifactsSpecDeletes: describe 'DELETE /projects/:id/jobs/:job_id/artifacts'
// and describe 'DELETE /projects/:id/artifacts', when project is not
// undergoing stats refresh.
func TestGitLabJobArtifactsSpecDeletes(t *testing.T) {
	ctx := context.Background()
	artifacts := func(f *apiFixture, jobID int64) int {
		j, err := f.store.Job(ctx, 1, jobID)
		require.NoError(t, err)
		return len(j.Artifacts)
	}
	for _, tt := range []struct {
		spec   string
		header http.Header
		status int
		left   int
	}{
		{spec: "DELETE …/jobs/:job_id/artifacts › when user is anonymous › does not delete artifacts / returns status 401 (unauthorized)", status: 401, left: 1},
		{spec: "DELETE …/jobs/:job_id/artifacts › with developer › does not delete artifacts / returns status 403 (forbidden)", header: asUser(apiTokenDeveloper), status: 403, left: 1},
		{spec: "DELETE …/jobs/:job_id/artifacts › with authorized user › deletes artifacts / returns status 204 (no content)", header: asUser(apiTokenMaintainer), status: 204, left: 0},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			f := newSpecFixture(t, apiFixtureConfig{})
			resp := f.do(t, http.MethodDelete, "/api/v4/projects/1/jobs/120/artifacts", tt.header)
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			require.Equal(t, tt.left, artifacts(f, specJob))
		})
	}
	for _, tt := range []struct {
		spec    string
		header  http.Header
		status  int
		expired bool
	}{
		{spec: "DELETE …/:id/artifacts › when user is anonymous › does not execute the service / returns status 401 (unauthorized)", status: 401},
		{spec: "DELETE …/:id/artifacts › with developer › does not execute the service / returns status 403 (forbidden)", header: asUser(apiTokenDeveloper), status: 403},
		{spec: "DELETE …/:id/artifacts › with authorized user › executes the service / returns status 202 (accepted)", header: asUser(apiTokenMaintainer), status: 202, expired: true},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			f := newSpecFixture(t, apiFixtureConfig{})
			resp := f.do(t, http.MethodDelete, "/api/v4/projects/1/artifacts", tt.header)
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			// The service expires the project's artifacts: route 3 stops serving them.
			resp = f.do(t, http.MethodGet, "/api/v4/projects/1/jobs/120/artifacts/"+specArtifact, asUser(apiTokenDeveloper))
			if tt.expired {
				require.Equal(t, http.StatusNotFound, resp.status)
			} else {
				require.Equal(t, http.StatusOK, resp.status)
			}
		})
	}
}

// TestGitLabJobArtifactsSpecRemote: describe 'GET /projects/:id/jobs/:job_id/artifacts'
// › normal authentication › job with artifacts › when artifacts are stored
// remotely › when proxy download is disabled (a Store with BlobURLer).
func TestGitLabJobArtifactsSpecRemote(t *testing.T) {
	f := newSpecFixture(t, apiFixtureConfig{wrapStore: func(m *memstore.Store) jobartifacts.Store { return &urlStore{Store: m} }})
	// › returns location redirect / › authorized user › returns the file remote URL
	resp := f.do(t, http.MethodGet, "/api/v4/projects/1/jobs/120/artifacts", asUser(apiTokenDeveloper))
	require.Equal(t, http.StatusFound, resp.status)
	require.Contains(t, resp.header.Get("Location"), "https://objects.example.com/")
	// describe 'GET /projects/:id/artifacts/:ref_name/download?job=name' › find proper job ›
	// a valid file › when artifacts are stored remotely › returns location redirect
	resp = f.do(t, http.MethodGet, "/api/v4/projects/1/jobs/artifacts/main/download?job=spec-ref", asUser(apiTokenReporter))
	require.Equal(t, http.StatusFound, resp.status)
	// › unauthorized user › does not return specific job artifacts
	resp = f.do(t, http.MethodGet, "/api/v4/projects/1/jobs/120/artifacts", nil)
	require.Equal(t, http.StatusNotFound, resp.status)
}
