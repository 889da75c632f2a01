package clienttest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"testing"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/require"
	gitlab "gitlab.com/gitlab-org/api/client-go"
	"golang.org/x/oauth2"

	"github.com/ciartifacts/jobartifacts"
)

// credential is one way client-go authenticates: its own constructor and the
// header it makes.
type credential struct {
	name      string
	token     string
	newClient func(token string, opts ...gitlab.ClientOptionFunc) (*gitlab.Client, error)
}

func oauthClient(token string, opts ...gitlab.ClientOptionFunc) (*gitlab.Client, error) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})
	return gitlab.NewAuthSourceClient(gitlab.OAuthTokenSource{TokenSource: ts}, opts...)
}

var (
	personalMaintainer = credential{"PRIVATE-TOKEN (NewClient)", maintainerToken, gitlab.NewClient}
	deployJob          = credential{"JOB-TOKEN (NewJobClient)", deployJobToken, gitlab.NewJobClient}
	oauthMaintainer    = credential{"Authorization: Bearer (NewAuthSourceClient+OAuthTokenSource)", oauthToken, oauthClient}
)

// client builds a client-go client for the fixture's server with retries off,
// so that an error status is seen once, as the server sent it.
func (f *fixture) client(t *testing.T, c credential) *gitlab.Client {
	t.Helper()
	gl, err := c.newClient(c.token,
		gitlab.WithBaseURL(f.server.URL),
		gitlab.WithoutRetries(),
		gitlab.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)
	return gl
}

// withQuery adds a query parameter that client-go's option structs lack
// (search_recent_successful_pipelines), through its own request hook.
func withQuery(key, value string) gitlab.RequestOptionFunc {
	return func(req *retryablehttp.Request) error {
		q := req.URL.Query()
		q.Set(key, value)
		req.URL.RawQuery = q.Encode()
		return nil
	}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

// projectIDs are the two forms of :id client-go sends: a number, and a
// namespaced path with dots, which it escapes as %2F and %2E.
var projectIDs = []struct {
	name string
	pid  any
}{
	{"numeric id", projectID},
	{"namespaced path", projectPath},
}

func TestClientGoDownloads(t *testing.T) {
	f := newFixture(t)
	for _, cred := range []credential{personalMaintainer, deployJob, oauthMaintainer} {
		for _, id := range projectIDs {
			t.Run(cred.name+"/"+id.name, func(t *testing.T) {
				gl := f.client(t, cred)
				jobs := gl.Jobs

				archive, resp, err := jobs.GetJobArtifacts(id.pid, olderBuildJobID)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, string(f.archive[olderBuildJobID]), readAll(t, archive))

				// Without search_recent_successful_pipelines the newest successful
				// pipeline decides, even though its build job failed.
				latest, _, err := jobs.DownloadArtifactsFile(id.pid, slashRef, &gitlab.DownloadArtifactsFileOptions{Job: ptr(buildJobName)})
				require.NoError(t, err)
				require.Equal(t, string(f.archive[newerBuildJobID]), readAll(t, latest))

				recent, _, err := jobs.DownloadArtifactsFile(id.pid, slashRef, &gitlab.DownloadArtifactsFileOptions{Job: ptr(buildJobName)},
					withQuery("search_recent_successful_pipelines", "true"))
				require.NoError(t, err)
				require.Equal(t, string(f.archive[olderBuildJobID]), readAll(t, recent))

				for _, entry := range []string{plainEntry, spacedEntry, unicodeEntry} {
					file, resp, err := jobs.DownloadSingleArtifactsFile(id.pid, olderBuildJobID, entry)
					require.NoError(t, err, entry)
					require.Equal(t, olderFiles[entry], readAll(t, file), entry)
					require.Equal(t, http.StatusOK, resp.StatusCode)

					file, _, err = jobs.DownloadSingleArtifactsFileByTagOrBranch(id.pid, slashRef, entry, &gitlab.DownloadArtifactsFileOptions{Job: ptr(buildJobName)})
					require.NoError(t, err, entry)
					require.Equal(t, newerFiles[entry], readAll(t, file), entry)

					file, _, err = jobs.DownloadSingleArtifactsFileByTagOrBranch(id.pid, slashRef, entry, &gitlab.DownloadArtifactsFileOptions{Job: ptr(buildJobName)},
						withQuery("search_recent_successful_pipelines", "true"))
					require.NoError(t, err, entry)
					require.Equal(t, olderFiles[entry], readAll(t, file), entry)
				}

				pdf, resp, err := jobs.DownloadSingleArtifactsFile(id.pid, pdfJobID, pdfEntry)
				require.NoError(t, err)
				require.Equal(t, pdfFiles[pdfEntry], readAll(t, pdf))
				require.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
			})
		}
	}
}

// TestClientGoProjectIDEncoding pins down how client-go spells a namespaced
// project id, and that the server accepts both spellings. When the artifact
// path needs escaping (space, non-ASCII), client-go's RawPath is not a valid
// encoding of its Path, so Go re-escapes the whole path from Path: the %2F
// and %2E of the project id become raw "/" and ".". GitLab itself would not
// route that form; our routes.go accepts it on purpose, so that the official
// Go client works for such paths.
func TestClientGoProjectIDEncoding(t *testing.T) {
	f := newFixture(t)
	gl := f.client(t, personalMaintainer)
	const escapedProject = "/api/v4/projects/my-group%2Fsub%2Egroup%2Fmy%2Eproject/"
	const rawProject = "/api/v4/projects/my-group/sub.group/my.project/"

	tests := []struct {
		name    string
		entry   string
		wantURI string
	}{
		{"plain path keeps the escaped id", plainEntry, escapedProject + "jobs/100/artifacts/plain.txt"},
		{"plus keeps the escaped id", "dir/sub+plus", ""}, // entry absent: only the URI form is asserted below
		{"space makes the id raw", spacedEntry, rawProject + "jobs/100/artifacts/dir/sub%20dir/file+1.txt"},
		{"unicode makes the id raw", unicodeEntry, rawProject + "jobs/100/artifacts/%C3%BCn%C3%AF%20c%C3%B6d%C3%A9/%C3%9F%20%E2%82%AC.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, resp, err := gl.Jobs.DownloadSingleArtifactsFile(projectPath, olderBuildJobID, tt.entry)
			if tt.wantURI == "" {
				// A missing entry is 404 whatever the spelling; what matters is
				// that the id stayed escaped, so the project was found.
				require.ErrorIs(t, err, gitlab.ErrNotFound)
				require.Equal(t, http.StatusNotFound, resp.StatusCode)
				require.Equal(t, "GET "+escapedProject+"jobs/100/artifacts/dir/sub+plus", f.requests.last())
				return
			}
			require.NoError(t, err)
			require.Equal(t, olderFiles[tt.entry], readAll(t, file))
			require.Equal(t, "GET "+tt.wantURI, f.requests.last())
		})
	}

	t.Run("ref with slash: raw on download, escaped on raw", func(t *testing.T) {
		_, _, err := gl.Jobs.DownloadArtifactsFile(projectPath, slashRef, &gitlab.DownloadArtifactsFileOptions{Job: ptr(buildJobName)})
		require.NoError(t, err)
		require.Equal(t, "GET "+escapedProject+"jobs/artifacts/feature/x/download?job=build", f.requests.last())

		_, _, err = gl.Jobs.DownloadSingleArtifactsFileByTagOrBranch(projectPath, slashRef, plainEntry, &gitlab.DownloadArtifactsFileOptions{Job: ptr(buildJobName)})
		require.NoError(t, err)
		require.Equal(t, "GET "+escapedProject+"jobs/artifacts/feature%2Fx/raw/plain.txt?job=build", f.requests.last())

		// With a space in the path everything goes raw: id, ref and path.
		_, _, err = gl.Jobs.DownloadSingleArtifactsFileByTagOrBranch(projectPath, slashRef, spacedEntry, &gitlab.DownloadArtifactsFileOptions{Job: ptr(buildJobName)})
		require.NoError(t, err)
		require.Equal(t, "GET "+rawProject+"jobs/artifacts/feature/x/raw/dir/sub%20dir/file+1.txt?job=build", f.requests.last())
	})
}

// expectedJob is the client's view of GitLab's Job entity for the seeded job
// j after it was kept: every field client-go decodes, from the seed.
func expectedJob(p jobartifacts.Project, j *jobartifacts.Job) *gitlab.Job {
	want := &gitlab.Job{
		AllowFailure: j.AllowFailure, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
		ErasedAt: j.ErasedAt, ArtifactsExpireAt: nil, TagList: j.TagList, ID: j.ID, Name: j.Name,
		Pipeline: gitlab.JobPipeline{ID: j.Pipeline.ID, ProjectID: j.Pipeline.ProjectID, Ref: j.Pipeline.Ref, Sha: j.Pipeline.SHA, Status: j.Pipeline.Status},
		Ref:      j.Ref, Stage: j.Stage, Status: j.Status, FailureReason: j.FailureReason, Tag: j.Tag, WebURL: j.WebURL,
		Project: &gitlab.Project{CIJobTokenScopeEnabled: p.CIJobTokenScopeEnabled},
	}
	if want.TagList == nil {
		want.TagList = []string{}
	}
	if j.Coverage != nil {
		want.Coverage = *j.Coverage
	}
	if j.Duration != nil {
		want.Duration = *j.Duration
	}
	if j.QueuedDuration != nil {
		want.QueuedDuration = *j.QueuedDuration
	}
	want.Artifacts = []gitlab.JobArtifact{}
	for _, a := range j.Artifacts {
		want.Artifacts = append(want.Artifacts, gitlab.JobArtifact{FileType: a.FileType, Filename: a.Filename, Size: a.Size, FileFormat: a.FileFormat})
		if a.FileType == jobartifacts.ArtifactTypeArchive {
			want.ArtifactsFile = gitlab.JobArtifactsFile{Filename: a.Filename, Size: a.Size}
		}
	}
	if r := j.Runner; r != nil {
		want.Runner = gitlab.JobRunner{ID: r.ID, Description: r.Description, Active: r.Active, IsShared: r.IsShared, Name: r.Name}
	}
	if c := j.Commit; c != nil {
		want.Commit = &gitlab.Commit{
			ID: c.ID, ShortID: c.ShortID, Title: c.Title, AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail,
			AuthoredDate: c.AuthoredDate, CommitterName: c.CommitterName, CommitterEmail: c.CommitterEmail,
			CommittedDate: c.CommittedDate, CreatedAt: c.CreatedAt, Message: c.Message, ParentIDs: c.ParentIDs, WebURL: c.WebURL,
		}
	}
	if u := j.User; u != nil {
		want.User = &gitlab.User{
			ID: u.ID, Username: u.Username, Name: u.Name, State: u.State, WebURL: u.WebURL, CreatedAt: u.CreatedAt,
			Bio: u.Bio, Bot: u.Bot, Location: u.Location, PublicEmail: u.PublicEmail, Linkedin: u.LinkedIn,
			Twitter: u.Twitter, WebsiteURL: u.WebsiteURL, Organization: u.Organization, JobTitle: u.JobTitle,
			AvatarURL: u.AvatarURL, Locked: u.Locked,
		}
	}
	return want
}

func TestClientGoKeepArtifacts(t *testing.T) {
	for _, cred := range []credential{personalMaintainer, oauthMaintainer} {
		for _, id := range projectIDs {
			for _, jobID := range []int64{olderBuildJobID, newerBuildJobID} {
				t.Run(fmt.Sprintf("%s/%s/job %d", cred.name, id.name, jobID), func(t *testing.T) {
					f := newFixture(t)
					seeded := f.jobs[jobID]
					require.NotNil(t, seeded.ArtifactsExpireAt, "the seed must expire for keep to matter")

					got, resp, err := f.client(t, cred).Jobs.KeepArtifacts(id.pid, jobID)
					require.NoError(t, err)
					require.Equal(t, http.StatusOK, resp.StatusCode)
					require.Equal(t, expectedJob(f.project, seeded), got)

					kept, err := f.store.Job(t.Context(), projectID, jobID)
					require.NoError(t, err)
					require.True(t, kept.ArtifactsLocked)
					require.Nil(t, kept.ArtifactsExpireAt)
				})
			}
		}
	}
}

func TestClientGoDeletes(t *testing.T) {
	for _, cred := range []credential{personalMaintainer, oauthMaintainer} {
		for _, id := range projectIDs {
			t.Run(cred.name+"/"+id.name, func(t *testing.T) {
				f := newFixture(t)
				jobs := f.client(t, cred).Jobs

				resp, err := jobs.DeleteArtifacts(id.pid, olderBuildJobID)
				require.NoError(t, err)
				require.Equal(t, http.StatusNoContent, resp.StatusCode)
				_, resp, err = jobs.GetJobArtifacts(id.pid, olderBuildJobID)
				require.ErrorIs(t, err, gitlab.ErrNotFound)
				require.Equal(t, http.StatusNotFound, resp.StatusCode)
				left, err := f.store.Job(t.Context(), projectID, olderBuildJobID)
				require.NoError(t, err)
				require.Len(t, left.Artifacts, 1, "only the log survives")
				require.Equal(t, jobartifacts.ArtifactTypeTrace, left.Artifacts[0].FileType)

				// Deleting again is still 204.
				resp, err = jobs.DeleteArtifacts(id.pid, olderBuildJobID)
				require.NoError(t, err)
				require.Equal(t, http.StatusNoContent, resp.StatusCode)

				// A kept job survives the project-wide delete; an unkept one expires.
				_, _, err = jobs.KeepArtifacts(id.pid, newerBuildJobID)
				require.NoError(t, err)
				resp, err = jobs.DeleteProjectArtifacts(id.pid)
				require.NoError(t, err)
				require.Equal(t, http.StatusAccepted, resp.StatusCode)

				file, _, err := jobs.DownloadSingleArtifactsFile(id.pid, newerBuildJobID, spacedEntry)
				require.NoError(t, err)
				require.Equal(t, newerFiles[spacedEntry], readAll(t, file))
				_, resp, err = jobs.DownloadSingleArtifactsFile(id.pid, pdfJobID, pdfEntry)
				require.ErrorIs(t, err, gitlab.ErrNotFound)
				require.Equal(t, http.StatusNotFound, resp.StatusCode)
			})
		}
	}
}

// TestClientGoErrors checks each status client-go maps: 404 becomes its
// ErrNotFound sentinel, 401 and 403 an *ErrorResponse with the status and
// GitLab's message.
func TestClientGoErrors(t *testing.T) {
	f := newFixture(t)
	jobOpt := &gitlab.DownloadArtifactsFileOptions{Job: ptr(buildJobName)}
	reporter := credential{"reporter", reporterToken, gitlab.NewClient}
	tests := []struct {
		name    string
		cred    credential
		call    func(gitlab.JobsServiceInterface) (*gitlab.Response, error)
		status  int
		message string // client-go's rendering of the JSON body; empty for 404
	}{
		{"unknown personal token", credential{"bad", "glpat-unknown", gitlab.NewClient},
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.GetJobArtifacts(projectPath, olderBuildJobID)
				return r, err
			}, http.StatusUnauthorized, "{message: 401 Unauthorized}"},
		{"unknown job token", credential{"bad job", "glcbt-unknown", gitlab.NewJobClient},
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.DownloadSingleArtifactsFile(projectID, olderBuildJobID, plainEntry)
				return r, err
			}, http.StatusUnauthorized, "{message: 401 Unauthorized}"},
		{"unknown bearer token", credential{"bad oauth", "not-a-token", oauthClient},
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.DownloadArtifactsFile(projectID, slashRef, jobOpt)
				return r, err
			}, http.StatusUnauthorized, "{message: 401 Unauthorized}"},
		{"job token cannot keep", deployJob,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.KeepArtifacts(projectID, olderBuildJobID)
				return r, err
			}, http.StatusUnauthorized, "{message: 401 Unauthorized}"},
		{"job token cannot delete", deployJob,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				return j.DeleteArtifacts(projectPath, olderBuildJobID)
			}, http.StatusUnauthorized, "{message: 401 Unauthorized}"},
		{"job token outside the allowlist", deployJob,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.GetJobArtifacts(otherPath, otherJobID)
				return r, err
			}, http.StatusForbidden, "{message: 403 Forbidden - Authentication by CI/CD job token not allowed from " + path.Base(projectPath) + " to " + path.Base(otherPath) + ".}"},
		{"reporter cannot keep", reporter,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.KeepArtifacts(projectPath, olderBuildJobID)
				return r, err
			}, http.StatusForbidden, "{message: 403 Forbidden}"},
		{"reporter cannot delete a job's artifacts", reporter,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				return j.DeleteArtifacts(projectID, olderBuildJobID)
			}, http.StatusForbidden, "{message: 403 Forbidden}"},
		{"reporter cannot delete the project's artifacts", reporter,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				return j.DeleteProjectArtifacts(projectPath)
			}, http.StatusForbidden, "{message: 403 Forbidden}"},
		{"private project hidden from outsider", credential{"outsider", outsiderToken, gitlab.NewClient},
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.GetJobArtifacts(projectPath, olderBuildJobID)
				return r, err
			}, http.StatusNotFound, ""},
		{"missing project", personalMaintainer,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.GetJobArtifacts("no-such/project", olderBuildJobID)
				return r, err
			}, http.StatusNotFound, ""},
		{"missing job", personalMaintainer,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.GetJobArtifacts(projectID, 999)
				return r, err
			}, http.StatusNotFound, ""},
		{"job of another project", personalMaintainer,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.GetJobArtifacts(projectID, otherJobID)
				return r, err
			}, http.StatusNotFound, ""},
		{"missing entry", personalMaintainer,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.DownloadSingleArtifactsFile(projectPath, olderBuildJobID, "dir/sub dir/absent.txt")
				return r, err
			}, http.StatusNotFound, ""},
		{"ref without a successful pipeline", personalMaintainer,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.DownloadArtifactsFile(projectID, "main", jobOpt)
				return r, err
			}, http.StatusNotFound, ""},
		{"no recent successful job on the ref", personalMaintainer,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.DownloadSingleArtifactsFileByTagOrBranch(projectPath, slashRef, plainEntry,
					&gitlab.DownloadArtifactsFileOptions{Job: ptr("deploy")}, withQuery("search_recent_successful_pipelines", "true"))
				return r, err
			}, http.StatusNotFound, ""},
		{"keep a job without an archive", personalMaintainer,
			func(j gitlab.JobsServiceInterface) (*gitlab.Response, error) {
				_, r, err := j.KeepArtifacts(projectID, deployJobID)
				return r, err
			}, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.call(f.client(t, tt.cred).Jobs)
			require.Error(t, err)
			require.NotNil(t, resp)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.status == http.StatusNotFound {
				require.ErrorIs(t, err, gitlab.ErrNotFound)
				return
			}
			var errResp *gitlab.ErrorResponse
			require.True(t, errors.As(err, &errResp), "got %T: %v", err, err)
			require.True(t, errResp.HasStatusCode(tt.status))
			require.Equal(t, tt.message, errResp.Message)
			require.True(t, strings.HasPrefix(errResp.Response.Header.Get("Content-Type"), "application/json"))
		})
	}
}

// TestClientGoPercentInPathFailsInClient documents a client limit: client-go
// unescapes the path it built, so a bare "%" in an artifact path is an error
// before any request is sent. Numeric or path ids make no difference.
func TestClientGoPercentInPathFailsInClient(t *testing.T) {
	f := newFixture(t)
	gl := f.client(t, personalMaintainer)
	before := f.requests.last()
	for _, id := range projectIDs {
		_, resp, err := gl.Jobs.DownloadSingleArtifactsFile(id.pid, olderBuildJobID, "100%.txt")
		require.ErrorContains(t, err, "invalid URL escape")
		require.Nil(t, resp)
	}
	require.Equal(t, before, f.requests.last(), "no request reached the server")
}
