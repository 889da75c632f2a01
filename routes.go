package jobartifacts

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routes says which URL goes where, and nothing else. Paths are matched
// still percent-encoded (a %2F inside a project id stays in its segment) and
// are never cleaned or redirected: an artifact path must reach the handler
// exactly as sent. Order matters: the first matching route wins.
func (h *Handler) routes() *mux.Router {
	root := mux.NewRouter().UseEncodedPath().SkipClean(true)
	root.NotFoundHandler = h.serve(func(http.ResponseWriter, *http.Request) error { return errRouteNotFound })
	root.MethodNotAllowedHandler = h.serve(func(http.ResponseWriter, *http.Request) error { return errMethodNotAllowed })

	api := root
	if h.cfg.basePath != "" {
		api = root.PathPrefix(h.cfg.basePath).Subrouter()
		api.NotFoundHandler = root.NotFoundHandler
		api.MethodNotAllowedHandler = root.MethodNotAllowedHandler
	}
	read := []string{http.MethodGet, http.MethodHead}

	// Project routes, first with the id in one segment (group%2Fapp, as
	// GitLab requires), then with its slashes left raw (group/app), as Go's
	// client sends it when the artifact path needs escaping.
	for _, id := range []string{"{id:[^/]+}", "{id:[^/]+(?:/[^/]+)+?}"} {
		p := "/projects/" + id
		// Routes 2 and 4: the ref may hold slashes, so they are told apart
		// by what follows it (refRoute).
		api.Handle(p+"/jobs/artifacts/{rest:.+}", h.serve(h.refRoute)).Methods(read...)
		api.Handle(p+"/jobs/{job_id}/artifacts", h.serve(h.downloadJobArchive)).Methods(read...)                 // 1
		api.Handle(p+"/jobs/{job_id}/artifacts", h.serve(h.deleteJobArtifacts)).Methods(http.MethodDelete)       // 6
		api.Handle(p+"/jobs/{job_id}/artifacts/keep", h.serve(h.keepArtifacts)).Methods(http.MethodPost)         // 5
		api.Handle(p+"/jobs/{job_id}/artifacts/tree", h.serve(h.listArtifactsTree)).Methods(read...)             // 8
		api.Handle(p+"/jobs/{job_id}/artifacts/{artifact_path:.*}", h.serve(h.downloadJobFile)).Methods(read...) // 3
		api.Handle(p+"/artifacts", h.serve(h.deleteProjectArtifacts)).Methods(http.MethodDelete)                 // 7
	}
	h.runnerRoutes(api)
	return root
}
