package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/zip"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/fsstore"
)

// Tokens the tests start the demo with.
const (
	testToken    = "glpat-test-maintainer"
	testJobToken = "glcbt-test-job-100"
)

// docsHost is the host of the URLs in GitLab's docs; the tests replace it
// with the test server's.
const docsHost = "https://gitlab.example.com"

// startDemo serves the demo from an fsstore in a fresh directory, as
// `server -demo` does.
func startDemo(t *testing.T) (*httptest.Server, seedStore) {
	t.Helper()
	store, err := fsstore.Open(t.TempDir(), fsstore.WithoutFsync())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	cfg := serveConfig{demo: true, token: testToken, jobToken: testJobToken}
	h, err := newServer(context.Background(), cfg, store, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts, store
}

// docsRequest is one example request of GitLab's Job Artifacts API docs,
// its URL exactly as the docs write it.
type docsRequest struct {
	name   string
	method string
	url    string
	header map[string]string
	status int
	check  func(t *testing.T, resp *http.Response, body []byte)
}

// TestDocsExamples runs every example request of GitLab's Job Artifacts API
// docs (newer versions use ref main, older ones master) against the demo, in
// the docs' order: keep before the deletes that follow it.
func TestDocsExamples(t *testing.T) {
	ts, _ := startDemo(t)
	_, pipelines, err := demoData()
	require.NoError(t, err)
	archives := map[int64][]byte{}
	for _, p := range pipelines {
		for _, j := range p.jobs {
			archives[j.job.ID] = j.archive
		}
	}
	private := map[string]string{"PRIVATE-TOKEN": testToken}
	jobHeader := map[string]string{"JOB-TOKEN": testJobToken}
	pdf := tinyPDF("Release notes of demo/project")

	isArchiveOf := func(jobID int64) func(*testing.T, *http.Response, []byte) {
		return func(t *testing.T, resp *http.Response, body []byte) {
			require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
			require.Contains(t, resp.Header.Get("Content-Disposition"), `filename="artifacts.zip"`)
			require.Equal(t, archives[jobID], body)
		}
	}
	isPDF := func(t *testing.T, resp *http.Response, body []byte) {
		require.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
		require.Equal(t, pdf, body)
	}
	treeHas := func(want ...string) func(*testing.T, *http.Response, []byte) {
		return func(t *testing.T, resp *http.Response, body []byte) {
			var entries []struct{ Path, Type string }
			require.NoError(t, json.Unmarshal(body, &entries))
			var paths []string
			for _, e := range entries {
				paths = append(paths, e.Path)
			}
			for _, w := range want {
				require.Contains(t, paths, w)
			}
		}
	}
	message := func(want string) func(*testing.T, *http.Response, []byte) {
		return func(t *testing.T, resp *http.Response, body []byte) {
			require.JSONEq(t, `{"message":`+jsonString(want)+`}`, string(body))
		}
	}

	requests := []docsRequest{
		// Get job artifacts (by job id).
		{name: "job archive, PRIVATE-TOKEN", url: "/api/v4/projects/1/jobs/42/artifacts", header: private, status: 200, check: isArchiveOf(42)},
		{name: "job archive, job_token=", url: "/api/v4/projects/1/jobs/42/artifacts?job_token=" + testJobToken, status: 200, check: isArchiveOf(42)},
		{name: "job archive, JOB-TOKEN", url: "/api/v4/projects/1/jobs/42/artifacts", header: jobHeader, status: 200, check: isArchiveOf(42)},
		{name: "job archive, encoded project path", url: "/api/v4/projects/demo%2Fproject/jobs/42/artifacts", header: private, status: 200, check: isArchiveOf(42)},
		// Download the artifacts archive (latest successful pipeline of a ref).
		{name: "ref archive main", url: "/api/v4/projects/1/jobs/artifacts/main/download?job=test", header: private, status: 200, check: isArchiveOf(43)},
		{name: "ref archive master", url: "/api/v4/projects/1/jobs/artifacts/master/download?job=test", header: private, status: 200, check: isArchiveOf(42)},
		{name: "ref archive, job_token=", url: "/api/v4/projects/1/jobs/artifacts/main/download?job=test&job_token=" + testJobToken, status: 200, check: isArchiveOf(43)},
		{name: "ref archive, JOB-TOKEN", url: "/api/v4/projects/1/jobs/artifacts/main/download?job=test", header: jobHeader, status: 200, check: isArchiveOf(43)},
		{name: "ref archive, recent pipelines", url: "/api/v4/projects/1/jobs/artifacts/main/download?job=test&search_recent_successful_pipelines=true", header: private, status: 200, check: isArchiveOf(43)},
		// Download a single artifact file by job id.
		{name: "file by job id", url: "/api/v4/projects/1/jobs/5/artifacts/some/release/file.pdf", header: private, status: 200, check: isPDF},
		// List the archive's files.
		{name: "tree", url: "/api/v4/projects/1/jobs/42/artifacts/tree", header: private, status: 200, check: treeHas("ci_build_artifacts.zip", "other_artifacts_0.1.2/")},
		{name: "tree of a directory", url: "/api/v4/projects/1/jobs/42/artifacts/tree?path=coverage/reports", header: private, status: 200, check: treeHas("coverage/reports/index.html", "coverage/reports/coverage.txt")},
		{name: "tree, recursive", url: "/api/v4/projects/1/jobs/42/artifacts/tree?recursive=true", header: private, status: 200, check: treeHas("junit.xml", "other_artifacts_0.1.2/README.txt", "coverage/reports/coverage.txt")},
		{name: "tree, job_token=", url: "/api/v4/projects/1/jobs/42/artifacts/tree?job_token=" + testJobToken, status: 200, check: treeHas("ci_build_artifacts.zip")},
		// Download a single artifact file by ref.
		{name: "file by ref main", url: "/api/v4/projects/1/jobs/artifacts/main/raw/some/release/file.pdf?job=pdf", header: private, status: 200, check: isPDF},
		{name: "file by ref master", url: "/api/v4/projects/1/jobs/artifacts/master/raw/some/release/file.pdf?job=pdf", header: private, status: 200, check: isPDF},
		{name: "file by ref, recent pipelines", url: "/api/v4/projects/1/jobs/artifacts/main/raw/some/release/file.pdf?job=pdf&search_recent_successful_pipelines=true", header: private, status: 200, check: isPDF},
		{name: "file by merge request ref", url: "/api/v4/projects/1/jobs/artifacts/refs/merge-requests/123/head/raw/file.txt?job=test", header: private, status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				require.Equal(t, "Built by the merge request pipeline of !123.\n", string(body))
			}},
		// Keep artifacts: the docs' example response.
		{name: "keep", method: http.MethodPost, url: "/api/v4/projects/1/jobs/1/artifacts/keep", header: private, status: 200, check: checkKeepResponse},
		// Delete job artifacts.
		{name: "delete job artifacts", method: http.MethodDelete, url: "/api/v4/projects/1/jobs/1/artifacts", header: private, status: 204,
			check: func(t *testing.T, _ *http.Response, body []byte) { require.Empty(t, body) }},
		{name: "deleted archive is gone", url: "/api/v4/projects/1/jobs/1/artifacts", header: private, status: 404, check: message("404 Not Found")},
		// Delete all job artifacts of the project: they expire now.
		{name: "delete project artifacts", method: http.MethodDelete, url: "/api/v4/projects/1/artifacts", header: private, status: 202, check: message("202 Accepted")},
		{name: "expired file is not served", url: "/api/v4/projects/1/jobs/5/artifacts/some/release/file.pdf", header: private, status: 404, check: message("404 Not Found")},
		{name: "expired archive is served until swept", url: "/api/v4/projects/1/jobs/42/artifacts", header: private, status: 200, check: isArchiveOf(42)},
	}
	for _, req := range requests {
		t.Run(req.name, func(t *testing.T) {
			method := req.method
			if method == "" {
				method = http.MethodGet
			}
			r, err := http.NewRequest(method, ts.URL+req.url, nil)
			require.NoError(t, err)
			for k, v := range req.header {
				r.Header.Set(k, v)
			}
			resp, err := ts.Client().Do(r)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, req.status, resp.StatusCode, "body: %s", body)
			req.check(t, resp, body)
		})
	}
}

// checkKeepResponse compares the keep answer with the example response of
// GitLab's docs, member by member, where the demo's job 1 is the docs' job.
func checkKeepResponse(t *testing.T, resp *http.Response, body []byte) {
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var got map[string]any
	require.NoError(t, json.Unmarshal(body, &got))
	want := map[string]any{
		"id": 1.0, "name": "rubocop", "ref": "master", "stage": "test", "status": "failed",
		"failure_reason": "script_failure", "coverage": nil, "allow_failure": false, "tag": false,
		"created_at": "2016-01-11T10:13:33.506Z", "started_at": "2016-01-11T10:13:33.506Z",
		"finished_at": "2016-01-11T10:15:10.506Z", "duration": 97.0, "user": nil, "runner": nil,
		"artifacts_expire_at": nil,
	}
	for k, v := range want {
		require.Equal(t, v, got[k], "member %q", k)
	}
	commit, ok := got["commit"].(map[string]any)
	require.True(t, ok, "commit: %v", got["commit"])
	wantCommit := map[string]any{
		"id": demoCommitSHA, "short_id": "0ff3ae19", "title": "Test the CI integration.",
		"message": "Test the CI integration.", "author_name": "Administrator",
		"author_email": "admin@example.com", "created_at": "2015-12-24T15:51:14.000Z",
	}
	for k, v := range wantCommit {
		require.Equal(t, v, commit[k], "commit member %q", k)
	}
}

// TestDemoArchivesMatchDocs checks the archive contents that the docs'
// examples show: the tree example's ci_build_artifacts.zip of 1024 bytes, a
// zip itself, and a PDF where the docs download file.pdf.
func TestDemoArchivesMatchDocs(t *testing.T) {
	_, pipelines, err := demoData()
	require.NoError(t, err)
	entries := map[int64]map[string][]byte{}
	for _, p := range pipelines {
		for _, j := range p.jobs {
			if j.archive == nil {
				continue
			}
			entries[j.job.ID] = readZip(t, j.archive)
		}
	}
	inner := entries[demoTestJobID]["ci_build_artifacts.zip"]
	require.Len(t, inner, 1024)
	require.Contains(t, readZip(t, inner), "build/app.txt")

	for _, jobID := range []int64{demoPDFJobID, 44} {
		pdf := entries[jobID][demoPDFPath]
		require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-1.4\n")), "job %d", jobID)
		require.True(t, bytes.HasSuffix(pdf, []byte("%%EOF\n")), "job %d", jobID)
		require.Equal(t, "application/pdf", http.DetectContentType(pdf))
	}
	require.Contains(t, entries[45], "file.txt")
	require.Contains(t, entries[demoKeepJobID], "rubocop.json")
}

// readZip returns the entries of a zip, name → content.
func readZip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		content, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		out[f.Name] = content
	}
	return out
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestPrintTryUsesDocsURLs checks that the "try:" block prints curl lines
// of GitLab's docs, with the server's address for the docs' host and the
// demo's tokens.
func TestPrintTryUsesDocsURLs(t *testing.T) {
	const base = "http://127.0.0.1:8080"
	var printed bytes.Buffer
	printTry(&printed, base, serveConfig{token: testToken, jobToken: testJobToken})
	for _, docsURL := range []string{
		docsHost + "/api/v4/projects/1/jobs/42/artifacts",
		docsHost + "/api/v4/projects/1/jobs/artifacts/main/download?job=test",
		docsHost + "/api/v4/projects/1/jobs/5/artifacts/some/release/file.pdf",
		docsHost + "/api/v4/projects/1/jobs/1/artifacts/keep",
	} {
		require.Contains(t, printed.String(), `"`+strings.Replace(docsURL, docsHost, base, 1)+`"`)
	}
	require.Contains(t, printed.String(), `--header "PRIVATE-TOKEN: `+testToken+`"`)
	require.Contains(t, printed.String(), "job_token="+testJobToken)
}
