// Command quickstart mounts GitLab's Job Artifacts API on an http.ServeMux,
// next to the application's own routes, over an in-memory store.
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"log"
	"log/slog"
	"net/http"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

func main() {
	log.Fatal(http.ListenAndServe("127.0.0.1:8082", newApp(context.Background())))
}

func newApp(ctx context.Context) http.Handler {
	// Project group/app (id 1), pipeline 10 on main: job 100 succeeded, job 101 runs.
	store := memstore.New()
	must(store.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private"}))
	must(store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	must(store.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: jobartifacts.StatusSuccess}))
	must(store.PutJob(ctx, jobartifacts.Job{ID: 101, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "deploy", Status: jobartifacts.StatusRunning}))
	var archive bytes.Buffer // job 100's artifacts: a zip of one file
	zw := zip.NewWriter(&archive)
	f, _ := zw.Create("dist/app.txt")
	f.Write([]byte("hello from the build\n"))
	must(zw.Close())
	_, err := store.PutArchive(ctx, 1, 100, archive.Bytes())
	must(err)

	// A user with a role per project, and the CI job token of running job 101.
	authz := tokenauth.New(store)
	must(authz.AddUser(tokenauth.User{Name: "alice", Tokens: []string{"glpat-alice"}, Roles: map[int64]tokenauth.Role{1: tokenauth.Developer}}))
	must(authz.AddJobToken("glcbt-deploy-101", 101))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("/api/v4/", jobartifacts.AccessLog(jobartifacts.New(store, authz), slog.Default()))
	return mux
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
