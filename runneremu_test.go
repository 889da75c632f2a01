package jobartifacts_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// runnerUserAgent is what GitLab Runner sends as its User-Agent.
const runnerUserAgent = "gitlab-runner 17.5.0 (17-5-stable; go1.22.7; linux/amd64)"

// runnerEmulator sends the requests GitLab Runner sends for artifacts
// (network/gitlab.go: UploadRawArtifacts, DownloadArtifacts).
type runnerEmulator struct {
	apiURL string // server URL + "/api/v4"
	client *http.Client
}

// runnerUploadOptions are the runner's artifact options; empty ones are not sent.
type runnerUploadOptions struct {
	artifactType   string
	artifactFormat string
	expireIn       string
	filename       string // default artifacts.zip
}

// runnerResponse is a response read to the end.
type runnerResponse struct {
	status int
	header http.Header
	body   []byte
}

// upload streams content as GitLab Runner does: a multipart body with one
// file field "file", written through a pipe so that it goes chunked with no
// Content-Length; query keys sorted by url.Values.Encode; JOB-TOKEN and
// X-Request-Id headers.
func (e runnerEmulator) upload(t testing.TB, jobID int64, token string, content io.Reader, opts runnerUploadOptions) runnerResponse {
	t.Helper()
	q := url.Values{}
	if opts.expireIn != "" {
		q.Set("expire_in", opts.expireIn)
	}
	if opts.artifactFormat != "" {
		q.Set("artifact_format", opts.artifactFormat)
	}
	if opts.artifactType != "" {
		q.Set("artifact_type", opts.artifactType)
	}
	filename := opts.filename
	if filename == "" {
		filename = "artifacts.zip"
	}
	pr, pw := io.Pipe()
	mpw := multipart.NewWriter(pw)
	go func() {
		part, err := mpw.CreateFormFile("file", filename)
		if err == nil {
			_, err = io.Copy(part, content)
		}
		if err == nil {
			err = mpw.Close()
		}
		pw.CloseWithError(err)
	}()
	u := fmt.Sprintf("%s/jobs/%d/artifacts", e.apiURL, jobID)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodPost, u, pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mpw.FormDataContentType())
	req.Header.Set("User-Agent", runnerUserAgent)
	req.Header.Set("X-Request-Id", fmt.Sprintf("req-%d-%d", jobID, time.Now().UnixNano()))
	if token != "" {
		req.Header.Set("JOB-TOKEN", token)
	}
	return e.do(t, req)
}

// download fetches a job's archive as the runner does for a dependency.
func (e runnerEmulator) download(t testing.TB, jobID int64, token string, direct bool) runnerResponse {
	t.Helper()
	u := fmt.Sprintf("%s/jobs/%d/artifacts", e.apiURL, jobID)
	if direct {
		u += "?direct_download=true"
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", runnerUserAgent)
	if token != "" {
		req.Header.Set("JOB-TOKEN", token)
	}
	return e.do(t, req)
}

func (e runnerEmulator) do(t testing.TB, req *http.Request) runnerResponse {
	t.Helper()
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return runnerResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// runnerTrackingStore is a memstore that remembers every blob key put, so tests
// can check that no unrecorded blob is left behind. With urls set it also
// hands out redirect URLs (jobartifacts.BlobURLer).
type runnerTrackingStore struct {
	*memstore.Store
	mu   sync.Mutex
	puts []jobartifacts.BlobKey
	// readerSums is, for each blob put through a jobartifacts.SHA256Reader,
	// the reader's hex sum once PutBlob returned.
	readerSums map[jobartifacts.BlobKey]string
	// jobLookupDelay, when set, holds the answer of every Job lookup that
	// long, which widens the window between an upload's check and its record.
	jobLookupDelay time.Duration
}

func (s *runnerTrackingStore) Job(ctx context.Context, projectID, jobID int64) (*jobartifacts.Job, error) {
	s.mu.Lock()
	delay := s.jobLookupDelay
	s.mu.Unlock()
	j, err := s.Store.Job(ctx, projectID, jobID)
	time.Sleep(delay)
	return j, err
}

func (s *runnerTrackingStore) PutBlob(ctx context.Context, key jobartifacts.BlobKey, r io.Reader) (jobartifacts.BlobInfo, error) {
	s.mu.Lock()
	s.puts = append(s.puts, key)
	s.mu.Unlock()
	info, err := s.Store.PutBlob(ctx, key, r)
	if sr, ok := r.(jobartifacts.SHA256Reader); ok && err == nil {
		s.mu.Lock()
		if s.readerSums == nil {
			s.readerSums = make(map[jobartifacts.BlobKey]string)
		}
		s.readerSums[key] = hex.EncodeToString(sr.SHA256())
		s.mu.Unlock()
	}
	return info, err
}

// runnerURLStore adds signed URLs to a runnerTrackingStore.
type runnerURLStore struct{ *runnerTrackingStore }

func (s runnerURLStore) SignedURL(_ context.Context, key jobartifacts.BlobKey, opts jobartifacts.SignedURLOptions) (string, error) {
	return "https://objects.example/" + string(key) + "?disposition=" + url.QueryEscape(opts.ContentDisposition), nil
}

// runnerFixture is a server with one private project (id 1, group/app), a
// second project (id 2, other/lib), and running jobs with job tokens.
type runnerFixture struct {
	t      testing.TB
	store  *runnerTrackingStore
	authz  *tokenauth.Authorizer
	srv    *httptest.Server
	runner runnerEmulator
	now    time.Time
	nextID int64
}

const (
	runnerProjectID       = 1
	runnerOtherProjectID  = 2
	runnerMaintainerToken = "glpat-maintainer"
)

func newRunnerFixture(t testing.TB, opts ...jobartifacts.Option) *runnerFixture {
	t.Helper()
	return newRunnerFixtureWith(t, false, opts...)
}

func newRunnerFixtureWith(t testing.TB, withURLs bool, opts ...jobartifacts.Option) *runnerFixture {
	t.Helper()
	ctx := context.Background()
	f := &runnerFixture{
		t:      t,
		store:  &runnerTrackingStore{Store: memstore.New()},
		now:    time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		nextID: 100,
	}
	for _, p := range []jobartifacts.Project{
		{ID: runnerProjectID, PathWithNamespace: "group/app", Visibility: "private"},
		{ID: runnerOtherProjectID, PathWithNamespace: "other/lib", Visibility: "private"},
	} {
		require.NoError(t, f.store.PutProject(ctx, p))
		require.NoError(t, f.store.PutPipeline(ctx, jobartifacts.Pipeline{ID: p.ID * 10, ProjectID: p.ID, Ref: "main", Status: jobartifacts.StatusRunning}))
	}
	f.authz = tokenauth.New(f.store)
	require.NoError(t, f.authz.AddUser(tokenauth.User{Name: "maint", Tokens: []string{runnerMaintainerToken}, Roles: map[int64]tokenauth.Role{runnerProjectID: tokenauth.Maintainer}}))
	var store jobartifacts.Store = f.store
	if withURLs {
		store = runnerURLStore{f.store}
	}
	opts = append([]jobartifacts.Option{jobartifacts.WithClock(func() time.Time { return f.now })}, opts...)
	f.srv = httptest.NewServer(jobartifacts.New(store, f.authz, opts...))
	t.Cleanup(f.srv.Close)
	client := f.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f.runner = runnerEmulator{apiURL: f.srv.URL + "/api/v4", client: client}
	return f
}

// addJob adds a job to the project with the given status and returns its id
// and job token.
func (f *runnerFixture) addJob(projectID int64, status string) (int64, string) {
	f.t.Helper()
	f.nextID++
	id := f.nextID
	require.NoError(f.t, f.store.PutJob(context.Background(), jobartifacts.Job{
		ID: id, ProjectID: projectID, Pipeline: jobartifacts.Pipeline{ID: projectID * 10},
		Name: fmt.Sprintf("job-%d", id), Stage: "build", Ref: "main", Status: status,
	}))
	token := tokenauth.GenerateJobToken()
	require.NoError(f.t, f.authz.AddJobToken(token, id))
	return id, token
}

// job reads a job back from the store.
func (f *runnerFixture) job(id int64) *jobartifacts.Job {
	f.t.Helper()
	j, err := f.store.JobByID(context.Background(), id)
	require.NoError(f.t, err)
	return j
}

// requireNoStrayBlobs checks that every blob ever put is either recorded as
// some job's artifact or gone.
func (f *runnerFixture) requireNoStrayBlobs(jobIDs ...int64) {
	f.t.Helper()
	recorded := make(map[jobartifacts.BlobKey]bool)
	for _, id := range jobIDs {
		for _, a := range f.job(id).Artifacts {
			recorded[a.Blob] = true
		}
	}
	f.store.mu.Lock()
	puts := append([]jobartifacts.BlobKey(nil), f.store.puts...)
	f.store.mu.Unlock()
	for _, key := range puts {
		if recorded[key] {
			continue
		}
		_, err := f.store.OpenBlob(context.Background(), key)
		require.ErrorIs(f.t, err, jobartifacts.ErrNotFound, "blob %s should have been removed", key)
	}
}

// get sends a GET to the API with a job token.
func (f *runnerFixture) get(rawPath, token string) runnerResponse {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.runner.apiURL+rawPath, nil)
	require.NoError(f.t, err)
	req.Header.Set("JOB-TOKEN", token)
	return f.runner.do(f.t, req)
}

// TestRunnerEmulatorCorpus uploads every archive of the zip corpus as GitLab
// Runner would, downloads it back through the runner route, and reads every
// servable entry through route 3, comparing SHA-256 with the manifest.
// Archives that cannot be opened must be refused with 400, storing nothing.
func TestRunnerEmulatorCorpus(t *testing.T) {
	rows := zipcorpus.Manifest(t)
	opens := make(map[string]bool)
	for _, row := range rows {
		if row.Entry == "*" {
			opens[row.File] = row.Expect == "opens"
		}
	}
	files := zipcorpus.Files(t)

	f := newRunnerFixture(t)
	jobs := make(map[string]int64)
	tokens := make(map[string]string)
	served := 0
	for _, name := range files {
		data, err := os.ReadFile(zipcorpus.Path(t, name))
		require.NoError(t, err)
		jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
		jobs[name], tokens[name] = jobID, token

		resp := f.runner.upload(t, jobID, token, strings.NewReader(string(data)), runnerUploadOptions{artifactFormat: "zip", artifactType: "archive", expireIn: "1 week"})
		if !opens[name] {
			require.Equal(t, http.StatusBadRequest, resp.status, "%s: %s", name, resp.body)
			require.JSONEq(t, `{"message":"400 Bad request - invalid zip archive"}`, string(resp.body))
			_, has := f.job(jobID).Archive()
			require.False(t, has, "%s: nothing recorded", name)
			continue
		}
		require.Equal(t, http.StatusCreated, resp.status, "%s: %s", name, resp.body)
		require.Equal(t, "201", string(resp.body))

		got := f.runner.download(t, jobID, token, false)
		require.Equal(t, http.StatusOK, got.status, name)
		require.Equal(t, zipcorpus.SHA256(data), zipcorpus.SHA256(got.body), "%s: downloaded archive", name)
	}
	for _, row := range rows {
		// Route 8 shadows a root entry named "tree" on route 3, as in GitLab.
		if row.Entry == "*" || row.Expect != "serve" || row.Entry == "tree" {
			continue
		}
		path := fmt.Sprintf("/projects/%d/jobs/%d/artifacts/%s", runnerProjectID, jobs[row.File], url.PathEscape(row.Entry))
		resp := f.get(path, tokens[row.File])
		require.Equal(t, http.StatusOK, resp.status, "%s %q: %s", row.File, row.Entry, resp.body)
		require.Equal(t, row.SHA256, zipcorpus.SHA256(resp.body), "%s %q", row.File, row.Entry)
		served++
	}
	require.Positive(t, served)
	ids := make([]int64, 0, len(jobs))
	for _, id := range jobs {
		ids = append(ids, id)
	}
	f.requireNoStrayBlobs(ids...)
}
