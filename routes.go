package jobartifacts

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// routes says which URL goes where, and nothing else. Paths are matched
// still percent-encoded (a %2F inside a project id stays in its segment) and
// are never cleaned or redirected: an artifact path must reach the handler
// exactly as sent. Order matters: the first matching route wins.
func (h *Handler) routes() *mux.Router {
	root := mux.NewRouter().UseEncodedPath().SkipClean(true)
	// A path no route takes, and a method no route takes on a route's path,
	// get GitLab's catch-all (lib/api/api.rb, route :any, '*path'): Grape's
	// router runs it before its 405, and its only filters set headers, so a
	// wrong method is the 404 of an unknown path whatever the credential.
	notFound := h.serve(func(http.ResponseWriter, *http.Request, *requestScope) error { return errRouteNotFound })
	root.NotFoundHandler = notFound
	root.MethodNotAllowedHandler = notFound
	// The base path is part of each pattern rather than a PathPrefix
	// subrouter: gorilla/mux loses "method not allowed" in subrouters.
	handle := func(pattern string, fn endpoint, methods ...string) {
		root.Handle(h.cfg.basePath+pattern, h.serve(fn)).Methods(methods...)
	}
	read := []string{http.MethodGet, http.MethodHead}

	// Project routes, first with the id in one segment (group%2Fapp, as
	// GitLab requires), then with its slashes left raw (group/app), as Go's
	// client sends it when the artifact path needs escaping.
	ids := []string{"{id:[^/]+}", "{id:[^/]+(?:/[^/]+)+?}"}
	for _, id := range ids {
		p := "/projects/" + id
		// Routes 2 and 4: the ref may hold slashes, so they are told apart
		// by what follows it (refRoute).
		handle(p+"/jobs/artifacts/{rest:.+}", h.refRoute, read...)
		handle(p+"/jobs/{job_id}/artifacts", h.downloadJobArchive, read...)                 // 1
		handle(p+"/jobs/{job_id}/artifacts", h.deleteJobArtifacts, http.MethodDelete)       // 6
		handle(p+"/jobs/{job_id}/artifacts/keep", h.keepArtifacts, http.MethodPost)         // 5
		handle(p+"/jobs/{job_id}/artifacts/tree", h.listArtifactsTree, read...)             // 8
		handle(p+"/jobs/{job_id}/artifacts/{artifact_path:.*}", h.downloadJobFile, read...) // 3
		handle(p+"/artifacts", h.deleteProjectArtifacts, http.MethodDelete)                 // 7
	}
	handle("/jobs/{job_id}/artifacts", h.uploadArtifact, http.MethodPost) // 9
	handle("/jobs/{job_id}/artifacts", h.runnerDownloadArchive, read...)  // 10

	// OPTIONS, last: no other route takes it, so no request that another
	// route answers tries these. Grape answers OPTIONS on the path of the
	// first route, in GitLab's order, whose path matches (route 3's comes
	// before keep's), listing that path's methods in the order GitLab
	// declares them (answerOptions).
	for _, id := range ids {
		p := "/projects/" + id
		handle(p+"/jobs/artifacts/{rest:.+}", h.refRouteOptions, http.MethodOptions)
		handle(p+"/jobs/{job_id}/artifacts", h.options("OPTIONS, GET, DELETE, HEAD", filterAuthenticate), http.MethodOptions)
		handle(p+"/jobs/{job_id}/artifacts/{artifact_path:.*}", h.options(allowRead, filterAuthenticateJobToken), http.MethodOptions)
		handle(p+"/artifacts", h.options("OPTIONS, DELETE", filterAuthenticate), http.MethodOptions)
	}
	handle("/jobs/{job_id}/artifacts", h.options("OPTIONS, POST, GET, HEAD", filterNone), http.MethodOptions)
	return root
}

// routeVars are the variables of the route that matched.
type routeVars struct {
	id, jobID, artifactPath, rest string
}

// fastRoute picks routes 1 and 3, what small downloads use most, without
// mux's regular expressions: for a GET or HEAD with the project id in one
// segment, at exactly the paths where mux's first match is one of them
// (TestFastRouteAgreesWithMux), so that nothing changes but the cost. It
// returns the route's number, or 0: ask mux.
func (h *Handler) fastRoute(r *http.Request) (int, routeVars) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return 0, routeVars{}
	}
	// Routes match the escaped path (UseEncodedPath), as mux does.
	p, ok := strings.CutPrefix(r.URL.EscapedPath(), h.cfg.basePath+"/projects/")
	if !ok {
		return 0, routeVars{}
	}
	id, p, _ := strings.Cut(p, "/")
	p, ok = strings.CutPrefix(p, "jobs/")
	if id == "" || !ok {
		return 0, routeVars{}
	}
	jobID, rest, _ := strings.Cut(p, "/")
	// "jobs/artifacts/…" is routes 2 and 4.
	if jobID == "" || jobID == "artifacts" {
		return 0, routeVars{}
	}
	if rest == "artifacts" {
		return 1, routeVars{id: id, jobID: jobID}
	}
	path, ok := strings.CutPrefix(rest, "artifacts/")
	// Routes 5 and 8 come first; mux's ".*" stops at a newline.
	if !ok || path == "" || path == "keep" || path == "tree" || strings.IndexByte(path, '\n') >= 0 {
		return 0, routeVars{}
	}
	return 3, routeVars{id: id, jobID: jobID, artifactPath: path}
}
