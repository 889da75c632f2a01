package jobartifacts_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// GitLab's response bodies, byte for byte.
const (
	bodyProjectNotFound   = `{"message":"404 Project Not Found"}`
	bodyJobNotFound       = `{"message":"404 Not found"}` // Rails record-not-found: lower-case f
	bodyNotFound          = `{"message":"404 Not Found"}`
	bodyArtifactsNotFound = `{"message":"404 Artifacts Not Found"}` // the tree route: not_found!('Artifacts')
	bodyRecentNotFound    = `{"message":"404 Job Not Found"}`
	bodyPathNotFound      = `{"message":"404 Path Not Found"}`
	bodyUnauthorized      = `{"message":"401 Unauthorized"}`
	bodyForbidden         = `{"message":"403 Forbidden"}`
	bodyJobMissing        = `{"error":"job is missing"}`
	bodyRouteNotFound     = `{"error":"404 Not Found"}`
	bodyAccepted          = `{"message":"202 Accepted"}`
	bodyInternal          = `{"message":"500 Internal Server Error"}`
	// GitLab names both projects by Project#path, the last segment.
	bodyDenied = `{"message":"403 Forbidden - Authentication by CI/CD job token not allowed from denied to my.proj."}`
	// GitLab answers an invalid artifact path with a bare bad_request!
	// (lib/api/ci/job_artifacts.rb), i.e. "400 Bad request" without a
	// reason. See /work/notes/handler-bugs.md.
	bodyInvalidPath = `{"message":"400 Bad request"}`
)

const (
	p1   = "/api/v4/projects/1"
	tree = p1 + "/jobs/108/artifacts/tree"
)

func asUser(token string) http.Header { return headerOf("PRIVATE-TOKEN", token) }

var (
	asMaintainer = asUser(apiTokenMaintainer)
	asDeveloper  = asUser(apiTokenDeveloper)
	asReporter   = asUser(apiTokenReporter)
	asGuest      = asUser(apiTokenGuest)
	asOutsider   = asUser(apiTokenOutsider)
)

// apiCase is one request and everything its response must be.
type apiCase struct {
	name   string
	method string // GET when empty
	target string // path and query, sent exactly as written
	header http.Header
	status int
	// body is the exact body, unless archiveOf names the job whose whole
	// archive the body must be. "{server}" stands for the server's URL.
	body      string
	archiveOf int64
	// headers are exact response header values ("" = present and empty).
	headers map[string]string
}

// TestHandlerResponses sends one request per row to a handler over a seeded
// memstore and tokenauth, and checks status, exact body and key headers. Rows
// do not depend on each other; keeping job 106's artifacts is idempotent.
func TestHandlerResponses(t *testing.T) { testHandlerResponses(t, apiFixtureConfig{}) }

// TestHandlerResponsesProjectJob: the same rows, with a store that reads
// the project and the job of job routes in one call (ProjectJobReader).
func TestHandlerResponsesProjectJob(t *testing.T) {
	store := &projectJobStore{}
	testHandlerResponses(t, apiFixtureConfig{wrapStore: func(m *memstore.Store) jobartifacts.Store { store.Store = m; return store }})
	require.Positive(t, store.calls.Load(), "the handler uses ProjectJob")
}

// projectJobStore is a memstore with ProjectJob, which counts its calls.
type projectJobStore struct {
	*memstore.Store
	calls atomic.Int64
}

func (s *projectJobStore) ProjectJob(ctx context.Context, projectID, jobID int64) (*jobartifacts.Project, *jobartifacts.Job, error) {
	s.calls.Add(1)
	p, err := s.Project(ctx, projectID)
	if err != nil {
		return nil, nil, err
	}
	j, err := s.Job(ctx, projectID, jobID)
	return p, j, err
}

// TestCombineStoresProjectJobReader: a combined Store is a ProjectJobReader
// exactly when its metadata half is one, and the handler then reads job
// routes through the metadata half's ProjectJob.
func TestCombineStoresProjectJobReader(t *testing.T) {
	_, ok := jobartifacts.CombineStores(memstore.New(), memstore.New()).(jobartifacts.ProjectJobReader)
	require.False(t, ok, "memstore has no ProjectJob: the combined store must not claim one")

	meta := &projectJobStore{}
	f := newAPIFixture(t, apiFixtureConfig{wrapStore: func(m *memstore.Store) jobartifacts.Store {
		meta.Store = m
		combined := jobartifacts.CombineStores(meta, m)
		_, ok := combined.(jobartifacts.ProjectJobReader)
		require.True(t, ok, "the metadata half's ProjectJob is kept")
		return combined
	}})
	resp := f.do(t, http.MethodGet, p1+"/jobs/100/artifacts", asUser(apiTokenMaintainer))
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, int64(1), meta.calls.Load(), "the handler read the job route through ProjectJob")
}

func testHandlerResponses(t *testing.T, cfg apiFixtureConfig) {
	f := newAPIFixture(t, cfg)
	archiveDisposition := `attachment; filename="artifacts.zip"; filename*=UTF-8''artifacts.zip`
	archiveHeaders := map[string]string{
		"Content-Type":        "application/octet-stream",
		"Content-Disposition": archiveDisposition,
		"Accept-Ranges":       "bytes",
	}
	file := func(jobID int64, rawPath string) string {
		return p1 + "/jobs/" + strconv.FormatInt(jobID, 10) + "/artifacts/" + rawPath
	}
	treeLink := func(query string) string { return "<{server}" + tree + "?" + query + ">" }

	rows := []apiCase{
		// --- Authentication: a bad credential is 401, never anonymous.
		{name: "bad PRIVATE-TOKEN", target: p1 + "/jobs/100/artifacts", header: asUser(apiTokenBad), status: 401, body: bodyUnauthorized},
		{name: "bad private_token query", target: p1 + "/jobs/100/artifacts?private_token=" + apiTokenBad, status: 401, body: bodyUnauthorized},
		{name: "bad Bearer", target: p1 + "/jobs/100/artifacts", header: headerOf("Authorization", "Bearer "+apiTokenBad), status: 401, body: bodyUnauthorized},
		{name: "bad JOB-TOKEN", target: p1 + "/jobs/100/artifacts", header: headerOf("JOB-TOKEN", apiTokenBad), status: 401, body: bodyUnauthorized},
		{name: "bad job_token query", target: p1 + "/jobs/100/artifacts?job_token=" + apiTokenBad, status: 401, body: bodyUnauthorized},
		{name: "bad token query", target: p1 + "/jobs/100/artifacts?token=" + apiTokenBad, status: 401, body: bodyUnauthorized},
		{name: "bad personal token with a valid job token", target: p1 + "/jobs/100/artifacts",
			header: headerOf("PRIVATE-TOKEN", apiTokenBad, "JOB-TOKEN", apiJobTokenOwn), status: 401, body: bodyUnauthorized},
		{name: "bad private_token query with a valid job token", target: p1 + "/jobs/100/artifacts?private_token=" + apiTokenBad + "&job_token=" + apiJobTokenOwn,
			status: 401, body: bodyUnauthorized},
		{name: "bad Bearer with a valid JOB-TOKEN", target: p1 + "/jobs/100/artifacts",
			header: headerOf("Authorization", "Bearer "+apiTokenBad, "JOB-TOKEN", apiJobTokenOwn), status: 401, body: bodyUnauthorized},
		{name: "expired personal token", target: p1 + "/jobs/100/artifacts", header: asUser(apiTokenExpired), status: 401, body: bodyUnauthorized},
		{name: "token of a finished job", target: p1 + "/jobs/100/artifacts", header: headerOf("JOB-TOKEN", apiJobTokenFinished), status: 401, body: bodyUnauthorized},
		{name: "bad token on a missing project is still 401", target: "/api/v4/projects/999/jobs/1/artifacts", header: asUser(apiTokenBad), status: 401, body: bodyUnauthorized},
		{name: "bad token on the tree", target: tree, header: asUser(apiTokenBad), status: 401, body: bodyUnauthorized},
		{name: "bad token on route 2", target: p1 + "/jobs/artifacts/main/download?job=test", header: headerOf("JOB-TOKEN", apiTokenBad), status: 401, body: bodyUnauthorized},
		{name: "valid personal token wins over a bad job token", target: p1 + "/jobs/100/artifacts",
			header: headerOf("PRIVATE-TOKEN", apiTokenReporter, "JOB-TOKEN", apiTokenBad), status: 200, archiveOf: 100},
		{name: "Basic auth is not a credential: anonymous", target: p1 + "/jobs/100/artifacts",
			header: headerOf("Authorization", "Basic bWFpbnRhaW5lcjpzZWNyZXQ="), status: 404, body: bodyProjectNotFound},
		{name: "empty Bearer is anonymous", target: p1 + "/jobs/100/artifacts", header: headerOf("Authorization", "Bearer "), status: 404, body: bodyProjectNotFound},
		{name: "lower-case bearer scheme", target: p1 + "/jobs/100/artifacts", header: headerOf("Authorization", "bearer "+apiTokenReporter), status: 200, archiveOf: 100},
		{name: "private_token query", target: p1 + "/jobs/100/artifacts?private_token=" + apiTokenReporter, status: 200, archiveOf: 100},

		// --- Anonymous non-GET: 401 before anything, even for a missing project.
		{name: "anonymous keep", method: "POST", target: p1 + "/jobs/106/artifacts/keep", status: 401, body: bodyUnauthorized},
		{name: "anonymous keep on a missing project", method: "POST", target: "/api/v4/projects/999/jobs/1/artifacts/keep", status: 401, body: bodyUnauthorized},
		{name: "anonymous delete job artifacts", method: "DELETE", target: p1 + "/jobs/100/artifacts", status: 401, body: bodyUnauthorized},
		{name: "anonymous delete on a missing project", method: "DELETE", target: "/api/v4/projects/999/jobs/1/artifacts", status: 401, body: bodyUnauthorized},
		{name: "anonymous delete project artifacts of a missing project", method: "DELETE", target: "/api/v4/projects/999/artifacts", status: 401, body: bodyUnauthorized},
		{name: "anonymous delete of a public project", method: "DELETE", target: "/api/v4/projects/2/artifacts", status: 401, body: bodyUnauthorized},

		// --- Project resolution and visibility, checked before any job lookup.
		{name: "missing project", target: "/api/v4/projects/999/jobs/100/artifacts", header: asMaintainer, status: 404, body: bodyProjectNotFound},
		{name: "missing project by encoded path", target: "/api/v4/projects/group%2Fnope/jobs/100/artifacts", header: asMaintainer, status: 404, body: bodyProjectNotFound},
		{name: "missing project by raw path", target: "/api/v4/projects/group/nope/jobs/100/artifacts", header: asMaintainer, status: 404, body: bodyProjectNotFound},
		{name: "project path without a slash", target: "/api/v4/projects/myproj/jobs/100/artifacts", header: asMaintainer, status: 404, body: bodyProjectNotFound},
		{name: "project id zero", target: "/api/v4/projects/0/jobs/100/artifacts", header: asMaintainer, status: 404, body: bodyProjectNotFound},
		{name: "project path is case-sensitive", target: "/api/v4/projects/Group%2Fsub%2Fmy.proj/jobs/100/artifacts", header: asMaintainer, status: 404, body: bodyProjectNotFound},
		{name: "hidden from anonymous", target: p1 + "/jobs/100/artifacts", status: 404, body: bodyProjectNotFound},
		{name: "hidden from a non-member before any job lookup", target: p1 + "/jobs/999999/artifacts", header: asOutsider, status: 404, body: bodyProjectNotFound},
		{name: "hidden from a non-member on route 3", target: file(100, "hello.txt"), header: asOutsider, status: 404, body: bodyProjectNotFound},
		{name: "hidden from a non-member on route 2", target: p1 + "/jobs/artifacts/main/download?job=test", header: asOutsider, status: 404, body: bodyProjectNotFound},
		{name: "hidden from a non-member on keep", method: "POST", target: p1 + "/jobs/106/artifacts/keep", header: asOutsider, status: 404, body: bodyProjectNotFound},
		{name: "hidden from a non-member on delete", method: "DELETE", target: p1 + "/artifacts", header: asOutsider, status: 404, body: bodyProjectNotFound},
		{name: "guest on a private project", target: p1 + "/jobs/100/artifacts", header: asGuest, status: 403, body: bodyForbidden},
		{name: "guest on a missing job is 403 first", target: p1 + "/jobs/999999/artifacts", header: asGuest, status: 403, body: bodyForbidden},
		{name: "guest on the tree", target: tree, header: asGuest, status: 403, body: bodyForbidden},
		{name: "reporter reads the archive", target: p1 + "/jobs/100/artifacts", header: asReporter, status: 200, archiveOf: 100, headers: archiveHeaders},
		{name: "HEAD of the archive", method: "HEAD", target: p1 + "/jobs/100/artifacts", header: asReporter, status: 200, headers: archiveHeaders},
		{name: "public pipelines: anonymous reads", target: "/api/v4/projects/2/jobs/200/artifacts", status: 200, archiveOf: 200, headers: archiveHeaders},
		{name: "public pipelines: anonymous reads a file", target: "/api/v4/projects/2/jobs/200/artifacts/public.txt", status: 200, body: "public artifact\n"},
		{name: "public project without public pipelines: anonymous", target: "/api/v4/projects/5/jobs/500/artifacts", status: 403, body: bodyForbidden},
		{name: "public project without public pipelines: non-member", target: "/api/v4/projects/5/jobs/500/artifacts", header: asOutsider, status: 403, body: bodyForbidden},
		{name: "encoded project path", target: "/api/v4/projects/group%2Fsub%2Fmy%2Eproj/jobs/100/artifacts", header: asReporter, status: 200, archiveOf: 100},
		{name: "encoded project path, dot raw", target: "/api/v4/projects/group%2Fsub%2Fmy.proj/jobs/100/artifacts", header: asReporter, status: 200, archiveOf: 100},
		{name: "raw-slash project path", target: "/api/v4/projects/group/sub/my.proj/jobs/100/artifacts", header: asReporter, status: 200, archiveOf: 100},
		{name: "raw-slash project path, route 3", target: "/api/v4/projects/group/sub/my.proj/jobs/100/artifacts/hello.txt", header: asReporter, status: 200, body: "hello world\n"},
		{name: "raw-slash project path, route 2", target: "/api/v4/projects/group/sub/my.proj/jobs/artifacts/main/download?job=test", header: asReporter, status: 200, archiveOf: 101},
		{name: "raw-slash project path, tree", target: "/api/v4/projects/group/sub/my.proj/jobs/108/artifacts/tree?path=bin", header: asReporter, status: 200,
			body: `[{"name":"app","path":"bin/app","type":"file","size":4,"mode":"100644"}]`},

		// --- Jobs.
		{name: "job of another project", target: p1 + "/jobs/200/artifacts", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "missing job", target: p1 + "/jobs/999999/artifacts", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "non-numeric job id", target: p1 + "/jobs/abc/artifacts", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "zero job id", target: p1 + "/jobs/0/artifacts", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "negative job id", target: p1 + "/jobs/-1/artifacts", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "job id beyond int64", target: p1 + "/jobs/99999999999999999999/artifacts", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "job id in exponent form", target: p1 + "/jobs/1e2/artifacts", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "non-numeric job id, route 3", target: p1 + "/jobs/abc/artifacts/hello.txt", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "non-numeric job id, tree", target: p1 + "/jobs/abc/artifacts/tree", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "job without archive", target: p1 + "/jobs/103/artifacts", header: asMaintainer, status: 404, body: bodyNotFound},
		{name: "job without archive, route 3", target: file(103, "hello.txt"), header: asMaintainer, status: 404, body: bodyNotFound},
		{name: "job without archive, tree", target: p1 + "/jobs/103/artifacts/tree", header: asMaintainer, status: 404, body: bodyArtifactsNotFound},
		{name: "route 1 serves an expired archive", target: p1 + "/jobs/104/artifacts", header: asReporter, status: 200, archiveOf: 104},
		{name: "non-ASCII archive filename", target: p1 + "/jobs/109/artifacts", header: asReporter, status: 200, archiveOf: 109,
			headers: map[string]string{"Content-Disposition": `attachment; filename="%3F%3F.zip"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.zip`}},

		{name: "archive without a file name", target: p1 + "/jobs/114/artifacts", header: asReporter, status: 200, archiveOf: 114,
			headers: map[string]string{"Content-Disposition": archiveDisposition}},
		// Rails' ContentDisposition transliterates the ASCII fallback with
		// I18n.transliterate ("é" → "e"); see /work/notes/handler-bugs.md #3.
		{name: "Latin archive filename is transliterated", target: p1 + "/jobs/112/artifacts", header: asReporter, status: 200, archiveOf: 112,
			headers: map[string]string{"Content-Disposition": `attachment; filename="resume.zip"; filename*=UTF-8''r%C3%A9sum%C3%A9.zip`}},

		// --- artifacts:access narrows reading at job level.
		{name: "artifacts:access developer: reporter", target: file(110, "dev.txt"), header: asReporter, status: 403, body: bodyForbidden},
		{name: "artifacts:access developer: developer", target: file(110, "dev.txt"), header: asDeveloper, status: 200, body: "developers only\n"},
		{name: "artifacts:access developer: own job token", target: file(110, "dev.txt"), header: headerOf("JOB-TOKEN", apiJobTokenOwn), status: 200, body: "developers only\n"},
		{name: "artifacts:access developer: allowlisted job token", target: file(110, "dev.txt"), header: headerOf("JOB-TOKEN", apiJobTokenAllowed), status: 403, body: bodyForbidden},
		{name: "artifacts:access developer: archive", target: p1 + "/jobs/110/artifacts", header: asReporter, status: 403, body: bodyForbidden},
		{name: "artifacts:access developer: tree", target: p1 + "/jobs/110/artifacts/tree", header: asReporter, status: 403, body: bodyForbidden},
		{name: "artifacts:access none: maintainer", target: p1 + "/jobs/111/artifacts", header: asMaintainer, status: 403, body: bodyForbidden},
		{name: "artifacts:access none: missing entry is still 403", target: file(111, "nope"), header: asMaintainer, status: 403, body: bodyForbidden},

		// --- Job tokens.
		{name: "job token of the same project", target: p1 + "/jobs/100/artifacts", header: headerOf("JOB-TOKEN", apiJobTokenOwn), status: 200, archiveOf: 100},
		{name: "job_token query", target: p1 + "/jobs/100/artifacts?job_token=" + apiJobTokenOwn, status: 200, archiveOf: 100},
		{name: "token query", target: p1 + "/jobs/100/artifacts?token=" + apiJobTokenOwn, status: 200, archiveOf: 100},
		{name: "job token as Bearer", target: p1 + "/jobs/100/artifacts", header: headerOf("Authorization", "Bearer "+apiJobTokenOwn), status: 200, archiveOf: 100},
		{name: "job token on route 3", target: file(100, "hello.txt"), header: headerOf("JOB-TOKEN", apiJobTokenOwn), status: 200, body: "hello world\n"},
		{name: "job token on route 2", target: p1 + "/jobs/artifacts/main/download?job=test&job_token=" + apiJobTokenOwn, status: 200, archiveOf: 101},
		{name: "job token on the tree", target: tree + "?path=bin", header: headerOf("JOB-TOKEN", apiJobTokenOwn), status: 200,
			body: `[{"name":"app","path":"bin/app","type":"file","size":4,"mode":"100644"}]`},
		{name: "job token of an allowlisted project", target: p1 + "/jobs/100/artifacts", header: headerOf("JOB-TOKEN", apiJobTokenAllowed), status: 200, archiveOf: 100},
		{name: "job token of a project not allowlisted", target: p1 + "/jobs/100/artifacts", header: headerOf("JOB-TOKEN", apiJobTokenDenied), status: 403, body: bodyDenied},
		{name: "job token not allowlisted, route 3", target: file(100, "hello.txt"), header: headerOf("JOB-TOKEN", apiJobTokenDenied), status: 403, body: bodyDenied},
		{name: "job token not allowlisted, route 2", target: p1 + "/jobs/artifacts/main/download?job=test&token=" + apiJobTokenDenied, status: 403, body: bodyDenied},
		{name: "job token is not looked for on keep", method: "POST", target: p1 + "/jobs/106/artifacts/keep",
			header: headerOf("JOB-TOKEN", apiJobTokenOwn), status: 401, body: bodyUnauthorized},
		{name: "job_token query is not looked for on keep", method: "POST", target: p1 + "/jobs/106/artifacts/keep?job_token=" + apiJobTokenOwn,
			status: 401, body: bodyUnauthorized},
		{name: "job token is not looked for on delete", method: "DELETE", target: p1 + "/jobs/100/artifacts",
			header: headerOf("JOB-TOKEN", apiJobTokenOwn), status: 401, body: bodyUnauthorized},
		{name: "token query is not looked for on project delete", method: "DELETE", target: p1 + "/artifacts?token=" + apiJobTokenOwn,
			status: 401, body: bodyUnauthorized},

		// --- Route 2: latest successful pipeline of the ref.
		{name: "route 2", target: p1 + "/jobs/artifacts/main/download?job=test", header: asReporter, status: 200, archiveOf: 101, headers: archiveHeaders},
		{name: "route 2 HEAD", method: "HEAD", target: p1 + "/jobs/artifacts/main/download?job=test", header: asReporter, status: 200, headers: archiveHeaders},
		{name: "route 2 missing job parameter", target: p1 + "/jobs/artifacts/main/download", header: asReporter, status: 400, body: bodyJobMissing},
		{name: "route 2 empty job parameter", target: p1 + "/jobs/artifacts/main/download?job=", header: asReporter, status: 400, body: bodyJobMissing},
		{name: "route 2 newest successful pipeline lacks the job", target: p1 + "/jobs/artifacts/main/download?job=build", header: asReporter, status: 404, body: bodyJobNotFound},
		{name: "route 2 searches recent pipelines", target: p1 + "/jobs/artifacts/main/download?job=build&search_recent_successful_pipelines=true",
			header: asReporter, status: 200, archiveOf: 100},
		{name: "route 2 recent search finds nothing", target: p1 + "/jobs/artifacts/main/download?job=nothing&search_recent_successful_pipelines=true",
			header: asReporter, status: 404, body: bodyRecentNotFound},
		{name: "route 2 search_recent false is the plain rule", target: p1 + "/jobs/artifacts/main/download?job=build&search_recent_successful_pipelines=false",
			header: asReporter, status: 404, body: bodyJobNotFound},
		{name: "route 2 ref with a raw slash", target: p1 + "/jobs/artifacts/feature/x/download?job=build", header: asReporter, status: 200, archiveOf: 102},
		{name: "route 2 ref with an encoded slash", target: p1 + "/jobs/artifacts/feature%2Fx/download?job=build", header: asReporter, status: 200, archiveOf: 102},
		{name: "route 2 ref prefix does not match", target: p1 + "/jobs/artifacts/feature/download?job=build", header: asReporter, status: 404, body: bodyJobNotFound},
		{name: "route 2 a SHA is not a ref", target: p1 + "/jobs/artifacts/0ff3ae198f8601a285adcf5c0fff204ee6fba5fd/download?job=test", header: asReporter, status: 404, body: bodyJobNotFound},
		{name: "route 2 serves an expired archive", target: p1 + "/jobs/artifacts/expired-ref/download?job=build", header: asReporter, status: 200, archiveOf: 104},
		{name: "route 2 guest", target: p1 + "/jobs/artifacts/main/download?job=test", header: asGuest, status: 403, body: bodyForbidden},
		{name: "route 2 anonymous on private", target: p1 + "/jobs/artifacts/main/download?job=test", status: 404, body: bodyProjectNotFound},
		{name: "route 2 missing job parameter comes first", target: "/api/v4/projects/999/jobs/artifacts/main/download", status: 400, body: bodyJobMissing},
		{name: "route 2 encoded project path", target: "/api/v4/projects/group%2Fsub%2Fmy%2Eproj/jobs/artifacts/main/download?job=test", header: asReporter, status: 200, archiveOf: 101},
		{name: "neither download nor raw after the ref", target: p1 + "/jobs/artifacts/main/other?job=test", header: asReporter, status: 404, body: bodyRouteNotFound},

		// --- Route 3: one file; exact names, decoded once.
		{name: "file", target: file(100, "hello.txt"), header: asReporter, status: 200, body: "hello world\n",
			headers: map[string]string{"Content-Disposition": `attachment; filename="hello.txt"`, "Content-Length": "12"}},
		{name: "file HEAD", method: "HEAD", target: file(100, "hello.txt"), header: asReporter, status: 200,
			headers: map[string]string{"Content-Disposition": `attachment; filename="hello.txt"`, "Content-Length": "12"}},
		{name: "file content type by extension", target: file(100, "report.json"), header: asReporter, status: 200, body: `{"ok":true}`,
			headers: map[string]string{"Content-Type": "application/json"}},
		{name: "html file by extension", target: file(100, "page.html"), header: asReporter, status: 200, body: "<html><body>hi</body></html>\n",
			headers: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "space as %20", target: file(100, "a%20b.txt"), header: asReporter, status: 200, body: "space in name\n"},
		{name: "plus is a plus, not a space", target: file(100, "a+b.txt"), header: asReporter, status: 200, body: "plus in name\n"},
		{name: "encoded plus", target: file(100, "a%2Bb.txt"), header: asReporter, status: 200, body: "plus in name\n"},
		{name: "%2520 decodes once to a literal %20", target: file(100, "pct%2520.txt"), header: asReporter, status: 200, body: "literal percent-two-zero\n"},
		{name: "%20 is not decoded twice", target: file(100, "pct%20.txt"), header: asReporter, status: 404, body: bodyNotFound},
		{name: "spaces in directory and file", target: file(100, "dir%20with%20space/file%20name.txt"), header: asReporter, status: 200, body: "nested with spaces\n"},
		{name: "encoded slash in the artifact path", target: file(100, "dir%20with%20space%2Ffile%20name.txt"), header: asReporter, status: 200, body: "nested with spaces\n"},
		{name: "unicode path", target: file(100, "%C3%BCn%C3%AF/%E6%97%A5%E6%9C%AC.txt"), header: asReporter, status: 200, body: "unicode name\n",
			headers: map[string]string{"Content-Disposition": `attachment; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`}},
		{name: "dot-dot entry, not cleaned", target: file(100, "../evil.txt"), header: asReporter, status: 200, body: "dot-dot entry\n"},
		{name: "encoded dot-dot entry", target: file(100, "%2E%2E%2Fevil.txt"), header: asReporter, status: 200, body: "dot-dot entry\n"},
		{name: "double slash entry, not cleaned", target: file(100, "a//b.txt"), header: asReporter, status: 200, body: "double slash entry\n"},
		{name: "dot-slash entry, not cleaned", target: file(100, "./c.txt"), header: asReporter, status: 200, body: "dot slash entry\n"},
		{name: "a/./b.txt is not a/b.txt", target: file(100, "a/./b.txt"), header: asReporter, status: 404, body: bodyNotFound},
		{name: "directory entry with its slash", target: file(100, "dir/"), header: asReporter, status: 200, body: "",
			headers: map[string]string{"Content-Length": "0"}},
		{name: "directory without its slash", target: file(100, "dir"), header: asReporter, status: 404, body: bodyNotFound},
		{name: "stored entry", target: file(100, "stored.bin"), header: asReporter, status: 200, body: "stored bytes \x00\x01\x02"},
		{name: "zstd (method 93) entry", target: file(100, "zstd.txt"), header: asReporter, status: 200, body: strings.Repeat("zstd compressed text ", 20)},
		{name: "missing entry", target: file(100, "nope.txt"), header: asReporter, status: 404, body: bodyNotFound},
		{name: "case differs", target: file(100, "HELLO.txt"), header: asReporter, status: 404, body: bodyNotFound},
		{name: "NUL in the path", target: file(100, "hello%00.txt"), header: asReporter, status: 400, body: bodyInvalidPath},
		{name: "invalid UTF-8 in the path", target: file(100, "%FF.txt"), header: asReporter, status: 400, body: bodyInvalidPath},
		{name: "empty path", target: file(100, ""), header: asReporter, status: 400, body: bodyInvalidPath},
		{name: "expired archive", target: file(104, "old.txt"), header: asReporter, status: 404, body: bodyNotFound},
		{name: "expired archive, checked before the path", target: file(104, "%00"), header: asReporter, status: 404, body: bodyNotFound},
		{name: "expired but kept", target: file(105, "kept.txt"), header: asReporter, status: 200, body: "kept forever\n"},
		{name: "route 3 guest", target: file(100, "hello.txt"), header: asGuest, status: 403, body: bodyForbidden},
		{name: "route 3 job of another project", target: file(200, "public.txt"), header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "an entry named keep is served by GET", target: file(100, "keep"), header: asReporter, status: 404, body: bodyNotFound},

		// --- Route 4: one file of the latest successful job; no expiry check; sniffed type.
		{name: "route 4", target: p1 + "/jobs/artifacts/main/raw/hello.txt?job=test", header: asReporter, status: 200, body: "hello from test\n",
			headers: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Content-Disposition": `attachment; filename="hello.txt"`}},
		{name: "route 4 HTML is served as text", target: p1 + "/jobs/artifacts/main/raw/index.html?job=test", header: asReporter, status: 200,
			body: "<!DOCTYPE html><html><body>x</body></html>\n", headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		{name: "route 4 SVG", target: p1 + "/jobs/artifacts/main/raw/logo.svg?job=test", header: asReporter, status: 200,
			body: `<svg xmlns="http://www.w3.org/2000/svg"></svg>`, headers: map[string]string{"Content-Type": "image/svg+xml"}},
		{name: "route 4 path containing /raw/", target: p1 + "/jobs/artifacts/main/raw/dir/raw/file.txt?job=test", header: asReporter, status: 200, body: "raw in the path\n"},
		{name: "route 4 encoded ref", target: p1 + "/jobs/artifacts/feature%2Fx/raw/feature.txt?job=build", header: asReporter, status: 200, body: "feature branch\n"},
		{name: "route 4 ignores expiry", target: p1 + "/jobs/artifacts/expired-ref/raw/old.txt?job=build", header: asReporter, status: 200, body: "expired but not swept\n"},
		{name: "route 4 newest pipeline lacks the job", target: p1 + "/jobs/artifacts/main/raw/hello.txt?job=build", header: asReporter, status: 404, body: bodyJobNotFound},
		{name: "route 4 recent search", target: p1 + "/jobs/artifacts/main/raw/hello.txt?job=build&search_recent_successful_pipelines=true",
			header: asReporter, status: 200, body: "hello world\n"},
		{name: "route 4 recent search finds nothing", target: p1 + "/jobs/artifacts/main/raw/hello.txt?job=nothing&search_recent_successful_pipelines=1",
			header: asReporter, status: 404, body: bodyRecentNotFound},
		{name: "route 4 missing job parameter", target: p1 + "/jobs/artifacts/main/raw/hello.txt", header: asReporter, status: 400, body: bodyJobMissing},
		{name: "route 4 missing entry", target: p1 + "/jobs/artifacts/main/raw/nope.txt?job=test", header: asReporter, status: 404, body: bodyNotFound},
		{name: "route 4 NUL", target: p1 + "/jobs/artifacts/main/raw/a%00?job=test", header: asReporter, status: 400, body: bodyInvalidPath},
		{name: "route 4 invalid UTF-8", target: p1 + "/jobs/artifacts/main/raw/%C3?job=test", header: asReporter, status: 400, body: bodyInvalidPath},
		{name: "route 4 empty path", target: p1 + "/jobs/artifacts/main/raw/?job=test", header: asReporter, status: 400, body: bodyInvalidPath},
		{name: "route 4 job token", target: p1 + "/jobs/artifacts/main/raw/hello.txt?job=test", header: headerOf("JOB-TOKEN", apiJobTokenAllowed), status: 200, body: "hello from test\n"},
		{name: "route 4 anonymous public pipelines", target: "/api/v4/projects/2/jobs/artifacts/main/raw/public.txt?job=build", status: 200, body: "public artifact\n"},

		// --- Route 5: keep.
		{name: "keep: reporter", method: "POST", target: p1 + "/jobs/106/artifacts/keep", header: asReporter, status: 403, body: bodyForbidden},
		{name: "keep: guest", method: "POST", target: p1 + "/jobs/106/artifacts/keep", header: asGuest, status: 403, body: bodyForbidden},
		{name: "keep: missing job", method: "POST", target: p1 + "/jobs/999999/artifacts/keep", header: asDeveloper, status: 404, body: bodyJobNotFound},
		{name: "keep: no archive", method: "POST", target: p1 + "/jobs/103/artifacts/keep", header: asDeveloper, status: 404, body: bodyNotFound},
		{name: "keep: expired", method: "POST", target: p1 + "/jobs/104/artifacts/keep", header: asDeveloper, status: 404, body: bodyNotFound},
		{name: "keep: developer", method: "POST", target: p1 + "/jobs/106/artifacts/keep", header: asDeveloper, status: 200,
			body: fullJobJSON(len(f.archives[106])), headers: map[string]string{"Content-Type": "application/json"}},
		{name: "keep: GET is route 3", target: p1 + "/jobs/106/artifacts/keep", header: asDeveloper, status: 404, body: bodyNotFound},

		// --- Routes 6 and 7 refusals (their effects: TestDeleteJobArtifacts, TestDeleteProjectArtifacts).
		{name: "delete job artifacts: developer", method: "DELETE", target: p1 + "/jobs/100/artifacts", header: asDeveloper, status: 403, body: bodyForbidden},
		{name: "delete job artifacts: missing job", method: "DELETE", target: p1 + "/jobs/999999/artifacts", header: asMaintainer, status: 404, body: bodyJobNotFound},
		{name: "delete job artifacts: missing project", method: "DELETE", target: "/api/v4/projects/999/jobs/100/artifacts", header: asMaintainer, status: 404, body: bodyProjectNotFound},
		{name: "delete project artifacts: developer", method: "DELETE", target: p1 + "/artifacts", header: asDeveloper, status: 403, body: bodyForbidden},
		{name: "delete project artifacts: missing project", method: "DELETE", target: "/api/v4/projects/999/artifacts", header: asMaintainer, status: 404, body: bodyProjectNotFound},

		// --- Route 8: tree.
		{name: "tree root", target: tree, header: asReporter, status: 200,
			body: `[{"name":"bin","path":"bin/","type":"directory","mode":"040755"},{"name":"docs","path":"docs/","type":"directory","mode":null},` +
				`{"name":"README.md","path":"README.md","type":"file","size":9,"mode":"100644"}]`,
			headers: map[string]string{"X-Total": "3", "X-Total-Pages": "1", "X-Page": "1", "X-Per-Page": "20", "X-Next-Page": "", "X-Prev-Page": "",
				"Content-Type": "application/json",
				"Link":         treeLink("page=1&per_page=20") + `; rel="first", ` + treeLink("page=1&per_page=20") + `; rel="last"`}},
		{name: "tree path", target: tree + "?path=docs", header: asReporter, status: 200,
			body: `[{"name":"guide","path":"docs/guide/","type":"directory","mode":null},{"name":"index.html","path":"docs/index.html","type":"file","size":14,"mode":"100644"}]`},
		{name: "tree path with trailing slash", target: tree + "?path=docs/", header: asReporter, status: 200,
			body: `[{"name":"guide","path":"docs/guide/","type":"directory","mode":null},{"name":"index.html","path":"docs/index.html","type":"file","size":14,"mode":"100644"}]`},
		{name: "tree synthesized directory", target: tree + "?path=docs%2Fguide", header: asReporter, status: 200,
			body: `[{"name":"intro.txt","path":"docs/guide/intro.txt","type":"file","size":6,"mode":"100644"}]`},
		{name: "tree recursive", target: tree + "?recursive=true", header: asReporter, status: 200,
			body: `[{"name":"bin","path":"bin/","type":"directory","mode":"040755"},{"name":"docs","path":"docs/","type":"directory","mode":null},` +
				`{"name":"guide","path":"docs/guide/","type":"directory","mode":null},` +
				`{"name":"README.md","path":"README.md","type":"file","size":9,"mode":"100644"},{"name":"app","path":"bin/app","type":"file","size":4,"mode":"100644"},` +
				`{"name":"intro.txt","path":"docs/guide/intro.txt","type":"file","size":6,"mode":"100644"},{"name":"index.html","path":"docs/index.html","type":"file","size":14,"mode":"100644"}]`,
			headers: map[string]string{"X-Total": "7"}},
		{name: "tree recursive below a path", target: tree + "?path=docs&recursive=true", header: asReporter, status: 200,
			body: `[{"name":"guide","path":"docs/guide/","type":"directory","mode":null},` +
				`{"name":"intro.txt","path":"docs/guide/intro.txt","type":"file","size":6,"mode":"100644"},{"name":"index.html","path":"docs/index.html","type":"file","size":14,"mode":"100644"}]`},
		{name: "tree missing path", target: tree + "?path=nope", header: asReporter, status: 404, body: bodyPathNotFound},
		{name: "tree path that is a file", target: tree + "?path=README.md", header: asReporter, status: 404, body: bodyPathNotFound},
		{name: "tree dot-dot path", target: tree + "?path=../docs", header: asReporter, status: 404, body: bodyPathNotFound},
		{name: "tree page 2 of 3", target: tree + "?recursive=true&per_page=3&page=2", header: asReporter, status: 200,
			body: `[{"name":"README.md","path":"README.md","type":"file","size":9,"mode":"100644"},{"name":"app","path":"bin/app","type":"file","size":4,"mode":"100644"},` +
				`{"name":"intro.txt","path":"docs/guide/intro.txt","type":"file","size":6,"mode":"100644"}]`,
			headers: map[string]string{"X-Total": "7", "X-Total-Pages": "3", "X-Page": "2", "X-Per-Page": "3", "X-Next-Page": "3", "X-Prev-Page": "1",
				"Link": treeLink("page=1&per_page=3&recursive=true") + `; rel="prev", ` + treeLink("page=3&per_page=3&recursive=true") + `; rel="next", ` +
					treeLink("page=1&per_page=3&recursive=true") + `; rel="first", ` + treeLink("page=3&per_page=3&recursive=true") + `; rel="last"`}},
		{name: "tree last page", target: tree + "?recursive=true&per_page=3&page=3", header: asReporter, status: 200,
			body:    `[{"name":"index.html","path":"docs/index.html","type":"file","size":14,"mode":"100644"}]`,
			headers: map[string]string{"X-Page": "3", "X-Next-Page": "", "X-Prev-Page": "2"}},
		{name: "tree page past the end has no previous page (Kaminari out_of_range)", target: tree + "?recursive=true&per_page=3&page=9", header: asReporter, status: 200,
			body:    `[]`,
			headers: map[string]string{"X-Page": "9", "X-Next-Page": "", "X-Prev-Page": "", "X-Total-Pages": "3"}},
		{name: "tree per_page over 100 is capped", target: tree + "?per_page=500", header: asReporter, status: 200,
			headers: map[string]string{"X-Per-Page": "100", "X-Total-Pages": "1"},
			body: `[{"name":"bin","path":"bin/","type":"directory","mode":"040755"},{"name":"docs","path":"docs/","type":"directory","mode":null},` +
				`{"name":"README.md","path":"README.md","type":"file","size":9,"mode":"100644"}]`},
		{name: "tree page 0 is page 1", target: tree + "?page=0&per_page=1", header: asReporter, status: 200,
			body: `[{"name":"bin","path":"bin/","type":"directory","mode":"040755"}]`, headers: map[string]string{"X-Page": "1", "X-Total-Pages": "3", "X-Next-Page": "2"}},
		{name: "tree bad page", target: tree + "?page=abc", header: asReporter, status: 400, body: `{"error":"page is invalid"}`},
		{name: "tree bad per_page", target: tree + "?per_page=ten", header: asReporter, status: 400, body: `{"error":"per_page is invalid"}`},
		{name: "tree of an expired archive", target: p1 + "/jobs/104/artifacts/tree", header: asReporter, status: 404, body: bodyArtifactsNotFound},
		{name: "tree HEAD", method: "HEAD", target: tree, header: asReporter, status: 200, headers: map[string]string{"X-Total": "3"}},

		// --- Routing.
		{name: "unknown route", target: "/api/v4/nothing", status: 404, body: bodyRouteNotFound},
		{name: "outside the base path", target: "/projects/1/jobs/100/artifacts", status: 404, body: bodyRouteNotFound},
		{name: "a job itself is not served", target: p1 + "/jobs/100", header: asMaintainer, status: 404, body: bodyRouteNotFound},
		// A wrong method is GitLab's catch-all 404 (TestWrongMethod).
		{name: "PUT on the archive", method: "PUT", target: p1 + "/jobs/100/artifacts", header: asMaintainer, status: 404, body: bodyRouteNotFound},
		{name: "POST on the archive", method: "POST", target: p1 + "/jobs/100/artifacts", header: asMaintainer, status: 404, body: bodyRouteNotFound},
		{name: "DELETE on a file", method: "DELETE", target: file(100, "hello.txt"), header: asMaintainer, status: 404, body: bodyRouteNotFound},
		{name: "POST on route 2", method: "POST", target: p1 + "/jobs/artifacts/main/download?job=test", header: asMaintainer, status: 404, body: bodyRouteNotFound},
		{name: "OPTIONS on the archive", method: "OPTIONS", target: p1 + "/jobs/100/artifacts", header: asMaintainer, status: 204,
			headers: map[string]string{"Allow": "OPTIONS, GET, DELETE, HEAD"}},
	}

	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			checkAPICase(t, f, tc)
		})
	}
}

// checkAPICase sends tc's request and checks everything tc says, plus the
// headers every response carries.
func checkAPICase(t *testing.T, f *apiFixture, tc apiCase) {
	t.Helper()
	method := tc.method
	if method == "" {
		method = http.MethodGet
	}
	resp := f.do(t, method, tc.target, tc.header)
	want := strings.ReplaceAll(tc.body, "{server}", f.server.URL)
	if tc.archiveOf != 0 {
		want = string(f.archives[tc.archiveOf])
		require.NotEmpty(t, want, "no archive seeded for job %d", tc.archiveOf)
	}
	if method == http.MethodHead {
		want = ""
	}
	require.Equal(t, tc.status, resp.status, "body: %s", resp.body)
	assert.Equal(t, want, string(resp.body))
	assert.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
	assert.Equal(t, "SAMEORIGIN", resp.header.Get("X-Frame-Options"))
	if strings.HasPrefix(want, `{"`) || strings.HasPrefix(want, "[") {
		assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
		assert.Equal(t, strconv.Itoa(len(want)), resp.header.Get("Content-Length"))
	}
	if tc.archiveOf != 0 {
		assert.Equal(t, strconv.Itoa(len(want)), resp.header.Get("Content-Length"))
		assert.NotEmpty(t, resp.header.Get("ETag"))
		assert.NotEmpty(t, resp.header.Get("Last-Modified"))
	}
	if resp.status >= 400 {
		for _, k := range []string{"Content-Disposition", "ETag", "Last-Modified", "Accept-Ranges"} {
			assert.Empty(t, resp.header.Values(k), "error response carries %s", k)
		}
	}
	for k, v := range tc.headers {
		v = strings.ReplaceAll(v, "{server}", f.server.URL)
		require.Contains(t, resp.header, http.CanonicalHeaderKey(k), "header %s", k)
		assert.Equal(t, v, resp.header.Get(k), "header %s", k)
	}
}

// fullJobJSON is GitLab's Job entity for job 106 after keep: every member,
// in GitLab's order, times in UTC with milliseconds.
func fullJobJSON(archiveSize int) string {
	return fmt.Sprintf(`{"id":106,"status":"failed","stage":"test","name":"rspec","ref":"main","tag":false,"coverage":87.5,"allow_failure":true,`+
		`"created_at":"2016-01-11T10:13:33.506Z","started_at":"2016-01-11T10:13:34.123Z","finished_at":"2016-01-11T10:15:10.000Z","erased_at":null,`+
		`"duration":96.494,"queued_duration":0.617,`+
		`"user":{"id":1,"username":"root","name":"Administrator","state":"active","locked":false,"avatar_url":"https://gravatar.example/avatar/root",`+
		`"web_url":"https://gitlab.example.com/root","created_at":"2015-12-21T13:14:24.077Z","bio":"bio","location":"Earth","public_email":"root@example.com",`+
		`"linkedin":"in/root","twitter":"@root","discord":"root#1","website_url":"https://root.example","organization":"Example","job_title":"Admin",`+
		`"pronouns":"they/them","bot":false,"work_information":"Admin at Example","followers":2,"following":3,"local_time":"12:00 PM"},`+
		`"commit":{"id":"0ff3ae198f8601a285adcf5c0fff204ee6fba5fd","short_id":"0ff3ae19","created_at":"2016-01-11T10:13:00.000Z",`+
		`"parent_ids":["1a0b36b3cdad1d2ee32457c102a8c0b7056fa863"],"title":"Test the CI integration.","message":"Test the CI integration.\n",`+
		`"author_name":"Administrator","author_email":"admin@example.com","authored_date":"2016-01-11T10:13:00.000Z","committer_name":"Administrator",`+
		`"committer_email":"admin@example.com","committed_date":"2016-01-11T10:13:00.000Z","web_url":"https://gitlab.example.com/group/sub/my.proj/-/commit/0ff3ae19"},`+
		`"pipeline":{"id":10,"iid":3,"project_id":1,"sha":"0ff3ae198f8601a285adcf5c0fff204ee6fba5fd","ref":"main","status":"success","source":"push",`+
		`"created_at":"2016-01-11T10:13:30.000Z","updated_at":"2016-01-11T10:15:30.000Z","web_url":"https://gitlab.example.com/group/sub/my.proj/-/pipelines/10"},`+
		`"failure_reason":"script_failure","web_url":"https://gitlab.example.com/group/sub/my.proj/-/jobs/106","project":{"ci_job_token_scope_enabled":true},`+
		`"artifacts_file":{"filename":"artifacts.zip","size":%d},`+
		`"artifacts":[{"file_type":"archive","size":%d,"filename":"artifacts.zip","file_format":"zip"},{"file_type":"trace","size":10,"filename":"job.log","file_format":"raw"}],`+
		`"runner":{"id":32,"description":"shared runner","ip_address":"10.0.0.5","active":true,"paused":false,"is_shared":true,"runner_type":"instance_type",`+
		`"name":"gitlab-runner","online":true,"status":"online"},`+
		`"runner_manager":{"id":1,"system_id":"s_89e5e9956577","version":"16.11.1","revision":"535ced5f","platform":"linux","architecture":"amd64",`+
		`"created_at":"2024-05-01T09:00:00.000Z","contacted_at":"2024-05-01T09:05:00.250Z","ip_address":"10.0.0.5","status":"online"},`+
		`"artifacts_expire_at":null,"archived":false,"tag_list":["docker","linux"]}`, archiveSize, archiveSize)
}
