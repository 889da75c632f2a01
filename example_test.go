package jobartifacts_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/gorilla/mux"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// exampleToken is the personal access token of the examples' only user.
const exampleToken = "glpat-example-reporter-token"

// seedExample returns a memstore holding project group/app, private, with job
// 100 whose archive holds out/app.txt, and an Authorizer that knows one
// reporter of that project.
func seedExample() (*memstore.Store, *tokenauth.Authorizer) {
	ctx := context.Background()
	store := memstore.New()
	must(store.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private"}))
	must(store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "success"}))
	must(store.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: "success"}))
	_, err := store.PutArchive(ctx, 1, 100, ziptest.MustBuild(ziptest.Files(map[string]string{"out/app.txt": "hello from the build\n"})...))
	must(err)

	authz := tokenauth.New(store)
	must(authz.AddUser(tokenauth.User{Name: "rita", Tokens: []string{exampleToken}, Roles: map[int64]tokenauth.Role{1: tokenauth.Reporter}}))
	return store, authz
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// getWithToken GETs url as the examples' user and prints status and body.
func getWithToken(url string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	must(err)
	req.Header.Set("PRIVATE-TOKEN", exampleToken)
	resp, err := http.DefaultClient.Do(req)
	must(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(err)
	fmt.Println(resp.Status)
	fmt.Print(string(body))
}

// New serves the API under /api/v4. Here a single file of job 100's archive
// is fetched by the project's URL-encoded path, as GitLab's clients send it;
// without a token the private project does not exist.
func ExampleNew() {
	ctx := context.Background()
	store := memstore.New()
	must(store.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private"}))
	must(store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "success"}))
	must(store.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: "success"}))
	_, err := store.PutArchive(ctx, 1, 100, ziptest.MustBuild(ziptest.Files(map[string]string{"out/app.txt": "hello from the build\n"})...))
	must(err)

	authz := tokenauth.New(store)
	must(authz.AddUser(tokenauth.User{Name: "rita", Tokens: []string{exampleToken}, Roles: map[int64]tokenauth.Role{1: tokenauth.Reporter}}))

	srv := httptest.NewServer(jobartifacts.New(store, authz))
	defer srv.Close()

	getWithToken(srv.URL + "/api/v4/projects/group%2Fapp/jobs/100/artifacts/out/app.txt")

	resp, err := http.Get(srv.URL + "/api/v4/projects/group%2Fapp/jobs/100/artifacts/out/app.txt")
	must(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(err)
	fmt.Println(resp.Status, string(body))
	// Output:
	// 200 OK
	// hello from the build
	// 404 Not Found {"message":"404 Project Not Found"}
}

// The handler can share an http.ServeMux with the host's own routes: it
// answers everything under "/api/v4/".
func ExampleNew_serveMux() {
	store, authz := seedExample()

	m := http.NewServeMux()
	m.Handle("/api/v4/", jobartifacts.New(store, authz))
	m.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := httptest.NewServer(m)
	defer srv.Close()

	getWithToken(srv.URL + "/api/v4/projects/1/jobs/100/artifacts/out/app.txt")
	getWithToken(srv.URL + "/healthz")
	// Output:
	// 200 OK
	// hello from the build
	// 200 OK
	// ok
}

// On a gorilla/mux router, mount the handler under a path prefix. The router
// must use encoded paths and skip cleaning, so that project paths such as
// group%2Fapp and artifact paths such as a//b reach the handler as sent.
func ExampleNew_gorillaMux() {
	store, authz := seedExample()

	r := mux.NewRouter().UseEncodedPath().SkipClean(true)
	r.PathPrefix("/api/v4/").Handler(jobartifacts.New(store, authz))
	srv := httptest.NewServer(r)
	defer srv.Close()

	getWithToken(srv.URL + "/api/v4/projects/group%2Fapp/jobs/100/artifacts/out%2Fapp.txt")
	// Output:
	// 200 OK
	// hello from the build
}

// WithBasePath moves the API under another prefix, e.g. behind a reverse
// proxy that serves GitLab under /gitlab.
func ExampleWithBasePath() {
	store, authz := seedExample()

	srv := httptest.NewServer(jobartifacts.New(store, authz, jobartifacts.WithBasePath("/gitlab/api/v4")))
	defer srv.Close()

	getWithToken(srv.URL + "/gitlab/api/v4/projects/1/jobs/100/artifacts/tree?recursive=true")
	fmt.Println()
	getWithToken(srv.URL + "/api/v4/projects/1/jobs/100/artifacts/tree")
	// Output:
	// 200 OK
	// [{"name":"out","path":"out/","type":"directory","mode":null},{"name":"app.txt","path":"out/app.txt","type":"file","size":21,"mode":"100644"}]
	// 404 Not Found
	// {"error":"404 Not Found"}
}

// With WithBasePath(""), the handler serves routes without a prefix, for a
// host that strips it before calling the handler.
func ExampleWithBasePath_stripPrefix() {
	store, authz := seedExample()

	h := jobartifacts.New(store, authz, jobartifacts.WithBasePath(""))
	srv := httptest.NewServer(http.StripPrefix("/ci/api/v4", h))
	defer srv.Close()

	getWithToken(srv.URL + "/ci/api/v4/projects/1/jobs/100/artifacts/out/app.txt")
	// Output:
	// 200 OK
	// hello from the build
}

// A Sweeper deletes the artifacts that expired and were not kept.
func ExampleSweeper() {
	ctx := context.Background()
	store := memstore.New()
	_ = store.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"})
	_ = store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "success"})
	_ = store.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: "success"})
	expired := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	_, _ = jobartifacts.StoreArtifact(ctx, store, 1, 100,
		jobartifacts.Artifact{FileType: "archive", FileFormat: "zip", Filename: "artifacts.zip", ExpireAt: &expired},
		bytes.NewReader(ziptest.MustBuild(ziptest.Deflated("a.txt", "a"))))

	sweeper := jobartifacts.NewSweeper(store, jobartifacts.WithSweeperClock(func() time.Time { return expired.Add(time.Second) }))
	// One sweep here; a host runs it in the background instead:
	//
	//	go sweeper.Run(ctx, time.Hour)
	n, err := sweeper.Sweep(ctx)
	fmt.Println(n, err)

	// Output: 1 <nil>
}

// AccessLog logs each request once answered, with the values of token
// parameters replaced (here the time and duration are left out, so that the
// output is the same on every run).
func ExampleAccessLog() {
	store, authz := seedExample()
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))
	srv := httptest.NewServer(jobartifacts.AccessLog(jobartifacts.New(store, authz), logger))

	resp, err := http.Get(srv.URL + "/api/v4/projects/1/jobs/100/artifacts/out/app.txt?private_token=" + exampleToken)
	must(err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	srv.Close() // waits for the request, and so for its record
	// Output:
	// level=INFO msg=request method=GET path="/api/v4/projects/1/jobs/100/artifacts/out/app.txt?private_token=REDACTED" status=200 bytes=21
}
