package jobartifacts_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// TestHiddenProjectLooksMissing: a project the principal may not see answers
// byte for byte what a missing project answers, on every route, so existence
// never leaks.
func TestHiddenProjectLooksMissing(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	cases := []struct {
		name            string
		method          string
		hidden, missing string
		header          http.Header
	}{
		{"route 1 anonymous", "GET", p1 + "/jobs/100/artifacts", "/api/v4/projects/999/jobs/100/artifacts", nil},
		{"route 1 non-member, job missing too", "GET", p1 + "/jobs/999999/artifacts", "/api/v4/projects/999/jobs/999999/artifacts", asOutsider},
		{"route 1 by path", "GET", "/api/v4/projects/group%2Fsub%2Fmy%2Eproj/jobs/100/artifacts", "/api/v4/projects/group%2Fsub%2Fnone/jobs/100/artifacts", asOutsider},
		{"route 2", "GET", p1 + "/jobs/artifacts/main/download?job=test", "/api/v4/projects/999/jobs/artifacts/main/download?job=test", asOutsider},
		{"route 3", "GET", p1 + "/jobs/100/artifacts/hello.txt", "/api/v4/projects/999/jobs/100/artifacts/hello.txt", nil},
		{"route 4", "GET", p1 + "/jobs/artifacts/main/raw/hello.txt?job=test", "/api/v4/projects/999/jobs/artifacts/main/raw/hello.txt?job=test", asOutsider},
		{"route 5", "POST", p1 + "/jobs/106/artifacts/keep", "/api/v4/projects/999/jobs/106/artifacts/keep", asOutsider},
		{"route 6", "DELETE", p1 + "/jobs/100/artifacts", "/api/v4/projects/999/jobs/100/artifacts", asOutsider},
		{"route 7", "DELETE", p1 + "/artifacts", "/api/v4/projects/999/artifacts", asOutsider},
		{"route 8", "GET", tree, "/api/v4/projects/999/jobs/108/artifacts/tree", asOutsider},
		{"HEAD", "HEAD", p1 + "/jobs/100/artifacts", "/api/v4/projects/999/jobs/100/artifacts", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hidden := f.do(t, tc.method, tc.hidden, tc.header)
			missing := f.do(t, tc.method, tc.missing, tc.header)
			require.Equal(t, http.StatusNotFound, hidden.status)
			require.Equal(t, http.StatusNotFound, missing.status)
			assert.Equal(t, string(missing.body), string(hidden.body))
			if tc.method != http.MethodHead {
				assert.Equal(t, bodyProjectNotFound, string(hidden.body))
			}
			hidden.header.Del("Date")
			missing.header.Del("Date")
			assert.Equal(t, missing.header, hidden.header)
		})
	}
}

// TestHiddenProjectBeforeJobLookup: visibility is decided before the job is
// looked up, so a failing job lookup cannot reveal a hidden project.
func TestHiddenProjectBeforeJobLookup(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{wrapStore: func(s *memstore.Store) jobartifacts.Store {
		return &faultyStore{Store: s, faults: map[string]error{"Job": errDiskOnFire}}
	}})
	hidden := f.do(t, "GET", p1+"/jobs/100/artifacts", asOutsider)
	assert.Equal(t, 404, hidden.status)
	assert.Equal(t, bodyProjectNotFound, string(hidden.body))
	forbidden := f.do(t, "GET", p1+"/jobs/100/artifacts", asGuest)
	assert.Equal(t, 403, forbidden.status, "project-level 403 also comes before the job")
	assert.Empty(t, f.logs.String())
	member := f.do(t, "GET", p1+"/jobs/100/artifacts", asReporter)
	assert.Equal(t, 500, member.status, "a member's request does reach the job lookup")
}

// apiStep is one request of a scenario whose steps change the store.
type apiStep struct {
	apiCase
	check func(t *testing.T, f *apiFixture) // optional, after the request
}

func runSteps(t *testing.T, f *apiFixture, steps []apiStep) {
	t.Helper()
	for i, s := range steps {
		ok := t.Run(fmt.Sprintf("%02d %s", i, s.name), func(t *testing.T) {
			checkAPICase(t, f, s.apiCase)
			if s.check != nil {
				s.check(t, f)
			}
		})
		require.True(t, ok, "later steps depend on this one")
	}
}

// TestDeleteJobArtifacts is route 6: Maintainer deletes every artifact of a
// job but its log; 204, also when nothing is left.
func TestDeleteJobArtifacts(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	ctx := context.Background()
	before, err := f.store.Job(ctx, 1, 106)
	require.NoError(t, err)
	archive, ok := before.Archive()
	require.True(t, ok)

	steps := []apiStep{
		{apiCase: apiCase{name: "developer may not", method: "DELETE", target: p1 + "/jobs/106/artifacts", header: asDeveloper, status: 403, body: bodyForbidden}},
		{apiCase: apiCase{name: "job token is not looked for", method: "DELETE", target: p1 + "/jobs/106/artifacts?job_token=" + apiJobTokenOwn, status: 401, body: bodyUnauthorized}},
		{apiCase: apiCase{name: "still there", target: p1 + "/jobs/106/artifacts", header: asReporter, status: 200, archiveOf: 106}},
		{apiCase: apiCase{name: "maintainer deletes", method: "DELETE", target: p1 + "/jobs/106/artifacts", header: asMaintainer, status: 204, body: ""},
			check: func(t *testing.T, f *apiFixture) {
				j, err := f.store.Job(ctx, 1, 106)
				require.NoError(t, err)
				require.Len(t, j.Artifacts, 1, "only the log survives")
				assert.Equal(t, jobartifacts.ArtifactTypeTrace, j.Artifacts[0].FileType)
				// The archive's blob is queued: it goes a grace period later,
				// so that downloads under way stay whole.
				blob, err := f.store.OpenBlob(ctx, archive.Blob)
				require.NoError(t, err, "the archive's blob waits for the sweeper")
				require.NoError(t, blob.Close())
				_, err = jobartifacts.NewSweeper(f.store, jobartifacts.WithBlobGrace(0)).Sweep(ctx)
				require.NoError(t, err)
				_, err = f.store.OpenBlob(ctx, archive.Blob)
				assert.ErrorIs(t, err, jobartifacts.ErrNotFound, "the archive's blob is gone after the sweep")
				trace, err := f.store.OpenBlob(ctx, j.Artifacts[0].Blob)
				require.NoError(t, err, "the log's blob survives")
				require.NoError(t, trace.Close())
			}},
		{apiCase: apiCase{name: "download is 404", target: p1 + "/jobs/106/artifacts", header: asReporter, status: 404, body: bodyNotFound}},
		{apiCase: apiCase{name: "file is 404", target: p1 + "/jobs/106/artifacts/rspec.xml", header: asReporter, status: 404, body: bodyNotFound}},
		{apiCase: apiCase{name: "keep is 404", method: "POST", target: p1 + "/jobs/106/artifacts/keep", header: asDeveloper, status: 404, body: bodyNotFound}},
		{apiCase: apiCase{name: "nothing left: 204 again", method: "DELETE", target: p1 + "/jobs/106/artifacts", header: asMaintainer, status: 204, body: ""}},
		{apiCase: apiCase{name: "job with only a log: 204", method: "DELETE", target: p1 + "/jobs/103/artifacts", header: asMaintainer, status: 204, body: ""}},
		{apiCase: apiCase{name: "other jobs untouched", target: p1 + "/jobs/100/artifacts", header: asReporter, status: 200, archiveOf: 100}},
	}
	runSteps(t, f, steps)
}

// TestDeleteProjectArtifacts is route 7: every unkept artifact of the project
// expires now (202); kept ones and other projects' stay.
func TestDeleteProjectArtifacts(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	steps := []apiStep{
		{apiCase: apiCase{name: "before: file served", target: p1 + "/jobs/100/artifacts/hello.txt", header: asReporter, status: 200, body: "hello world\n"}},
		{apiCase: apiCase{name: "developer may not", method: "DELETE", target: p1 + "/artifacts", header: asDeveloper, status: 403, body: bodyForbidden}},
		{apiCase: apiCase{name: "maintainer expires them", method: "DELETE", target: p1 + "/artifacts", header: asMaintainer, status: 202, body: bodyAccepted},
			check: func(t *testing.T, f *apiFixture) {
				j, err := f.store.Job(context.Background(), 1, 100)
				require.NoError(t, err)
				require.NotNil(t, j.ArtifactsExpireAt)
				assert.True(t, j.ArtifactsExpireAt.Equal(apiNow))
			}},
		{apiCase: apiCase{name: "unkept file now expired", target: p1 + "/jobs/100/artifacts/hello.txt", header: asReporter, status: 404, body: bodyNotFound}},
		{apiCase: apiCase{name: "unkept tree now expired", target: tree, header: asReporter, status: 404, body: bodyArtifactsNotFound}},
		{apiCase: apiCase{name: "unkept cannot be kept any more", method: "POST", target: p1 + "/jobs/100/artifacts/keep", header: asDeveloper, status: 404, body: bodyNotFound}},
		{apiCase: apiCase{name: "route 1 still serves until swept", target: p1 + "/jobs/100/artifacts", header: asReporter, status: 200, archiveOf: 100}},
		{apiCase: apiCase{name: "kept artifacts remain", target: p1 + "/jobs/105/artifacts/kept.txt", header: asReporter, status: 200, body: "kept forever\n"}},
		{apiCase: apiCase{name: "other projects untouched", target: "/api/v4/projects/2/jobs/200/artifacts/public.txt", status: 200, body: "public artifact\n"}},
		{apiCase: apiCase{name: "again: 202", method: "DELETE", target: "/api/v4/projects/group%2Fsub%2Fmy%2Eproj/artifacts", header: asMaintainer, status: 202, body: bodyAccepted}},
	}
	runSteps(t, f, steps)
}

// TestConditionalAndRangeRequests: Range, If-None-Match, If-Modified-Since,
// If-Range and HEAD on the whole archive (route 1) and on one file (route 3).
func TestConditionalAndRangeRequests(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	targets := []struct {
		name, target string
	}{
		{"archive", p1 + "/jobs/100/artifacts"},
		{"file", p1 + "/jobs/100/artifacts/zstd.txt"},
		{"archive via route 2", p1 + "/jobs/artifacts/main/download?job=test"},
		{"file via route 4", p1 + "/jobs/artifacts/main/raw/hello.txt?job=test"},
	}
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			full := f.do(t, "GET", target.target, asReporter)
			require.Equal(t, http.StatusOK, full.status)
			etag, lastModified := full.header.Get("ETag"), full.header.Get("Last-Modified")
			require.NotEmpty(t, etag)
			require.True(t, strings.HasPrefix(etag, `"`), "strong ETag: %s", etag)
			require.NotEmpty(t, lastModified)
			modTime, err := http.ParseTime(lastModified)
			require.NoError(t, err)
			size := len(full.body)
			require.Greater(t, size, 10)
			assert.Equal(t, "bytes", full.header.Get("Accept-Ranges"))

			with := func(kv ...string) http.Header {
				h := asReporter.Clone()
				for i := 0; i+1 < len(kv); i += 2 {
					h.Set(kv[i], kv[i+1])
				}
				return h
			}
			cases := []struct {
				name         string
				method       string
				header       http.Header
				status       int
				body         string
				contentRange string
			}{
				{name: "range", header: with("Range", "bytes=0-4"), status: 206, body: string(full.body[:5]),
					contentRange: fmt.Sprintf("bytes 0-4/%d", size)},
				{name: "suffix range", header: with("Range", "bytes=-3"), status: 206, body: string(full.body[size-3:]),
					contentRange: fmt.Sprintf("bytes %d-%d/%d", size-3, size-1, size)},
				{name: "open range from the middle", header: with("Range", "bytes=7-"), status: 206, body: string(full.body[7:]),
					contentRange: fmt.Sprintf("bytes 7-%d/%d", size-1, size)},
				// Go's http.ServeContent words the 416, as it does in GitLab Workhorse.
				{name: "unsatisfiable range", header: with("Range", fmt.Sprintf("bytes=%d-", size+10)), status: 416,
					body: "invalid range: failed to overlap\n", contentRange: fmt.Sprintf("bytes */%d", size)},
				{name: "If-None-Match matches", header: with("If-None-Match", etag), status: 304},
				{name: "If-None-Match star", header: with("If-None-Match", "*"), status: 304},
				{name: "If-None-Match other", header: with("If-None-Match", `"other"`), status: 200, body: string(full.body)},
				{name: "If-Modified-Since now", header: with("If-Modified-Since", lastModified), status: 304},
				{name: "If-Modified-Since earlier", header: with("If-Modified-Since", modTime.Add(-time.Hour).Format(http.TimeFormat)), status: 200, body: string(full.body)},
				{name: "If-Range matches", header: with("Range", "bytes=0-4", "If-Range", etag), status: 206, body: string(full.body[:5]),
					contentRange: fmt.Sprintf("bytes 0-4/%d", size)},
				{name: "If-Range stale", header: with("Range", "bytes=0-4", "If-Range", `"stale"`), status: 200, body: string(full.body)},
				{name: "If-Range by date", header: with("Range", "bytes=0-4", "If-Range", lastModified), status: 206, body: string(full.body[:5]),
					contentRange: fmt.Sprintf("bytes 0-4/%d", size)},
				{name: "HEAD", method: "HEAD", header: asReporter, status: 200},
				{name: "HEAD with range", method: "HEAD", header: with("Range", "bytes=0-4"), status: 206, contentRange: fmt.Sprintf("bytes 0-4/%d", size)},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					method := cmpOr(tc.method, "GET")
					resp := f.do(t, method, target.target, tc.header)
					require.Equal(t, tc.status, resp.status, "body: %s", resp.body)
					assert.Equal(t, tc.body, string(resp.body))
					assert.Equal(t, tc.contentRange, resp.header.Get("Content-Range"))
					assert.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
					if tc.status == 200 || tc.status == 304 {
						assert.Equal(t, etag, resp.header.Get("ETag"))
					}
					if tc.status == 200 {
						assert.Equal(t, strconv.Itoa(size), resp.header.Get("Content-Length"))
						for _, k := range []string{"Content-Type", "Content-Disposition", "Last-Modified", "Accept-Ranges"} {
							assert.Equal(t, full.header.Get(k), resp.header.Get(k), k)
						}
					}
				})
			}
		})
	}
}

// TestBlobURLRedirect: a store with BlobURLer answers whole-archive downloads
// with 302 to its URL; ErrNotSupported falls back to serving the bytes; any
// other error is a 500 that says nothing.
func TestBlobURLRedirect(t *testing.T) {
	cases := []struct {
		name     string
		urlErr   error
		target   string
		status   int
		location string // prefix
		body     string
	}{
		{name: "route 1 redirects", target: p1 + "/jobs/100/artifacts", status: 302, location: "https://objects.example.com/projects/1/jobs/100/archive-"},
		{name: "route 2 redirects", target: p1 + "/jobs/artifacts/main/download?job=test", status: 302, location: "https://objects.example.com/projects/1/jobs/101/archive-"},
		{name: "single files are still served", target: p1 + "/jobs/100/artifacts/hello.txt", status: 200, body: "hello world\n"},
		{name: "no archive is still 404", target: p1 + "/jobs/103/artifacts", status: 404, body: bodyNotFound},
		{name: "not supported: served", urlErr: jobartifacts.ErrNotSupported, target: p1 + "/jobs/100/artifacts", status: 200},
		{name: "wrapped not supported: served", urlErr: fmt.Errorf("presign: %w", jobartifacts.ErrNotSupported), target: p1 + "/jobs/100/artifacts", status: 200},
		{name: "blob gone", urlErr: jobartifacts.ErrNotFound, target: p1 + "/jobs/100/artifacts", status: 404, body: bodyNotFound},
		{name: "failure", urlErr: errDiskOnFire, target: p1 + "/jobs/100/artifacts", status: 500, body: bodyInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAPIFixture(t, apiFixtureConfig{wrapStore: func(s *memstore.Store) jobartifacts.Store {
				return &urlStore{Store: s, err: tc.urlErr}
			}})
			resp := f.do(t, "GET", tc.target, asReporter)
			require.Equal(t, tc.status, resp.status, "body: %s", resp.body)
			switch {
			case tc.status == 302:
				assert.True(t, strings.HasPrefix(resp.header.Get("Location"), tc.location), "Location: %s", resp.header.Get("Location"))
				assert.Contains(t, resp.header.Get("Location"), "artifacts.zip")
			case tc.status == 200 && tc.body == "":
				assert.Equal(t, string(f.archives[100]), string(resp.body))
			default:
				assert.Equal(t, tc.body, string(resp.body))
			}
			assert.NotContains(t, string(resp.body), "disk on fire")
		})
	}
}

// TestServerErrorsAreLoggedNotShown: a store or authorizer failure is a 500
// whose body is GitLab's generic text; the cause goes to the log, with no
// token in it. 4xx answers log nothing.
func TestServerErrorsAreLoggedNotShown(t *testing.T) {
	cases := []struct {
		name   string
		fault  string // faultyStore method that fails
		authz  bool   // the authorizer fails instead
		method string
		target string
		header http.Header
		logs   string // also in the log: which action failed
	}{
		{name: "project lookup", fault: "Project", target: p1 + "/jobs/100/artifacts", header: asReporter},
		{name: "project lookup by path", fault: "ProjectByPath", target: "/api/v4/projects/group%2Fsub%2Fmy%2Eproj/jobs/100/artifacts?private_token=" + apiTokenReporter},
		{name: "job lookup", fault: "Job", target: p1 + "/jobs/100/artifacts/hello.txt", header: asReporter},
		{name: "latest successful job", fault: "LatestSuccessfulJob", target: p1 + "/jobs/artifacts/main/download?job=test", header: headerOf("JOB-TOKEN", apiJobTokenOwn)},
		{name: "recent successful job", fault: "RecentSuccessfulJob", target: p1 + "/jobs/artifacts/main/raw/x?job=test&search_recent_successful_pipelines=true", header: asReporter},
		{name: "open blob", fault: "OpenBlob", target: p1 + "/jobs/100/artifacts", header: headerOf("Authorization", "Bearer "+apiTokenReporter)},
		{name: "open blob for a file", fault: "OpenBlob", target: p1 + "/jobs/100/artifacts/hello.txt", header: asReporter},
		{name: "open blob for the tree", fault: "OpenBlob", target: tree, header: asReporter},
		{name: "keep", fault: "KeepArtifacts", method: "POST", target: p1 + "/jobs/106/artifacts/keep", header: asDeveloper},
		{name: "forget artifacts", fault: "ForgetArtifacts", method: "DELETE", target: p1 + "/jobs/106/artifacts", header: asMaintainer},
		{name: "expire project artifacts", fault: "ExpireProjectArtifacts", method: "DELETE", target: p1 + "/artifacts", header: asMaintainer},
		{name: "authenticate", authz: true, target: p1 + "/jobs/100/artifacts", header: asReporter},
		{name: "authorize read", authz: true, target: "/api/v4/projects/2/jobs/200/artifacts", header: asMaintainer, logs: "read_artifacts"},
		{name: "authorize keep", authz: true, method: "POST", target: "/api/v4/projects/2/jobs/200/artifacts/keep", header: asMaintainer, logs: "keep_artifacts"},
		{name: "authorize delete", authz: true, method: "DELETE", target: "/api/v4/projects/2/jobs/200/artifacts", header: asMaintainer, logs: "delete_artifacts"},
		{name: "authorize delete project", authz: true, method: "DELETE", target: "/api/v4/projects/2/artifacts", header: asMaintainer, logs: "delete_project_artifacts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := apiFixtureConfig{}
			if tc.fault != "" {
				cfg.wrapStore = func(s *memstore.Store) jobartifacts.Store {
					return &faultyStore{Store: s, faults: map[string]error{tc.fault: fmt.Errorf("store: %w", errDiskOnFire)}}
				}
			}
			if tc.authz {
				cfg.wrapAuthz = func(a jobartifacts.Authorizer) jobartifacts.Authorizer {
					return &faultyAuthorizer{Authorizer: a, authnFailToken: apiTokenReporter, authzFailProject: 2, err: errDiskOnFire}
				}
			}
			f := newAPIFixture(t, cfg)
			resp := f.do(t, cmpOr(tc.method, "GET"), tc.target, tc.header)
			require.Equal(t, http.StatusInternalServerError, resp.status, "body: %s", resp.body)
			assert.Equal(t, bodyInternal, string(resp.body))
			assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
			assert.Empty(t, resp.header.Get("Content-Disposition"))

			logs := f.logs.String()
			assert.Contains(t, logs, "disk on fire", "the cause is logged")
			assert.Contains(t, logs, "status=500")
			assert.Contains(t, logs, tc.logs)
			for _, token := range []string{apiTokenReporter, apiTokenDeveloper, apiTokenMaintainer, apiJobTokenOwn} {
				assert.NotContains(t, logs, token, "a token reached the log")
			}
		})
	}

	t.Run("4xx logs nothing", func(t *testing.T) {
		f := newAPIFixture(t, apiFixtureConfig{})
		for _, r := range []struct {
			method, target string
			header         http.Header
		}{
			{"GET", p1 + "/jobs/100/artifacts", asUser(apiTokenBad)},
			{"GET", p1 + "/jobs/100/artifacts?private_token=" + apiTokenBad, nil},
			{"GET", p1 + "/jobs/100/artifacts", asGuest},
			{"GET", p1 + "/jobs/100/artifacts", headerOf("JOB-TOKEN", apiJobTokenDenied)},
			{"GET", p1 + "/jobs/999999/artifacts", asReporter},
			{"GET", p1 + "/jobs/100/artifacts/nope.txt", asReporter},
			{"GET", p1 + "/jobs/100/artifacts/%00", asReporter},
			{"GET", tree + "?page=x", asReporter},
			{"POST", p1 + "/jobs/106/artifacts/keep", nil},
			{"GET", "/api/v4/nothing", nil},
		} {
			resp := f.do(t, r.method, r.target, r.header)
			require.GreaterOrEqual(t, resp.status, 400)
			require.Less(t, resp.status, 500)
		}
		assert.Empty(t, f.logs.String())
	})
}

// TestHandlerOptions: WithBasePath, WithMaxEntrySize and WithLogger(nil).
func TestHandlerOptions(t *testing.T) {
	cases := []struct {
		name    string
		options []jobartifacts.Option
		method  string // GET when empty
		target  string
		status  int
		body    string
	}{
		{name: "custom base path", options: []jobartifacts.Option{jobartifacts.WithBasePath("/gitlab/api/v4/")},
			target: "/gitlab/api/v4/projects/1/jobs/100/artifacts/hello.txt", status: 200, body: "hello world\n"},
		{name: "custom base path: default path is unknown", options: []jobartifacts.Option{jobartifacts.WithBasePath("/gitlab/api/v4")},
			target: p1 + "/jobs/100/artifacts/hello.txt", status: 404, body: bodyRouteNotFound},
		{name: "empty base path", options: []jobartifacts.Option{jobartifacts.WithBasePath("")},
			target: "/projects/1/jobs/100/artifacts/hello.txt", status: 200, body: "hello world\n"},
		{name: "empty base path: wrong method", options: []jobartifacts.Option{jobartifacts.WithBasePath("")},
			method: "PUT", target: "/projects/1/jobs/100/artifacts/hello.txt", status: 404, body: bodyRouteNotFound},
		{name: "entry over the size limit", options: []jobartifacts.Option{jobartifacts.WithMaxEntrySize(10)},
			target: p1 + "/jobs/100/artifacts/hello.txt", status: 413, body: `{"message":"file size has reached maximum size limit"}`},
		{name: "entry at the size limit", options: []jobartifacts.Option{jobartifacts.WithMaxEntrySize(12)},
			target: p1 + "/jobs/100/artifacts/hello.txt", status: 200, body: "hello world\n"},
		{name: "size limit leaves archives alone", options: []jobartifacts.Option{jobartifacts.WithMaxEntrySize(1)},
			target: p1 + "/jobs/101/artifacts", status: 200},
		{name: "nil logger and clock keep the defaults", options: []jobartifacts.Option{jobartifacts.WithLogger(nil), jobartifacts.WithClock(nil)},
			target: p1 + "/jobs/100/artifacts/hello.txt", status: 200, body: "hello world\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newAPIFixture(t, apiFixtureConfig{options: tc.options})
			method := tc.method
			if method == "" {
				method = "GET"
			}
			resp := f.do(t, method, tc.target, asReporter)
			require.Equal(t, tc.status, resp.status, "body: %s", resp.body)
			if tc.body == "" {
				assert.Equal(t, string(f.archives[101]), string(resp.body))
			} else {
				assert.Equal(t, tc.body, string(resp.body))
			}
		})
	}
}

// TestTwoHandlersInOneProcess: handlers share no state; each answers from its
// own store.
func TestTwoHandlersInOneProcess(t *testing.T) {
	a := newAPIFixture(t, apiFixtureConfig{})
	b := newAPIFixture(t, apiFixtureConfig{})
	_, err := b.store.ForgetArtifacts(context.Background(), 1, 100)
	require.NoError(t, err)
	assert.Equal(t, 200, a.do(t, "GET", p1+"/jobs/100/artifacts", asReporter).status)
	assert.Equal(t, 404, b.do(t, "GET", p1+"/jobs/100/artifacts", asReporter).status)
}

// TestAuthorizerSentinels: an Authorizer's sentinel errors map to GitLab's
// answers (ErrUnauthorized → 401, ErrForbidden → 403, ErrNotFound → 404).
func TestAuthorizerSentinels(t *testing.T) {
	cases := []struct {
		err    error
		status int
		body   string
	}{
		{fmt.Errorf("session: %w", jobartifacts.ErrUnauthorized), 401, bodyUnauthorized},
		{fmt.Errorf("policy: %w", jobartifacts.ErrForbidden), 403, bodyForbidden},
		{fmt.Errorf("policy: %w", jobartifacts.ErrNotFound), 404, bodyNotFound},
		{errors.Join(errDiskOnFire, jobartifacts.ErrTooLarge), 413, `{"message":"file size has reached maximum size limit"}`},
	}
	for _, tc := range cases {
		t.Run(tc.err.Error(), func(t *testing.T) {
			f := newAPIFixture(t, apiFixtureConfig{wrapAuthz: func(a jobartifacts.Authorizer) jobartifacts.Authorizer {
				return &faultyAuthorizer{Authorizer: a, authzFailProject: 1, err: tc.err}
			}})
			resp := f.do(t, "GET", p1+"/jobs/100/artifacts", asReporter)
			assert.Equal(t, tc.status, resp.status)
			assert.Equal(t, tc.body, string(resp.body))
		})
	}
	t.Run("a hidden job looks missing", func(t *testing.T) {
		f := newAPIFixture(t, apiFixtureConfig{wrapAuthz: func(a jobartifacts.Authorizer) jobartifacts.Authorizer {
			return hideJobsAuthorizer{a}
		}})
		hidden := f.do(t, "GET", p1+"/jobs/100/artifacts/hello.txt", asReporter)
		missing := f.do(t, "GET", p1+"/jobs/999999/artifacts/hello.txt", asReporter)
		assert.Equal(t, 404, hidden.status)
		assert.Equal(t, bodyJobNotFound, string(hidden.body))
		assert.Equal(t, string(missing.body), string(hidden.body))
	})
	t.Run("authenticate ErrUnauthorized", func(t *testing.T) {
		f := newAPIFixture(t, apiFixtureConfig{wrapAuthz: func(a jobartifacts.Authorizer) jobartifacts.Authorizer {
			return &faultyAuthorizer{Authorizer: a, authnFailToken: apiTokenReporter, err: fmt.Errorf("expired: %w", jobartifacts.ErrUnauthorized)}
		}})
		resp := f.do(t, "GET", p1+"/jobs/100/artifacts", asReporter)
		assert.Equal(t, 401, resp.status)
		assert.Equal(t, bodyUnauthorized, string(resp.body))
	})
	t.Run("a credential that authenticates to nobody is 401", func(t *testing.T) {
		f := newAPIFixture(t, apiFixtureConfig{wrapAuthz: func(a jobartifacts.Authorizer) jobartifacts.Authorizer {
			return anonymousAuthorizer{a}
		}})
		resp := f.do(t, "GET", p1+"/jobs/100/artifacts", asReporter)
		assert.Equal(t, 401, resp.status)
		assert.Equal(t, bodyUnauthorized, string(resp.body))
	})
}

// anonymousAuthorizer wrongly answers every credential with a nil principal;
// the handler must still refuse the credential (401), never go anonymous.
type anonymousAuthorizer struct{ jobartifacts.Authorizer }

func (anonymousAuthorizer) Authenticate(context.Context, jobartifacts.Credential) (jobartifacts.Principal, error) {
	return nil, nil
}

// hideJobsAuthorizer hides every job while allowing at project level.
type hideJobsAuthorizer struct{ jobartifacts.Authorizer }

func (a hideJobsAuthorizer) Authorize(ctx context.Context, p jobartifacts.Principal, action jobartifacts.Action, project *jobartifacts.Project, job *jobartifacts.Job) (jobartifacts.Decision, error) {
	if job != nil {
		return jobartifacts.Hide(), nil
	}
	return a.Authorizer.Authorize(ctx, p, action, project, job)
}

// TestTreeLinksOverHTTPS: pagination links carry the request's scheme.
func TestTreeLinksOverHTTPS(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{tls: true})
	require.True(t, strings.HasPrefix(f.server.URL, "https://"))
	resp := f.do(t, "GET", tree+"?per_page=2", asReporter)
	require.Equal(t, 200, resp.status)
	link := "<" + f.server.URL + tree + "?page=%d&per_page=2>"
	assert.Equal(t, fmt.Sprintf(link+`; rel="next", `+link+`; rel="first", `+link+`; rel="last"`, 2, 1, 2), resp.header.Get("Link"))
}

// TestEntryOverHTTP2: entries go out whole over HTTP/2, where the handler
// lends them no pooled memory (entryBuffers).
func TestEntryOverHTTP2(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{tls: true, http2: true})
	for range 3 {
		req, err := http.NewRequest("GET", f.server.URL+p1+"/jobs/100/artifacts/hello.txt", nil)
		require.NoError(t, err)
		req.Header = asReporter.Clone()
		resp, err := f.client.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "HTTP/2.0", resp.Proto)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "hello world\n", string(body))
	}
}
