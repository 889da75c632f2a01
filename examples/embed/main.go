// Command embed shows the Job Artifacts API handler mounted inside an
// existing application, next to the application's own routes: on a
// gorilla/mux router (the default) or on a plain http.ServeMux.
//
//	go run ./examples/embed                # gorilla/mux on 127.0.0.1:8081
//	go run ./examples/embed -mux servemux  # net/http's ServeMux
//	curl "http://127.0.0.1:8081/api/v4/projects/acme%2Fold-widgets/jobs/artifacts/main/raw/dist/app.txt?job=build"
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	router := flag.String("mux", "gorilla", "router of the host application: gorilla or servemux")
	flag.Parse()

	api, err := newArtifactsAPI(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	var app http.Handler
	switch *router {
	case "gorilla":
		app = gorillaApp(api)
	case "servemux":
		app = serveMuxApp(api)
	default:
		log.Fatalf("-mux %q: want gorilla or servemux", *router)
	}
	log.Printf("listening on http://%s (%s)", *addr, *router)
	log.Fatal(http.ListenAndServe(*addr, app))
}

// gorillaApp is a host application built on gorilla/mux. The router must
// neither clean nor decode paths: an artifact path has to reach the handler
// byte for byte, and a project path arrives as one segment, acme%2Fwidgets.
func gorillaApp(api http.Handler) http.Handler {
	r := mux.NewRouter().SkipClean(true).UseEncodedPath()
	r.HandleFunc("/healthz", healthz).Methods(http.MethodGet)
	r.PathPrefix("/api/v4/").Handler(api)
	return r
}

// serveMuxApp is the same application on net/http's ServeMux. ServeMux
// redirects paths with "..", "." or "//" segments before the handler sees
// them, so such artifact paths are not served there; everything else is.
func serveMuxApp(api http.Handler) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", healthz)
	m.Handle("/api/v4/", api)
	return m
}

// healthz stands for the host application's own routes.
func healthz(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, "ok")
}

// newArtifactsAPI builds the handler on the host's store, with one public
// project, renamed from acme/old-widgets to acme/widgets, whose pipeline on
// main has a job "build" with artifacts.
func newArtifactsAPI(ctx context.Context) (http.Handler, error) {
	store := &aliasStore{Store: memstore.New(), aliases: map[string]string{"acme/old-widgets": "acme/widgets"}}
	err := store.PutProject(ctx, jobartifacts.Project{ID: 7, PathWithNamespace: "acme/widgets", Visibility: "public", PublicPipelines: true})
	if err == nil {
		err = store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 70, ProjectID: 7, Ref: "main", Status: jobartifacts.StatusSuccess})
	}
	if err == nil {
		err = store.PutJob(ctx, jobartifacts.Job{ID: 700, ProjectID: 7, Pipeline: jobartifacts.Pipeline{ID: 70}, Name: "build", Status: jobartifacts.StatusSuccess})
	}
	if err == nil {
		_, err = store.PutArchive(ctx, 7, 700, widgetsArchive())
	}
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	// Anonymous requests may read the public project's artifacts; a real
	// host plugs its own users in through a jobartifacts.Authorizer.
	return jobartifacts.New(store, tokenauth.New(store)), nil
}

// widgetsArchive is the artifacts archive of job 700: a zip of one file,
// dist/app.txt.
func widgetsArchive() []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("dist/app.txt")
	if err == nil {
		_, err = io.WriteString(w, "widgets 1.0\n")
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		panic(err) // writing to memory does not fail
	}
	return b.Bytes()
}
