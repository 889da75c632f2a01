package jobartifacts_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// runnerZip is a small valid archive.
func runnerZip(content string) []byte {
	return ziptest.MustBuild(ziptest.Files(map[string]string{"out/result.txt": content})...)
}

func TestUploadAuthentication(t *testing.T) {
	f := newRunnerFixture(t)
	running, runningToken := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	sibling, siblingToken := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	finished, finishedToken := f.addJob(runnerProjectID, jobartifacts.StatusSuccess)
	_, otherToken := f.addJob(runnerOtherProjectID, jobartifacts.StatusRunning)
	const forbidden = `{"message":"403 Forbidden"}`
	tests := []struct {
		name    string
		path    string
		header  map[string]string
		status  int
		body    string
		stored  int64 // job that must have an archive afterwards, 0 for none
		checkID int64 // job that must have no archive afterwards
	}{
		{name: "no token", path: fmt.Sprintf("/jobs/%d/artifacts", running), status: 403, body: forbidden, checkID: running},
		{name: "unknown token", path: fmt.Sprintf("/jobs/%d/artifacts", running), header: map[string]string{"JOB-TOKEN": "glcbt-nope"}, status: 403, body: forbidden, checkID: running},
		{name: "unknown job", path: "/jobs/999999/artifacts", header: map[string]string{"JOB-TOKEN": runningToken}, status: 403, body: forbidden},
		{name: "job id not a number", path: "/jobs/abc/artifacts", header: map[string]string{"JOB-TOKEN": runningToken}, status: 403, body: forbidden},
		{name: "token of a sibling job", path: fmt.Sprintf("/jobs/%d/artifacts", sibling), header: map[string]string{"JOB-TOKEN": runningToken}, status: 403, body: forbidden, checkID: sibling},
		{name: "token of another project's job", path: fmt.Sprintf("/jobs/%d/artifacts", running), header: map[string]string{"JOB-TOKEN": otherToken}, status: 403, body: forbidden, checkID: running},
		{name: "finished job's own token", path: fmt.Sprintf("/jobs/%d/artifacts", finished), header: map[string]string{"JOB-TOKEN": finishedToken}, status: 403, body: forbidden, checkID: finished},
		{name: "personal token of a maintainer", path: fmt.Sprintf("/jobs/%d/artifacts", running), header: map[string]string{"PRIVATE-TOKEN": runnerMaintainerToken}, status: 403, body: forbidden, checkID: running},
		{name: "own token in header", path: fmt.Sprintf("/jobs/%d/artifacts", running), header: map[string]string{"JOB-TOKEN": runningToken}, status: 201, body: "201", stored: running},
		{name: "own token as token parameter", path: fmt.Sprintf("/jobs/%d/artifacts?token=%s", sibling, siblingToken), status: 201, body: "201", stored: sibling},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.postMultipart(tt.path, tt.header, "file", "artifacts.zip", runnerZip("auth"))
			require.Equal(t, tt.status, resp.status, string(resp.body))
			if tt.status == 201 {
				require.Equal(t, tt.body, string(resp.body))
			} else {
				require.JSONEq(t, tt.body, string(resp.body))
			}
			if tt.stored != 0 {
				_, ok := f.job(tt.stored).Archive()
				require.True(t, ok)
			}
			if tt.checkID != 0 {
				_, ok := f.job(tt.checkID).Archive()
				require.False(t, ok)
			}
		})
	}
	f.requireNoStrayBlobs(running, sibling, finished)
}

// allowAllAuthorizer lets every request through, so that the handler's own
// checks of the job show.
type allowAllAuthorizer struct{}

type allowAllPrincipal struct{}

func (allowAllPrincipal) Name() string { return "anyone" }

func (allowAllAuthorizer) Authenticate(context.Context, jobartifacts.Credential) (jobartifacts.Principal, error) {
	return allowAllPrincipal{}, nil
}

func (allowAllAuthorizer) Authorize(context.Context, jobartifacts.Principal, jobartifacts.Action, *jobartifacts.Project, *jobartifacts.Job) (jobartifacts.Decision, error) {
	return jobartifacts.Allow(), nil
}

func TestUploadJobMustRunEvenWhenAuthorizerAllows(t *testing.T) {
	f := newRunnerFixture(t)
	done, _ := f.addJob(runnerProjectID, jobartifacts.StatusFailed)
	erased, _ := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	j := f.job(erased)
	j.ErasedAt = &f.now
	require.NoError(t, f.store.PutJob(context.Background(), *j))
	srv := httptest.NewServer(jobartifacts.New(f.store, allowAllAuthorizer{}))
	t.Cleanup(srv.Close)
	f.runner.apiURL = srv.URL + "/api/v4"

	resp := f.postMultipart(fmt.Sprintf("/jobs/%d/artifacts", done), map[string]string{"JOB-TOKEN": "x"}, "file", "artifacts.zip", runnerZip("late"))
	require.Equal(t, http.StatusForbidden, resp.status)
	require.JSONEq(t, `{"message":"403 Forbidden - Job is not running"}`, string(resp.body))
	require.Equal(t, jobartifacts.StatusFailed, resp.header.Get("Job-Status"))

	resp = f.postMultipart(fmt.Sprintf("/jobs/%d/artifacts", erased), map[string]string{"JOB-TOKEN": "x"}, "file", "artifacts.zip", runnerZip("late"))
	require.Equal(t, http.StatusForbidden, resp.status)
	require.JSONEq(t, `{"message":"403 Forbidden - Job has been erased!"}`, string(resp.body))
	f.requireNoStrayBlobs(done, erased)
}

func TestUploadTypesAndFormats(t *testing.T) {
	gz := []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	tests := []struct {
		query  string
		data   []byte
		status int
		body   string
		stored string // the artifact type recorded on success
	}{
		{query: "", data: runnerZip("default"), status: 201, stored: "archive"},
		{query: "artifact_format=zip&artifact_type=archive", data: runnerZip("a"), status: 201, stored: "archive"},
		{query: "artifact_format=gzip&artifact_type=metadata", data: gz, status: 201, stored: "metadata"},
		{query: "artifact_format=gzip&artifact_type=junit", data: gz, status: 201, stored: "junit"},
		{query: "artifact_format=gzip&artifact_type=dotenv", data: gz, status: 201, stored: "dotenv"},
		{query: "artifact_format=raw&artifact_type=sast", data: []byte(`{}`), status: 201, stored: "sast"},
		{query: "artifact_format=zip&artifact_type=lsif", data: []byte("not checked"), status: 201, stored: "lsif"},
		{query: "artifact_format=raw&artifact_type=trace", data: []byte("log"), status: 201, stored: "trace"},
		{query: "artifact_format=gzip&artifact_type=trace", data: gz, status: 201, stored: "trace"},
		{query: "artifact_format=gzip&artifact_type=archive", data: gz, status: 400, body: `{"message":"Validation failed: Invalid file format with specified file type"}`},
		{query: "artifact_format=raw&artifact_type=junit", data: []byte("<x/>"), status: 400, body: `{"message":"Validation failed: Invalid file format with specified file type"}`},
		{query: "artifact_format=zip&artifact_type=dotenv", data: runnerZip("d"), status: 400, body: `{"message":"Validation failed: Invalid file format with specified file type"}`},
		{query: "artifact_type=bogus", data: runnerZip("b"), status: 400, body: `{"error":"artifact_type does not have a valid value"}`},
		{query: "artifact_format=rar", data: runnerZip("b"), status: 400, body: `{"error":"artifact_format does not have a valid value"}`},
		{query: "artifact_type=archive", data: []byte("not a zip at all"), status: 400, body: `{"message":"400 Bad request - invalid zip archive"}`},
		{query: "expire_in=1%20fortnight", data: runnerZip("e"), status: 400, body: `{"error":"expire_in is invalid"}`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			f := newRunnerFixture(t)
			jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
			path := fmt.Sprintf("/jobs/%d/artifacts", jobID)
			if tt.query != "" {
				path += "?" + tt.query
			}
			resp := f.postMultipart(path, map[string]string{"JOB-TOKEN": token}, "file", "upload.bin", tt.data)
			require.Equal(t, tt.status, resp.status, string(resp.body))
			job := f.job(jobID)
			if tt.status != 201 {
				require.JSONEq(t, tt.body, string(resp.body))
				require.Equal(t, "application/json", resp.header.Get("Content-Type"))
				require.Empty(t, job.Artifacts)
				f.requireNoStrayBlobs(jobID)
				return
			}
			require.Equal(t, "201", string(resp.body))
			require.Equal(t, "application/json", resp.header.Get("Content-Type"))
			require.Len(t, job.Artifacts, 1)
			a := job.Artifacts[0]
			require.Equal(t, tt.stored, a.FileType)
			require.Equal(t, "upload.bin", a.Filename)
			require.Equal(t, int64(len(tt.data)), a.Size)
			require.Equal(t, zipcorpus.SHA256(tt.data), a.SHA256)
		})
	}
}

func TestUploadExpireIn(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	tests := []struct {
		name     string
		query    string // "" = no expire_in
		opts     []jobartifacts.Option
		expireAt *time.Time
	}{
		{name: "absent: GitLab's 30 days", expireAt: at(30 * 24 * time.Hour)},
		{name: "absent: configured 2 days", opts: []jobartifacts.Option{jobartifacts.WithDefaultExpireIn(48 * time.Hour)}, expireAt: at(48 * time.Hour)},
		{name: "absent: configured never", opts: []jobartifacts.Option{jobartifacts.WithDefaultExpireIn(0)}},
		{name: "1 week", query: "expire_in=1+week", expireAt: at(7 * 24 * time.Hour)},
		{name: "2 hrs 20 min", query: "expire_in=2%20hrs%2020%20min", expireAt: at(2*time.Hour + 20*time.Minute)},
		{name: "never", query: "expire_in=never"},
		{name: "0", query: "expire_in=0"},
		{name: "empty is zero: never", query: "expire_in="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRunnerFixture(t, tt.opts...)
			jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
			path := fmt.Sprintf("/jobs/%d/artifacts", jobID)
			if tt.query != "" {
				path += "?" + tt.query
			}
			resp := f.postMultipart(path, map[string]string{"JOB-TOKEN": token}, "file", "artifacts.zip", runnerZip("x"))
			require.Equal(t, http.StatusCreated, resp.status, string(resp.body))
			job := f.job(jobID)
			a, ok := job.Archive()
			require.True(t, ok)
			require.Equal(t, tt.expireAt, a.ExpireAt)
			require.Equal(t, tt.expireAt, job.ArtifactsExpireAt, "the job's expiry follows the last upload")
		})
	}
}

func TestUploadSameTypeTwice(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	first := runnerZip("first")
	upload := func(data []byte) runnerResponse {
		return f.runner.upload(t, jobID, token, bytes.NewReader(data), runnerUploadOptions{artifactType: "archive", artifactFormat: "zip"})
	}
	require.Equal(t, http.StatusCreated, upload(first).status)
	original, _ := f.job(jobID).Archive()

	again := upload(first)
	require.Equal(t, http.StatusCreated, again.status, "identical bytes are accepted again")
	require.Equal(t, "201", string(again.body))
	kept, _ := f.job(jobID).Archive()
	require.Equal(t, original, kept, "the first upload's record is kept")

	other := upload(runnerZip("second"))
	require.Equal(t, http.StatusBadRequest, other.status)
	require.JSONEq(t, `{"message":"another artifact of the same type already exists"}`, string(other.body))
	kept, _ = f.job(jobID).Archive()
	require.Equal(t, original, kept)

	got := f.runner.download(t, jobID, token, false)
	require.Equal(t, http.StatusOK, got.status)
	require.Equal(t, first, got.body)
	f.requireNoStrayBlobs(jobID)
}

// TestUploadHandsStoreItsHash: the handler hashes an upload once and hands
// PutBlob a jobartifacts.SHA256Reader, whose sum is the recorded SHA-256.
func TestUploadHandsStoreItsHash(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	data := runnerZip("hashed once")
	resp := f.runner.upload(t, jobID, token, bytes.NewReader(data), runnerUploadOptions{artifactType: "archive", artifactFormat: "zip"})
	require.Equal(t, http.StatusCreated, resp.status)
	a, ok := f.job(jobID).Archive()
	require.True(t, ok)
	want := sha256.Sum256(data)
	require.Equal(t, hex.EncodeToString(want[:]), a.SHA256)
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	require.Equal(t, a.SHA256, f.store.readerSums[a.Blob], "PutBlob got a SHA256Reader with the same sum")
}

func TestUploadBody(t *testing.T) {
	valid := runnerZip("body")
	twoFiles := func() (string, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for range 2 {
			w, _ := mw.CreateFormFile("file", "artifacts.zip")
			_, _ = w.Write(valid)
		}
		_ = mw.Close()
		return mw.FormDataContentType(), buf.Bytes()
	}
	fieldOnly := func(field, filename string) func() (string, []byte) {
		return func() (string, []byte) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			if filename == "" {
				_ = mw.WriteField(field, string(valid))
			} else {
				w, _ := mw.CreateFormFile(field, filename)
				_, _ = w.Write(valid)
			}
			_ = mw.Close()
			return mw.FormDataContentType(), buf.Bytes()
		}
	}
	withExtraField := func() (string, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("accessibility", "ignored") // artifact_type, artifact_format and expire_in count: TestUploadFormFields
		w, _ := mw.CreateFormFile("file", "artifacts.zip")
		_, _ = w.Write(valid)
		_ = mw.Close()
		return mw.FormDataContentType(), buf.Bytes()
	}
	tests := []struct {
		name   string
		body   func() (contentType string, body []byte)
		status int
		want   string
	}{
		{name: "not multipart", body: func() (string, []byte) { return "application/zip", valid }, status: 400, want: `{"error":"file is missing"}`},
		{name: "no file field", body: fieldOnly("artifact", "artifacts.zip"), status: 400, want: `{"error":"file is missing"}`},
		{name: "file field without a file name", body: fieldOnly("file", ""), status: 400, want: `{"error":"file is invalid"}`},
		{name: "two file fields", body: twoFiles, status: 400, want: `{"error":"file is invalid"}`},
		{name: "broken multipart", body: func() (string, []byte) { return "multipart/form-data; boundary=xyz", []byte("--xyz\r\nbroken") }, status: 400, want: `{"message":"400 Bad request"}`},
		{name: "other fields are read past", body: withExtraField, status: 201, want: "201"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRunnerFixture(t)
			jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
			ct, body := tt.body()
			resp := f.post(fmt.Sprintf("/jobs/%d/artifacts", jobID), map[string]string{"JOB-TOKEN": token, "Content-Type": ct}, bytes.NewReader(body), int64(len(body)))
			require.Equal(t, tt.status, resp.status, string(resp.body))
			if tt.status == 201 {
				require.Equal(t, tt.want, string(resp.body))
				return
			}
			require.JSONEq(t, tt.want, string(resp.body))
			require.Empty(t, f.job(jobID).Artifacts)
			f.requireNoStrayBlobs(jobID)
		})
	}
}

func TestUploadTooLarge(t *testing.T) {
	const limit = 64 << 10
	big := bytes.Repeat([]byte("0123456789abcdef"), (limit/16)+1) // limit+16 bytes
	f := newRunnerFixture(t, jobartifacts.WithMaxUploadSize(limit))
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)

	// Chunked, as the runner sends it: found while streaming.
	resp := f.runner.upload(t, jobID, token, bytes.NewReader(big), runnerUploadOptions{artifactType: "archive"})
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.status)
	require.JSONEq(t, `{"message":"file size has reached maximum size limit"}`, string(resp.body))
	require.Empty(t, f.job(jobID).Artifacts)
	f.requireNoStrayBlobs(jobID)

	// A Content-Length far past the limit is refused before the body is read.
	resp = f.post(fmt.Sprintf("/jobs/%d/artifacts", jobID), map[string]string{"JOB-TOKEN": token, "Content-Type": "multipart/form-data; boundary=x"}, bytes.NewReader(make([]byte, limit+2<<20)), limit+2<<20)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.status)
	require.JSONEq(t, `{"message":"file size has reached maximum size limit"}`, string(resp.body))

	// Exactly the limit is accepted (a raw report needs no zip structure).
	exact := big[:limit]
	resp = f.runner.upload(t, jobID, token, bytes.NewReader(exact), runnerUploadOptions{artifactType: "sast", artifactFormat: "raw"})
	require.Equal(t, http.StatusCreated, resp.status, string(resp.body))
	f.requireNoStrayBlobs(jobID)
}

func TestRunnerDownload(t *testing.T) {
	f := newRunnerFixture(t)
	archive := runnerZip("download me")
	target, targetToken := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	require.Equal(t, http.StatusCreated, f.runner.upload(t, target, targetToken, bytes.NewReader(archive), runnerUploadOptions{}).status)
	j := f.job(target)
	j.Status = jobartifacts.StatusSuccess
	require.NoError(t, f.store.PutJob(context.Background(), *j))

	dependent, dependentToken := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	_, otherToken := f.addJob(runnerOtherProjectID, jobartifacts.StatusRunning)
	empty, _ := f.addJob(runnerProjectID, jobartifacts.StatusSuccess)
	_ = dependent

	tests := []struct {
		name   string
		jobID  int64
		token  string
		status int
		body   string
	}{
		{name: "no token", jobID: target, status: 401, body: `{"message":"401 Unauthorized"}`},
		{name: "unknown token", jobID: target, token: "glcbt-nope", status: 401, body: `{"message":"401 Unauthorized"}`},
		{name: "finished job's token", jobID: target, token: targetToken, status: 401, body: `{"message":"401 Unauthorized"}`},
		{name: "other project, not allowlisted", jobID: target, token: otherToken, status: 403, body: `{"message":"` + tokenauth.AllowlistMessage("lib", "app") + `"}`},
		{name: "unknown job", jobID: 999999, token: dependentToken, status: 403, body: `{"message":"403 Forbidden"}`},
		{name: "job without archive", jobID: empty, token: dependentToken, status: 404, body: `{"message":"404 Not Found"}`},
		{name: "same project", jobID: target, token: dependentToken, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.runner.download(t, tt.jobID, tt.token, false)
			require.Equal(t, tt.status, resp.status, string(resp.body))
			if tt.status == 200 {
				require.Equal(t, archive, resp.body)
				require.Equal(t, "application/octet-stream", resp.header.Get("Content-Type"))
				return
			}
			require.JSONEq(t, tt.body, string(resp.body))
		})
	}

	// Allowlisted: the other project's job token may read.
	p, err := f.store.Project(context.Background(), runnerProjectID)
	require.NoError(t, err)
	p.JobTokenAllowlist = []int64{runnerOtherProjectID}
	require.NoError(t, f.store.PutProject(context.Background(), *p))
	resp := f.runner.download(t, target, otherToken, false)
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	require.Equal(t, archive, resp.body)
}

func TestRunnerDownloadDirect(t *testing.T) {
	f := newRunnerFixtureWith(t, true)
	archive := runnerZip("direct")
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	require.Equal(t, http.StatusCreated, f.runner.upload(t, jobID, token, bytes.NewReader(archive), runnerUploadOptions{}).status)

	resp := f.runner.download(t, jobID, token, true)
	require.Equal(t, http.StatusFound, resp.status)
	a, _ := f.job(jobID).Archive()
	require.True(t, strings.HasPrefix(resp.header.Get("Location"), "https://objects.example/"+string(a.Blob)))

	resp = f.runner.download(t, jobID, token, false)
	require.Equal(t, http.StatusOK, resp.status, "without direct_download the bytes are proxied")
	require.Equal(t, archive, resp.body)
}

// postMultipart sends a one-part multipart body with a Content-Length.
func (f *runnerFixture) postMultipart(path string, header map[string]string, field, filename string, data []byte) runnerResponse {
	f.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, err := mw.CreateFormFile(field, filename)
	require.NoError(f.t, err)
	_, err = w.Write(data)
	require.NoError(f.t, err)
	require.NoError(f.t, mw.Close())
	h := map[string]string{"Content-Type": mw.FormDataContentType()}
	for k, v := range header {
		h[k] = v
	}
	return f.post(path, h, &buf, int64(buf.Len()))
}

// post sends a POST to the API with the given headers and body.
func (f *runnerFixture) post(path string, header map[string]string, body io.Reader, length int64) runnerResponse {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.runner.apiURL+path, body)
	require.NoError(f.t, err)
	req.ContentLength = length
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return f.runner.do(f.t, req)
}

// TestUploadSameTypeConcurrently races uploads of one type to one job: one
// is recorded, the identical ones are 201, the others 400, and no blob is
// left behind by a loser.
func TestUploadSameTypeConcurrently(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	f.store.mu.Lock()
	f.store.jobLookupDelay = 20 * time.Millisecond // let the uploads overlap
	f.store.mu.Unlock()
	const uploads = 8
	bodies := make([][]byte, uploads)
	for i := range bodies {
		bodies[i] = runnerZip(fmt.Sprintf("upload %d", i%2)) // two distinct archives
	}
	statuses := make([]int, uploads)
	errs := make([]error, uploads)
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			var buf bytes.Buffer
			mpw := multipart.NewWriter(&buf)
			part, err := mpw.CreateFormFile("file", "artifacts.zip")
			if err == nil {
				_, err = part.Write(bodies[i])
			}
			if err == nil {
				err = mpw.Close()
			}
			if err != nil {
				errs[i] = err
				return
			}
			req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/jobs/%d/artifacts", f.runner.apiURL, jobID), &buf)
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", mpw.FormDataContentType())
			req.Header.Set("JOB-TOKEN", token)
			resp, err := f.runner.client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			_ = resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	archive, ok := f.job(jobID).Archive()
	require.True(t, ok)
	got := f.runner.download(t, jobID, token, false)
	require.Equal(t, http.StatusOK, got.status)
	winner := -1
	for i, b := range bodies {
		if bytes.Equal(b, got.body) {
			winner = i % 2
		}
	}
	require.NotEqual(t, -1, winner, "the recorded archive is one of the uploads")
	require.Equal(t, int64(len(got.body)), archive.Size)
	for i, status := range statuses {
		if i%2 == winner {
			require.Equal(t, http.StatusCreated, status, "upload %d has the recorded bytes", i)
		} else {
			require.Equal(t, http.StatusBadRequest, status, "upload %d has other bytes", i)
		}
	}
	f.requireNoStrayBlobs(jobID)
}
