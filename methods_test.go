package jobartifacts_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Credentials every row of the method tests is sent with.
var methodCredentials = []struct {
	name   string
	header http.Header
	query  string // appended to the target
}{
	{name: "no credential"},
	{name: "bad PRIVATE-TOKEN", header: asUser(apiTokenBad)},
	{name: "bad JOB-TOKEN", header: headerOf("JOB-TOKEN", apiTokenBad)},
	{name: "maintainer", header: asMaintainer},
	{name: "outsider", header: asOutsider},
	{name: "JOB-TOKEN", header: headerOf("JOB-TOKEN", apiJobTokenOwn)},
	{name: "job_token query", query: "job_token=" + apiJobTokenOwn},
}

// withQuery appends q to target's query.
func withQuery(target, q string) string {
	switch {
	case q == "":
		return target
	case strings.Contains(target, "?"):
		return target + "&" + q
	default:
		return target + "?" + q
	}
}

// TestWrongMethod: a method that no route takes on a route's path is
// GitLab's catch-all 404 (lib/api/api.rb, route :any, '*path'), which
// Grape's router runs before its 405, with no filter that authenticates:
// the same answer as an unknown path, whatever the credential, with no
// Allow header.
func TestWrongMethod(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	const (
		file    = p1 + "/jobs/100/artifacts/hello.txt"
		archive = p1 + "/jobs/100/artifacts"
		keep    = p1 + "/jobs/106/artifacts/keep"
		tree    = p1 + "/jobs/108/artifacts/tree"
		runner  = "/api/v4/jobs/100/artifacts"
	)
	rows := []struct {
		target  string
		methods []string
	}{
		{archive, []string{"PUT", "POST", "PATCH"}},                                                 // routes 1 and 6
		{p1 + "/jobs/artifacts/main/download?job=test", []string{"POST", "PUT", "PATCH", "DELETE"}}, // 2
		{file, []string{"POST", "PUT", "PATCH", "DELETE"}},                                          // 3
		{p1 + "/jobs/artifacts/main/raw/hello.txt?job=test", []string{"POST", "PUT", "DELETE"}},     // 4
		{keep, []string{"PUT", "PATCH", "DELETE"}},                                                  // 5
		{p1 + "/artifacts", []string{"GET", "HEAD", "POST", "PUT", "PATCH"}},                        // 7
		{tree, []string{"POST", "PUT", "DELETE"}},                                                   // 8
		{runner, []string{"PUT", "PATCH", "DELETE"}},                                                // 9 and 10
		{"/api/v4/projects/group/sub/my.proj/jobs/100/artifacts", []string{"PUT"}},                  // raw-slash id
		{"/api/v4/projects/999/artifacts", []string{"GET"}},                                         // missing project
		{archive, []string{"TRACE", "PROPFIND"}},                                                    // any method
	}
	for _, row := range rows {
		for _, method := range row.methods {
			for _, cred := range methodCredentials {
				target := withQuery(row.target, cred.query)
				t.Run(method+" "+target+" "+cred.name, func(t *testing.T) {
					resp := f.do(t, method, target, cred.header)
					require.Equal(t, http.StatusNotFound, resp.status, "body: %s", resp.body)
					want := bodyRouteNotFound
					if method == http.MethodHead {
						want = ""
					}
					assert.Equal(t, want, string(resp.body))
					assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
					assert.Equal(t, strconv.Itoa(len(bodyRouteNotFound)), resp.header.Get("Content-Length"))
					assert.Empty(t, resp.header.Values("Allow"))
					assert.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
					assert.Equal(t, "SAMEORIGIN", resp.header.Get("X-Frame-Options"))
					assert.Equal(t, []string{"private, no-cache"}, resp.header.Values("Cache-Control"))
				})
			}
		}
	}

	// The methods these paths do take are unchanged: HEAD is GET, GET on
	// keep is route 3 (an entry named keep), DELETE on the archive is 6.
	resp := f.do(t, "HEAD", file, asReporter)
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "12", resp.header.Get("Content-Length"))
	resp = f.do(t, "GET", keep, asReporter)
	require.Equal(t, http.StatusNotFound, resp.status)
	assert.Equal(t, bodyNotFound, string(resp.body))
	resp = f.do(t, "DELETE", p1+"/jobs/102/artifacts", asMaintainer)
	require.Equal(t, http.StatusNoContent, resp.status)
}

// TestOptions: OPTIONS on a route's path is Grape's answer for the first
// route, in GitLab's order, whose path matches: the before filter of its API
// class (API::Ci::JobArtifacts' authenticate_non_get! authenticates, taking
// job tokens where that route does; API::Ci::Runner's filters authenticate
// nothing), then 204 with Allow: OPTIONS, then the path's methods in the
// order GitLab declares them, HEAD after GET. No project or job is looked
// up.
func TestOptions(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	const (
		userOnly = iota // authenticate_non_get!, no job token
		userOrJob
		anyone
	)
	rows := []struct {
		name   string
		target string
		allow  string
		filter int
	}{
		{"routes 1 and 6", p1 + "/jobs/100/artifacts", "OPTIONS, GET, DELETE, HEAD", userOnly},
		{"route 2", p1 + "/jobs/artifacts/main/download?job=test", "OPTIONS, GET, HEAD", userOrJob},
		{"route 3", p1 + "/jobs/100/artifacts/hello.txt", "OPTIONS, GET, HEAD", userOrJob},
		{"route 4", p1 + "/jobs/artifacts/main/raw/hello.txt?job=test", "OPTIONS, GET, HEAD", userOrJob},
		{"route 5 is route 3's path first", p1 + "/jobs/106/artifacts/keep", "OPTIONS, GET, HEAD", userOrJob},
		{"route 7", p1 + "/artifacts", "OPTIONS, DELETE", userOnly},
		{"route 8", p1 + "/jobs/108/artifacts/tree", "OPTIONS, GET, HEAD", userOrJob},
		{"routes 9 and 10", "/api/v4/jobs/100/artifacts", "OPTIONS, POST, GET, HEAD", anyone},
		{"raw-slash id", "/api/v4/projects/group/sub/my.proj/jobs/100/artifacts", "OPTIONS, GET, DELETE, HEAD", userOnly},
		{"missing project", "/api/v4/projects/999/jobs/1/artifacts/x", "OPTIONS, GET, HEAD", userOrJob},
	}
	for _, row := range rows {
		for _, cred := range methodCredentials {
			target := withQuery(row.target, cred.query)
			t.Run(row.name+" "+cred.name, func(t *testing.T) {
				resp := f.do(t, http.MethodOptions, target, cred.header)
				assert.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
				assert.Equal(t, "SAMEORIGIN", resp.header.Get("X-Frame-Options"))
				assert.Equal(t, []string{"private, no-cache"}, resp.header.Values("Cache-Control"))
				authenticated := cred.name == "maintainer" || cred.name == "outsider" ||
					row.filter == userOrJob && (cred.name == "JOB-TOKEN" || cred.name == "job_token query")
				if row.filter != anyone && !authenticated {
					require.Equal(t, http.StatusUnauthorized, resp.status, "body: %s", resp.body)
					assert.Equal(t, bodyUnauthorized, string(resp.body))
					assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
					assert.Empty(t, resp.header.Values("Allow"))
					return
				}
				require.Equal(t, http.StatusNoContent, resp.status, "body: %s", resp.body)
				assert.Empty(t, resp.body)
				assert.Equal(t, []string{row.allow}, resp.header.Values("Allow"))
				assert.Empty(t, resp.header.Values("Content-Type"))
				assert.Empty(t, resp.header.Values("Content-Length"))
			})
		}
	}

	// A path that no route's pattern takes is the catch-all's 404, even on
	// OPTIONS.
	for _, target := range []string{p1 + "/jobs/artifacts/main/other", "/api/v4/nothing", p1 + "/jobs/100"} {
		resp := f.do(t, http.MethodOptions, target, asMaintainer)
		require.Equal(t, http.StatusNotFound, resp.status, target)
		assert.Equal(t, bodyRouteNotFound, string(resp.body), target)
		assert.Empty(t, resp.header.Values("Allow"), target)
	}
}
