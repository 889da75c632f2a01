package jobartifacts_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// Fuzz targets (issue 10): run one with
//
//	go test -run '^$' -fuzz '^FuzzHandlerRequest$' -fuzztime 20s .
//
// .ci/fuzz runs each for a fixed budget. Their seeds are in
// testdata/fuzz/<name>/ besides the f.Add calls.

// fuzzCredentials are the credentials a fuzzed request may carry: none of
// them may change the fixture (no maintainer, no developer), so that every
// input answers the same however often it runs.
var fuzzCredentials = []http.Header{
	nil,
	asUser(apiTokenReporter),
	asUser(apiTokenGuest),
	asUser(apiTokenBad),
	asUser(apiTokenOutsider),
	headerOf("JOB-TOKEN", apiJobTokenAllowed),
	headerOf("JOB-TOKEN", apiJobTokenDenied),
	headerOf("Authorization", "Bearer "+apiTokenReporter),
}

// fuzzOrigins are the CORS headers a fuzzed request may carry, chosen by
// who/len(fuzzCredentials) (so that a who below it sends none): none, an
// Origin, a preflight's Origin and Access-Control-Request-Method.
var fuzzOrigins = []http.Header{
	nil,
	headerOf("Origin", "https://app.example.com"),
	headerOf("Origin", "https://app.example.com", "Access-Control-Request-Method", "GET"),
}

// FuzzHandlerRequest sends any request line a server would accept through
// the whole handler over the seeded fixture: no panic, no 5xx, and the
// headers every answer carries; with an Origin, the CORS headers; a
// preflight is Rack::Cors's 200.
func FuzzHandlerRequest(f *testing.F) {
	fx := newAPIFixture(f, apiFixtureConfig{})
	h := jobartifacts.New(fx.store, fx.authz, jobartifacts.WithClock(func() time.Time { return apiNow }))
	for _, seed := range []struct {
		method, target string
		who            uint8
	}{
		{"GET", "/api/v4/projects/1/jobs/100/artifacts", 1},
		{"GET", "/api/v4/projects/group%2Fsub%2Fmy%2Eproj/jobs/100/artifacts/a%20b.txt", 1},
		{"HEAD", "/api/v4/projects/1/jobs/100/artifacts/dir/", 1},
		{"GET", "/api/v4/projects/1/jobs/artifacts/feature%2Fx/raw/feature.txt?job=build", 5},
		{"GET", "/api/v4/projects/1/jobs/artifacts/main/download?job=test&search_recent_successful_pipelines=true", 1},
		{"GET", "/api/v4/projects/1/jobs/108/artifacts/tree?recursive=true&page=9223372036854775807&per_page=-1", 1},
		{"GET", "/api/v4/projects/2/jobs/200/artifacts/tree?path=../", 0},
		{"POST", "/api/v4/projects/1/jobs/106/artifacts/keep", 1},
		{"DELETE", "/api/v4/projects/1/artifacts", 1},
		{"POST", "/api/v4/jobs/107/artifacts?artifact_type=dotenv&expire_in=1e400", 5},
		{"GET", "/api/v4/jobs/100/artifacts?job_token=" + apiJobTokenAllowed, 0},
		{"GET", "/api/v4/projects/1/jobs/100/artifacts/..%2F..%2Fevil.txt", 1},
		{"PUT", "/api/v4/projects/1/jobs/100/artifacts", 3},
		{"GET", "/api/v4/projects/1/jobs/100/artifacts/hello.txt", 9},
		{"OPTIONS", "/api/v4/projects/1/jobs/100/artifacts", 17},
		{"OPTIONS", "/api/v4/projects/1/jobs/100/artifacts", 8},
	} {
		f.Add(seed.method, seed.target, seed.who)
	}
	f.Fuzz(func(t *testing.T, method, target string, who uint8) {
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: example\r\n\r\n", method, target)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Skip("not a request net/http would hand to a handler")
		}
		for k, vs := range fuzzCredentials[int(who)%len(fuzzCredentials)] {
			req.Header[k] = vs
		}
		cors := fuzzOrigins[int(who)/len(fuzzCredentials)%len(fuzzOrigins)]
		for k, vs := range cors {
			req.Header[k] = vs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
		hdr := rec.Header()
		if cors != nil && hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s %s with %v: headers %v", method, target, cors, hdr)
		}
		if req.Method == http.MethodOptions && cors.Get("Access-Control-Request-Method") != "" {
			if rec.Code != http.StatusOK || rec.Body.Len() != 0 || hdr.Get("Cache-Control") != "no-cache" || hdr.Get("Vary") != "" {
				t.Fatalf("%s %s preflight: %d %v %q", method, target, rec.Code, hdr, rec.Body)
			}
			return
		}
		if hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Cache-Control") == "" || hdr.Get("Vary") == "" {
			t.Fatalf("%s %s: headers %v", method, target, hdr)
		}
	})
}

// fuzzBoundary is the multipart boundary of FuzzRunnerUpload's bodies.
const fuzzBoundary = "fuzzboundary"

// FuzzRunnerUpload posts any body, as multipart/form-data with a fixed
// boundary, and any query to the runner upload of a running job: no panic,
// no 5xx, and only the statuses route 9 answers; an upload that is not 201
// leaves the job without artifacts.
func FuzzRunnerUpload(f *testing.F) {
	ctx := context.Background()
	store := memstore.New()
	authz := tokenauth.New(store)
	if err := store.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private"}); err != nil {
		f.Fatal(err)
	}
	if err := store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 1, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusRunning}); err != nil {
		f.Fatal(err)
	}
	h := jobartifacts.New(store, authz, jobartifacts.WithMaxUploadSize(1<<20))
	var nextJob atomic.Int64
	nextJob.Store(1000)

	part := func(headers, body string) string {
		return "--" + fuzzBoundary + "\r\n" + headers + "\r\n\r\n" + body + "\r\n"
	}
	zip := string(runnerZip("fuzz"))
	end := "--" + fuzzBoundary + "--\r\n"
	for _, seed := range []struct{ query, body string }{
		{"artifact_format=zip&artifact_type=archive&expire_in=1+week", part(`Content-Disposition: form-data; name="file"; filename="artifacts.zip"`, zip) + end},
		{"", part(`Content-Disposition: form-data; name="artifact_type"`, "junit") + part(`Content-Disposition: form-data; name="artifact_format"`, "gzip") +
			part(`Content-Disposition: form-data; name="file"; filename="junit.xml.gz"`, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00") + end},
		{"artifact_type=dotenv&artifact_format=gzip", part(`Content-Disposition: form-data; name="file"; filename="a.env.gz"`, "KEY=v") + end},
		{"", part(`Content-Disposition: form-data; name="file"; filename="x.zip"`, zip) + part(`Content-Disposition: form-data; name="expire_in"`, "99999999999999999999 years") + end},
		{"", part(`Content-Disposition: form-data; name="file"`, "no filename") + end},
		{"", "--" + fuzzBoundary + "\r\nbroken"},
		{"artifact_type=bogus", ""},
	} {
		f.Add(seed.query, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		jobID := nextJob.Add(1)
		if err := store.PutJob(ctx, jobartifacts.Job{ID: jobID, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 1}, Name: "fuzz", Ref: "main", Status: jobartifacts.StatusRunning}); err != nil {
			t.Fatal(err)
		}
		token := fmt.Sprintf("glcbt-fuzz-%d", jobID)
		if err := authz.AddJobToken(token, jobID); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v4/jobs/1/artifacts", bytes.NewReader(body))
		req.URL.Path = fmt.Sprintf("/api/v4/jobs/%d/artifacts", jobID)
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		req.Header.Set("JOB-TOKEN", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		j, err := store.JobByID(ctx, jobID)
		if err != nil {
			t.Fatal(err)
		}
		switch rec.Code {
		case http.StatusCreated:
			var types []string
			for _, a := range j.Artifacts {
				types = append(types, a.FileType)
			}
			if len(types) != 1 {
				t.Fatalf("201 recorded %v", types)
			}
			// Free what the run stored.
			if _, err := store.ForgetArtifacts(ctx, 1, jobID); err != nil {
				t.Fatal(err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if len(j.Artifacts) != 0 {
				t.Fatalf("%d recorded %v", rec.Code, j.Artifacts)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
