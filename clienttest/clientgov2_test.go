package clienttest

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"testing"

	"github.com/stretchr/testify/require"
	gitlabv2 "gitlab.com/gitlab-org/api/client-go/v2"
	"golang.org/x/oauth2"
)

// client-go's current major version, v2, against the same fixture as v1's
// tests. v2 changed the client's Go types (int64 ids, generic requests), not
// the requests it sends; these tests pin both down: the request line each
// method sends, and what the client makes of each answer.

// newClientV2 is one of v2's constructors: each sends its own credential.
type newClientV2 func(token string, opts ...gitlabv2.ClientOptionFunc) (*gitlabv2.Client, error)

func oauthClientV2(token string, opts ...gitlabv2.ClientOptionFunc) (*gitlabv2.Client, error) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})
	return gitlabv2.NewAuthSourceClient(gitlabv2.OAuthTokenSource{TokenSource: ts}, opts...)
}

// clientV2 builds a v2 client for the fixture's server, retries off.
func (f *fixture) clientV2(t *testing.T, token string, newClient newClientV2) gitlabv2.JobsServiceInterface {
	t.Helper()
	gl, err := newClient(token,
		gitlabv2.WithBaseURL(f.server.URL),
		gitlabv2.WithoutRetries(),
		gitlabv2.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)
	return gl.Jobs
}

// recentV2 asks for search_recent_successful_pipelines, which v2's option
// struct lacks too.
var recentV2 = gitlabv2.RequestOptionFunc(withQuery("search_recent_successful_pipelines", "true"))

func TestClientGoV2Downloads(t *testing.T) {
	const escapedProject = "/api/v4/projects/my-group%2Fsub%2Egroup%2Fmy%2Eproject/"
	const rawProject = "/api/v4/projects/my-group/sub.group/my.project/"
	f := newFixture(t)
	build := &gitlabv2.DownloadArtifactsFileOptions{Job: ptr(buildJobName)}
	tests := []struct {
		name      string
		token     string
		newClient newClientV2
		call      func(gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error)
		wantLine  string // the request line as it reached the server
		wantBody  string
		wantType  string // Content-Type, when the test cares
	}{
		{"whole archive, numeric id", maintainerToken, gitlabv2.NewClient,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.GetJobArtifacts(projectID, olderBuildJobID)
			}, "GET /api/v4/projects/1/jobs/100/artifacts", string(f.archive[olderBuildJobID]), "application/octet-stream"},
		{"whole archive, job token", deployJobToken, gitlabv2.NewJobClient,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.GetJobArtifacts(projectPath, olderBuildJobID)
			}, "GET " + escapedProject + "jobs/100/artifacts", string(f.archive[olderBuildJobID]), ""},
		{"archive by ref: the newest successful pipeline", oauthToken, oauthClientV2,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.DownloadArtifactsFile(projectPath, slashRef, build)
			}, "GET " + escapedProject + "jobs/artifacts/feature/x/download?job=build", string(f.archive[newerBuildJobID]), ""},
		{"archive by ref: the most recent successful job", maintainerToken, gitlabv2.NewClient,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.DownloadArtifactsFile(projectID, slashRef, build, recentV2)
			}, "GET /api/v4/projects/1/jobs/artifacts/feature/x/download?job=build&search_recent_successful_pipelines=true",
			string(f.archive[olderBuildJobID]), ""},
		{"entry by job, plain path keeps the escaped id", maintainerToken, gitlabv2.NewClient,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.DownloadSingleArtifactsFile(projectPath, olderBuildJobID, plainEntry)
			}, "GET " + escapedProject + "jobs/100/artifacts/plain.txt", olderFiles[plainEntry], ""},
		{"entry by job, a space makes the id raw", deployJobToken, gitlabv2.NewJobClient,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.DownloadSingleArtifactsFile(projectPath, olderBuildJobID, spacedEntry)
			}, "GET " + rawProject + "jobs/100/artifacts/dir/sub%20dir/file+1.txt", olderFiles[spacedEntry], ""},
		{"entry by job, non-ASCII", maintainerToken, gitlabv2.NewClient,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.DownloadSingleArtifactsFile(projectID, olderBuildJobID, unicodeEntry)
			}, "GET /api/v4/projects/1/jobs/100/artifacts/%C3%BCn%C3%AF%20c%C3%B6d%C3%A9/%C3%9F%20%E2%82%AC.txt", olderFiles[unicodeEntry], ""},
		{"entry by job, its content type", maintainerToken, gitlabv2.NewClient,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.DownloadSingleArtifactsFile(projectID, pdfJobID, pdfEntry)
			}, "GET /api/v4/projects/1/jobs/101/artifacts/some/release/file.pdf", pdfFiles[pdfEntry], "application/pdf"},
		{"entry by ref, escaped ref", maintainerToken, gitlabv2.NewClient,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.DownloadSingleArtifactsFileByTagOrBranch(projectPath, slashRef, plainEntry, build)
			}, "GET " + escapedProject + "jobs/artifacts/feature%2Fx/raw/plain.txt?job=build", newerFiles[plainEntry], ""},
		{"entry by ref, a space makes id and ref raw", oauthToken, oauthClientV2,
			func(j gitlabv2.JobsServiceInterface) (io.Reader, *gitlabv2.Response, error) {
				return j.DownloadSingleArtifactsFileByTagOrBranch(projectPath, slashRef, spacedEntry, build, recentV2)
			}, "GET " + rawProject + "jobs/artifacts/feature/x/raw/dir/sub%20dir/file+1.txt?job=build&search_recent_successful_pipelines=true",
			olderFiles[spacedEntry], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, resp, err := tt.call(f.clientV2(t, tt.token, tt.newClient))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, tt.wantLine, f.requests.last())
			require.Equal(t, tt.wantBody, readAll(t, body))
			if tt.wantType != "" {
				require.Equal(t, tt.wantType, resp.Header.Get("Content-Type"))
			}
		})
	}
}

// TestClientGoV2KeepArtifacts: v2 decodes the kept job into its own Job
// type as v1 does into v1's. The expectation is v1's (expectedJob), carried
// into v2's type through JSON, so a field that v2 reads differently, or
// reads where v1 has none, shows as a difference.
func TestClientGoV2KeepArtifacts(t *testing.T) {
	f := newFixture(t)
	seeded := f.jobs[olderBuildJobID]
	var want gitlabv2.Job
	b, err := json.Marshal(expectedJob(f.project, seeded))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &want))

	got, resp, err := f.clientV2(t, maintainerToken, gitlabv2.NewClient).KeepArtifacts(projectPath, olderBuildJobID)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "POST /api/v4/projects/my-group%2Fsub%2Egroup%2Fmy%2Eproject/jobs/100/artifacts/keep", f.requests.last())
	require.Equal(t, &want, got)
	kept, err := f.store.Job(t.Context(), projectID, olderBuildJobID)
	require.NoError(t, err)
	require.True(t, kept.ArtifactsLocked)
}

func TestClientGoV2Deletes(t *testing.T) {
	f := newFixture(t)
	jobs := f.clientV2(t, maintainerToken, gitlabv2.NewClient)

	resp, err := jobs.DeleteArtifacts(projectPath, olderBuildJobID)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, "DELETE /api/v4/projects/my-group%2Fsub%2Egroup%2Fmy%2Eproject/jobs/100/artifacts", f.requests.last())
	_, _, err = jobs.GetJobArtifacts(projectID, olderBuildJobID)
	require.ErrorIs(t, err, gitlabv2.ErrNotFound)

	resp, err = jobs.DeleteProjectArtifacts(projectID)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "DELETE /api/v4/projects/1/artifacts", f.requests.last())
	_, _, err = jobs.DownloadSingleArtifactsFile(projectID, pdfJobID, pdfEntry)
	require.ErrorIs(t, err, gitlabv2.ErrNotFound)
}

// TestClientGoV2Errors: 404 is v2's ErrNotFound; 401 and 403 an
// *ErrorResponse with GitLab's message, as in v1.
func TestClientGoV2Errors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name      string
		token     string
		newClient newClientV2
		call      func(gitlabv2.JobsServiceInterface) (*gitlabv2.Response, error)
		status    int
		message   string
	}{
		{"unknown token", "glpat-unknown", gitlabv2.NewClient,
			func(j gitlabv2.JobsServiceInterface) (*gitlabv2.Response, error) {
				_, r, err := j.GetJobArtifacts(projectID, olderBuildJobID)
				return r, err
			}, http.StatusUnauthorized, "{message: 401 Unauthorized}"},
		{"job token outside the allowlist", deployJobToken, gitlabv2.NewJobClient,
			func(j gitlabv2.JobsServiceInterface) (*gitlabv2.Response, error) {
				_, r, err := j.DownloadSingleArtifactsFile(otherPath, otherJobID, plainEntry)
				return r, err
			}, http.StatusForbidden, "{message: 403 Forbidden - Authentication by CI/CD job token not allowed from " + path.Base(projectPath) + " to " + path.Base(otherPath) + ".}"},
		{"reporter cannot keep", reporterToken, gitlabv2.NewClient,
			func(j gitlabv2.JobsServiceInterface) (*gitlabv2.Response, error) {
				_, r, err := j.KeepArtifacts(projectPath, olderBuildJobID)
				return r, err
			}, http.StatusForbidden, "{message: 403 Forbidden}"},
		{"missing entry", maintainerToken, gitlabv2.NewClient,
			func(j gitlabv2.JobsServiceInterface) (*gitlabv2.Response, error) {
				_, r, err := j.DownloadSingleArtifactsFileByTagOrBranch(projectPath, slashRef, "dir/absent.txt",
					&gitlabv2.DownloadArtifactsFileOptions{Job: ptr(buildJobName)})
				return r, err
			}, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.call(f.clientV2(t, tt.token, tt.newClient))
			require.Error(t, err)
			require.NotNil(t, resp)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.status == http.StatusNotFound {
				require.ErrorIs(t, err, gitlabv2.ErrNotFound)
				return
			}
			var errResp *gitlabv2.ErrorResponse
			require.True(t, errors.As(err, &errResp), "got %T: %v", err, err)
			require.Equal(t, tt.message, errResp.Message)
		})
	}
}

// TestClientGoV2PercentInPath records what v2 does with a bare "%" in an
// artifact path, which v1 refuses before sending (see
// TestClientGoPercentInPathFailsInClient).
func TestClientGoV2PercentInPath(t *testing.T) {
	f := newFixture(t)
	before := f.requests.last()
	_, resp, err := f.clientV2(t, maintainerToken, gitlabv2.NewClient).DownloadSingleArtifactsFile(projectID, olderBuildJobID, "100%.txt")
	require.ErrorContains(t, err, "invalid URL escape")
	require.Nil(t, resp)
	require.Equal(t, before, f.requests.last(), "no request reached the server")
}
