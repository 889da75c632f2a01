package jobartifacts_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// What GitLab's Rack::Cors (rack-cors 2.0.2, config/application.rb's
// origins '*' block for /api/*) sends, byte for byte.
const (
	corsMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
	corsExpose  = "Link, X-Total, X-Total-Pages, X-Per-Page, X-Page, X-Next-Page, X-Prev-Page, " +
		"X-Gitlab-Blob-Id, X-Gitlab-Commit-Id, X-Gitlab-Content-Sha256, X-Gitlab-Encoding, " +
		"X-Gitlab-File-Name, X-Gitlab-File-Path, X-Gitlab-Last-Commit-Id, X-Gitlab-Ref, X-Gitlab-Size, " +
		"X-Request-Id, ETag"
	corsVary = "Authorization, Job-Token, Private-Token, Origin"
)

// corsHeaders are the headers Rack::Cors adds to an answer for origin:
// allowOrigin "*" for any origin, GitLab's own echoed with credentials.
func corsHeaders(allowOrigin string, credentials bool) http.Header {
	h := http.Header{
		"Access-Control-Allow-Origin":   {allowOrigin},
		"Access-Control-Allow-Methods":  {corsMethods},
		"Access-Control-Expose-Headers": {corsExpose},
		"Access-Control-Max-Age":        {"7200"},
	}
	if credentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
	return h
}

// accessControl returns h's Access-Control-* headers.
func accessControl(h http.Header) http.Header {
	out := http.Header{}
	for k, v := range h {
		if len(k) > len("Access-Control-") && k[:len("Access-Control-")] == "Access-Control-" {
			out[k] = v
		}
	}
	return out
}

// headerNames returns h's keys, sorted.
func headerNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// withHeader returns a copy of base (nil for none) with kv added.
func withHeader(base http.Header, kv ...string) http.Header {
	h := base.Clone()
	if h == nil {
		h = http.Header{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// corsPaths are one path of every route, and paths no route takes: a
// preflight is answered before any route.
var corsPaths = []struct{ name, target string }{
	{"routes 1 and 6", p1 + "/jobs/100/artifacts"},
	{"route 2", p1 + "/jobs/artifacts/main/download?job=test"},
	{"route 3", p1 + "/jobs/100/artifacts/hello.txt"},
	{"route 4", p1 + "/jobs/artifacts/main/raw/hello.txt?job=test"},
	{"route 5", p1 + "/jobs/106/artifacts/keep"},
	{"route 7", p1 + "/artifacts"},
	{"route 8", tree},
	{"routes 9 and 10", "/api/v4/jobs/100/artifacts"},
	{"raw-slash id", "/api/v4/projects/group/sub/my.proj/jobs/100/artifacts"},
	{"missing project", "/api/v4/projects/999/jobs/1/artifacts"},
	{"job id not a number", p1 + "/jobs/abc/artifacts"},
	{"no route", "/api/v4/nothing"},
	{"no route, OPTIONS 404 otherwise", p1 + "/jobs/artifacts/main/other"},
}

// TestCORSPreflight: OPTIONS with Origin and Access-Control-Request-Method
// is Rack::Cors's answer, which never reaches Grape: 200, no body, the CORS
// headers with Access-Control-Allow-Headers echoing the request's
// Access-Control-Request-Headers, Rack::ETag's Cache-Control: no-cache, and
// nothing else (no Vary, no Content-Type, no Allow, not Grape's
// X-Frame-Options or X-Content-Type-Options), whatever the path and the
// credential. A method outside methods: :any gets the same answer without
// any CORS header.
func TestCORSPreflight(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	const origin = "https://app.example.com"
	allowed := func(requestHeaders ...string) http.Header {
		h := corsHeaders("*", false)
		if len(requestHeaders) > 0 {
			h["Access-Control-Allow-Headers"] = requestHeaders
		}
		return h
	}
	rows := []struct {
		name   string
		header http.Header
		want   http.Header // Access-Control-* headers
	}{
		{"GET", headerOf("Origin", origin, "Access-Control-Request-Method", "GET"), allowed()},
		{"DELETE with headers", headerOf("Origin", origin, "Access-Control-Request-Method", "DELETE",
			"Access-Control-Request-Headers", "private-token"), allowed("private-token")},
		{"POST with headers echoed as sent", headerOf("Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "JOB-TOKEN,content-type, X-Anything"), allowed("JOB-TOKEN,content-type, X-Anything")},
		{"headers on two lines, joined", headerOf("Origin", origin, "Access-Control-Request-Method", "GET",
			"Access-Control-Request-Headers", "private-token", "Access-Control-Request-Headers", "range"), allowed("private-token, range")},
		{"empty request headers echoed", headerOf("Origin", origin, "Access-Control-Request-Method", "GET",
			"Access-Control-Request-Headers", ""), allowed("")},
		{"method downcased", headerOf("Origin", origin, "Access-Control-Request-Method", "patch"), allowed()},
		{"HEAD", headerOf("Origin", origin, "Access-Control-Request-Method", "HEAD"), allowed()},
		{"PUT", headerOf("Origin", origin, "Access-Control-Request-Method", "PUT"), allowed()},
		{"OPTIONS", headerOf("Origin", origin, "Access-Control-Request-Method", "OPTIONS"), allowed()},
		{"origin null", headerOf("Origin", "null", "Access-Control-Request-Method", "GET"), allowed()},
		{"empty origin", headerOf("Origin", "", "Access-Control-Request-Method", "GET"), allowed()},
		{"with a bad token", withHeader(asUser(apiTokenBad), "Origin", origin, "Access-Control-Request-Method", "GET"), allowed()},
		{"with a good token", withHeader(asMaintainer, "Origin", origin, "Access-Control-Request-Method", "DELETE"), allowed()},
		// Not one of methods: :any's seven: 200 without CORS headers.
		{"TRACE denied", headerOf("Origin", origin, "Access-Control-Request-Method", "TRACE",
			"Access-Control-Request-Headers", "private-token"), http.Header{}},
		{"PROPFIND denied", headerOf("Origin", origin, "Access-Control-Request-Method", "PROPFIND"), http.Header{}},
		{"empty method denied", headerOf("Origin", origin, "Access-Control-Request-Method", ""), http.Header{}},
		{"two methods denied", headerOf("Origin", origin, "Access-Control-Request-Method", "GET",
			"Access-Control-Request-Method", "POST"), http.Header{}},
		{"non-ASCII fold denied", headerOf("Origin", origin, "Access-Control-Request-Method", "po\u017ft"), http.Header{}},
	}
	for _, path := range corsPaths {
		for _, row := range rows {
			t.Run(path.name+" "+row.name, func(t *testing.T) {
				resp := f.do(t, http.MethodOptions, path.target, row.header)
				require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
				assert.Empty(t, resp.body)
				assert.Equal(t, row.want, accessControl(resp.header))
				assert.Equal(t, []string{"no-cache"}, resp.header.Values("Cache-Control"))
				assert.Equal(t, []string{"0"}, resp.header.Values("Content-Length"))
				want := append(headerNames(row.want), "Cache-Control", "Content-Length", "Date")
				sort.Strings(want)
				assert.Equal(t, want, headerNames(resp.header), "every header of the answer")
			})
		}
	}
}

// TestCORSNotPreflight: an OPTIONS that lacks Origin or
// Access-Control-Request-Method is no preflight: Grape answers it as any
// OPTIONS (its before filter, then 204 with Allow, see TestOptions), with
// the CORS headers when it carries an Origin, and Vary: Origin either way.
func TestCORSNotPreflight(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	rows := []struct {
		name   string
		target string
		header http.Header
		status int
		allow  string
		cors   bool
	}{
		{"Origin alone", p1 + "/jobs/100/artifacts", withHeader(asMaintainer, "Origin", "https://app.example.com"), 204, "OPTIONS, GET, DELETE, HEAD", true},
		{"Origin alone, no credential", p1 + "/jobs/100/artifacts", headerOf("Origin", "https://app.example.com"), 401, "", true},
		{"Origin alone, runner path", "/api/v4/jobs/100/artifacts", headerOf("Origin", "https://app.example.com"), 204, "OPTIONS, POST, GET, HEAD", true},
		{"Origin alone, no route", "/api/v4/nothing", headerOf("Origin", "https://app.example.com"), 404, "", true},
		{"method without Origin", p1 + "/artifacts", withHeader(asMaintainer, "Access-Control-Request-Method", "DELETE"), 204, "OPTIONS, DELETE", false},
		{"method without Origin, no credential", p1 + "/artifacts", headerOf("Access-Control-Request-Method", "DELETE"), 401, "", false},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			resp := f.do(t, http.MethodOptions, row.target, row.header)
			require.Equal(t, row.status, resp.status, "body: %s", resp.body)
			if row.allow != "" {
				assert.Equal(t, []string{row.allow}, resp.header.Values("Allow"))
			} else {
				assert.Empty(t, resp.header.Values("Allow"))
			}
			want := http.Header{}
			if row.cors {
				want = corsHeaders("*", false)
			}
			assert.Equal(t, want, accessControl(resp.header))
			assert.Equal(t, []string{corsVary}, resp.header.Values("Vary"))
			assert.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
			assert.Equal(t, "SAMEORIGIN", resp.header.Get("X-Frame-Options"))
			assert.Equal(t, []string{"private, no-cache"}, resp.header.Values("Cache-Control"))
		})
	}
}

// corsCase is a request of TestCORSActualRequests.
type corsCase struct {
	name   string
	method string
	target string
	header http.Header
	status int
}

// corsActualCases are requests of every route and every kind of answer:
// streamed archives and entries, JSON, empty bodies, 304, 206 and errors.
func corsActualCases() []corsCase {
	p2 := "/api/v4/projects/2"
	return []corsCase{
		{"1 archive", "GET", p1 + "/jobs/100/artifacts", asReporter, 200},
		{"1 archive HEAD", "HEAD", p1 + "/jobs/100/artifacts", asReporter, 200},
		{"1 archive range", "GET", p1 + "/jobs/100/artifacts", withHeader(asReporter, "Range", "bytes=0-9"), 206},
		{"1 archive 304", "GET", p2 + "/jobs/200/artifacts", headerOf("If-None-Match", "*"), 304},
		{"1 archive 416", "GET", p1 + "/jobs/100/artifacts", withHeader(asReporter, "Range", "bytes=999999999-"), 416},
		{"1 bad token 401", "GET", p1 + "/jobs/100/artifacts", asUser(apiTokenBad), 401},
		{"1 anonymous private 404", "GET", p1 + "/jobs/100/artifacts", nil, 404},
		{"1 missing job 404", "GET", p1 + "/jobs/999/artifacts", asReporter, 404},
		{"1 no archive 404", "GET", p1 + "/jobs/103/artifacts", asReporter, 404},
		{"2 archive", "GET", p1 + "/jobs/artifacts/main/download?job=test", asReporter, 200},
		{"2 missing job param 400", "GET", p1 + "/jobs/artifacts/main/download", asReporter, 400},
		{"3 entry", "GET", p1 + "/jobs/100/artifacts/hello.txt", asReporter, 200},
		{"3 entry HEAD", "HEAD", p1 + "/jobs/100/artifacts/hello.txt", asReporter, 200},
		{"3 missing entry 404", "GET", p1 + "/jobs/100/artifacts/nope.txt", asReporter, 404},
		{"3 invalid path 400", "GET", p1 + "/jobs/100/artifacts/%FF", asReporter, 400},
		{"4 entry", "GET", p1 + "/jobs/artifacts/main/raw/hello.txt?job=test", asReporter, 200},
		{"5 keep", "POST", p1 + "/jobs/106/artifacts/keep", asDeveloper, 200},
		{"5 keep reporter 403", "POST", p1 + "/jobs/106/artifacts/keep", asReporter, 403},
		{"5 keep anonymous 401", "POST", p1 + "/jobs/106/artifacts/keep", nil, 401},
		{"6 delete", "DELETE", p1 + "/jobs/102/artifacts", asMaintainer, 204},
		{"6 delete reporter 403", "DELETE", p1 + "/jobs/102/artifacts", asReporter, 403},
		{"8 tree", "GET", tree, asReporter, 200},
		{"8 tree missing path 404", "GET", tree + "?path=nope", asReporter, 404},
		{"10 runner download", "GET", "/api/v4/jobs/100/artifacts", headerOf("JOB-TOKEN", apiJobTokenOwn), 200},
		{"10 runner no token 401", "GET", "/api/v4/jobs/100/artifacts", nil, 401},
		{"no route 404", "GET", "/api/v4/nothing", asReporter, 404},
		{"wrong method 404", "PUT", p1 + "/jobs/100/artifacts", asMaintainer, 404},
		{"OPTIONS 204", "OPTIONS", p1 + "/jobs/100/artifacts", asMaintainer, 204},
		// Last: it expires project 1's archives.
		{"7 delete project artifacts", "DELETE", p1 + "/artifacts", asMaintainer, 202},
	}
}

// TestCORSActualRequests: any request with an Origin but a preflight gets
// Rack::Cors's headers on whatever the route answers, errors, streams,
// 304 and 206 included, next to the headers it has without Origin: the
// same Vary (which names Origin always), X-Frame-Options and
// X-Content-Type-Options. Never
// Access-Control-Allow-Headers or -Allow-Credentials for the '*' block.
// Without Origin, no Access-Control-* header at all.
func TestCORSActualRequests(t *testing.T) {
	for _, withOrigin := range []bool{true, false} {
		f := newAPIFixture(t, apiFixtureConfig{})
		for _, tc := range corsActualCases() {
			header := tc.header
			want := http.Header{}
			if withOrigin {
				header = withHeader(header, "Origin", "https://app.example.com")
				want = corsHeaders("*", false)
			}
			t.Run(fmt.Sprintf("%s origin=%v", tc.name, withOrigin), func(t *testing.T) {
				resp := f.do(t, tc.method, tc.target, header)
				require.Equal(t, tc.status, resp.status, "body: %s", resp.body)
				assert.Equal(t, want, accessControl(resp.header))
				assert.Equal(t, []string{corsVary}, resp.header.Values("Vary"))
				assert.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
				assert.Equal(t, "SAMEORIGIN", resp.header.Get("X-Frame-Options"))
			})
		}
	}
}

// TestCORSRedirect: a redirect to object storage carries the CORS headers
// too.
func TestCORSRedirect(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{wrapStore: func(m *memstore.Store) jobartifacts.Store { return &urlStore{Store: m} }})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		resp := f.do(t, method, p1+"/jobs/100/artifacts", withHeader(asReporter, "Origin", "https://app.example.com"))
		require.Equal(t, http.StatusFound, resp.status)
		assert.Equal(t, corsHeaders("*", false), accessControl(resp.header))
		assert.Equal(t, []string{corsVary}, resp.header.Values("Vary"))
	}
}

// TestCORSRunnerUpload: the runner's upload, accepted or refused, carries
// the CORS headers when it carries an Origin.
func TestCORSRunnerUpload(t *testing.T) {
	runner := newRunnerFixture(t, jobartifacts.WithMaxUploadSize(64<<10))
	jobID, token := runner.addJob(runnerProjectID, jobartifacts.StatusRunning)
	rows := []struct {
		name   string
		token  string
		data   []byte
		status int
	}{
		{"201", token, runnerZip("cors"), http.StatusCreated},
		{"403 wrong token", "glcbt-wrong", runnerZip("cors"), http.StatusForbidden},
		{"413 too large", token, make([]byte, 128<<10), http.StatusRequestEntityTooLarge},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			resp := runner.postMultipart(fmt.Sprintf("/jobs/%d/artifacts", jobID),
				map[string]string{"JOB-TOKEN": row.token, "Origin": "https://app.example.com"}, "file", "artifacts.zip", row.data)
			require.Equal(t, row.status, resp.status, "body: %s", resp.body)
			assert.Equal(t, corsHeaders("*", false), accessControl(resp.header))
			assert.Equal(t, []string{corsVary}, resp.header.Values("Vary"))
		})
	}
}

// TestCORSOrigin: with WithCORSOrigin, GitLab's first block: the origin
// that is exactly GitLab's URL is echoed and allowed credentials, on
// preflights and other requests alike; any other origin, however close,
// gets the '*' block.
func TestCORSOrigin(t *testing.T) {
	const own = "https://gitlab.example.com"
	f := newAPIFixture(t, apiFixtureConfig{options: []jobartifacts.Option{jobartifacts.WithCORSOrigin(own)}})
	rows := []struct {
		name        string
		origin      []string
		allowOrigin string
		credentials bool
	}{
		{"own", []string{own}, own, true},
		{"trailing slash", []string{own + "/"}, "*", false},
		{"other scheme", []string{"http://gitlab.example.com"}, "*", false},
		{"upper case", []string{"https://GitLab.example.com"}, "*", false},
		{"default port", []string{"https://gitlab.example.com:443"}, "*", false},
		{"other", []string{"https://app.example.com"}, "*", false},
		{"own twice, joined", []string{own, own}, "*", false},
		{"empty", []string{""}, "*", false},
	}
	for _, row := range rows {
		origin := http.Header{"Origin": row.origin}
		t.Run(row.name+" preflight", func(t *testing.T) {
			resp := f.do(t, http.MethodOptions, p1+"/jobs/100/artifacts",
				withHeader(origin, "Access-Control-Request-Method", "DELETE", "Access-Control-Request-Headers", "private-token"))
			require.Equal(t, http.StatusOK, resp.status)
			want := corsHeaders(row.allowOrigin, row.credentials)
			want["Access-Control-Allow-Headers"] = []string{"private-token"}
			assert.Equal(t, want, accessControl(resp.header))
			assert.Empty(t, resp.header.Values("Vary"))
		})
		t.Run(row.name+" GET", func(t *testing.T) {
			header := withHeader(asReporter)
			header["Origin"] = row.origin
			resp := f.do(t, http.MethodGet, p1+"/jobs/100/artifacts/hello.txt", header)
			require.Equal(t, http.StatusOK, resp.status)
			assert.Equal(t, corsHeaders(row.allowOrigin, row.credentials), accessControl(resp.header))
			assert.Equal(t, []string{corsVary}, resp.header.Values("Vary"))
		})
		t.Run(row.name+" 401", func(t *testing.T) {
			header := withHeader(asUser(apiTokenBad))
			header["Origin"] = row.origin
			resp := f.do(t, http.MethodDelete, p1+"/jobs/102/artifacts", header)
			require.Equal(t, http.StatusUnauthorized, resp.status)
			assert.Equal(t, corsHeaders(row.allowOrigin, row.credentials), accessControl(resp.header))
		})
	}
}

// TestCORSXOrigin: rack-cors takes X-Origin for a missing Origin, for a
// preflight and any other request alike; Origin, when sent, wins.
func TestCORSXOrigin(t *testing.T) {
	const gitlab = "https://gitlab.example.com"
	f := newAPIFixture(t, apiFixtureConfig{options: []jobartifacts.Option{jobartifacts.WithCORSOrigin(gitlab)}})
	for _, tc := range []struct {
		name   string
		header http.Header
		want   http.Header
	}{
		{"X-Origin alone", headerOf("X-Origin", "https://app.example.com"), corsHeaders("*", false)},
		{"X-Origin of GitLab", headerOf("X-Origin", gitlab), corsHeaders(gitlab, true)},
		{"Origin wins", headerOf("Origin", "https://app.example.com", "X-Origin", gitlab), corsHeaders("*", false)},
		{"neither", headerOf(), http.Header{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(t, "GET", p1+"/jobs/100/artifacts/hello.txt", withHeader(asReporter, flatten(tc.header)...))
			require.Equal(t, 200, resp.status, "body: %s", resp.body)
			assert.Equal(t, tc.want, accessControl(resp.header))
		})
	}
	t.Run("preflight", func(t *testing.T) {
		resp := f.do(t, "OPTIONS", p1+"/jobs/100/artifacts/hello.txt", headerOf("X-Origin", "https://app.example.com", "Access-Control-Request-Method", "GET"))
		require.Equal(t, 200, resp.status)
		assert.Equal(t, corsHeaders("*", false), accessControl(resp.header))
		assert.Empty(t, resp.body)
	})
}

// flatten turns h into name/value pairs.
func flatten(h http.Header) []string {
	var kv []string
	for k, vs := range h {
		for _, v := range vs {
			kv = append(kv, k, v)
		}
	}
	return kv
}
