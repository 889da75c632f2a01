package jobartifacts

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// Handler serves GitLab's Job Artifacts API from a Store, deciding access with
// an Authorizer. It is an http.Handler; make one with New. A Handler has no
// global state: several can be mounted in one process.
type Handler struct {
	store  Store
	authz  Authorizer
	cfg    config
	router *mux.Router
	// archives caches the central directories of archives served.
	archives *archiveIndexCache
	// zstd lends zstd entries their decoders, a bounded number.
	zstd *zstdDecoderPool
	// uploads lends uploads their blocks, large ones within a budget.
	uploads *uploadMemory
	// buffers lends entry readers the memory of small verified entries
	// and their copy buffers, reused from one request to the next.
	buffers ziparchive.BufferPool
	// projectJobs is store, if it reads a project and a job in one go.
	projectJobs ProjectJobReader
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler serving the Job Artifacts API from store, with authz
// deciding who may do what.
func New(store Store, authz Authorizer, opts ...Option) *Handler {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	h := &Handler{store: store, authz: authz, cfg: cfg, archives: newArchiveIndexCache(cfg.archiveIndexBudget),
		zstd: newZstdDecoderPool(cfg.zstdDecoders, cfg.zstdMemory), uploads: newUploadMemory(cfg.uploadMemory)}
	h.projectJobs, _ = store.(ProjectJobReader)
	h.router = h.routes()
	return h
}

// Close ends the Handler's background work, for a host about to close its
// Store: a cold lookup of an archive entry starts an index build that
// outlives its request and reads the Store (for up to five minutes). Close
// cancels the builds under way and waits for them to end; none starts after
// it. It returns ctx's error if ctx ends first. Call it once
// http.Server.Shutdown has waited for the requests, then close the Store.
// A request served after Close is still answered, without indexing in the
// background. Close may be called more than once.
func (h *Handler) Close(ctx context.Context) error {
	return h.archives.close(ctx)
}

// ServeHTTP answers one API request. A request with an Origin header (or,
// without one, an X-Origin header, which Rack::Cors takes for it) is
// answered as GitLab's Rack::Cors does (cors.go): a preflight before any
// route, any other with the CORS headers on whatever the route answers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin, crossOrigin := r.Header["Origin"]
	if !crossOrigin {
		origin, crossOrigin = r.Header["X-Origin"]
	}
	if crossOrigin && r.Method == http.MethodOptions {
		if method, ok := r.Header["Access-Control-Request-Method"]; ok {
			h.answerPreflight(w, r, origin, method)
			return
		}
	}
	hdr := w.Header()
	sc := &requestScope{header: hdr}
	sc.setHeader("X-Content-Type-Options", "nosniff")
	sc.setHeader("X-Frame-Options", "SAMEORIGIN")
	setCacheHeaders(sc)
	if crossOrigin {
		h.setCORSHeaders(hdr, origin)
	}
	var route int
	route, sc.vars = h.fastRoute(r)
	var err error
	switch route {
	// Routes 1 and 3 get the scope straight; mux's routes find it in the
	// request's context (serve), which costs a copy of the request.
	case 1:
		err = h.downloadJobArchive(w, r, sc)
	case 3:
		err = h.downloadJobFile(w, r, sc)
	default:
		h.router.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestScopeKey{}, sc)))
	}
	if err != nil {
		h.writeError(w, r, err)
	}
}

// endpoint is a route's body, with the request's scope. It returns an error
// instead of writing one, so that every error response is written by
// writeError alone.
type endpoint func(w http.ResponseWriter, r *http.Request, sc *requestScope) error

// serve adapts an endpoint to http.Handler, for mux's routes.
func (h *Handler) serve(fn endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r, scopeOf(r)); err != nil {
			h.writeError(w, r, err)
		}
	})
}
