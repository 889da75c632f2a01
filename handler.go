package jobartifacts

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

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

// requestScope is what the steps of one request share, handed from step to
// step (nil outside ServeHTTP): the headers that markPublic may relax, and
// the route's variables when fastRoute picked it.
type requestScope struct {
	header http.Header
	vars   routeVars
	// values backs the header values that setHeader sets: one allocation
	// for them all, where Header.Set makes a slice per header.
	values  [10]string
	nvalues int
}

// setHeader is header.Set for a key in canonical form, with the value held
// in the scope's backing array while it has room. Each value's slice has
// capacity 1, so that an Add to the header copies rather than overwrites
// the next one. Outside ServeHTTP there is no scope: see headersOf.
func (sc *requestScope) setHeader(key, value string) {
	if sc.nvalues == len(sc.values) {
		sc.header.Set(key, value)
		return
	}
	i := sc.nvalues
	sc.nvalues++
	sc.values[i] = value
	sc.header[key] = sc.values[i : i+1 : i+1]
}

// headerSetter sets w's headers (canonical keys): through the request's
// scope within ServeHTTP, whose w is the one ServeHTTP got (no route wraps
// it before the headers), else with Header.Set.
type headerSetter struct {
	sc  *requestScope
	hdr http.Header
}

func headersOf(w http.ResponseWriter, sc *requestScope) headerSetter {
	if sc != nil {
		return headerSetter{sc: sc}
	}
	return headerSetter{hdr: w.Header()}
}

func (s headerSetter) set(key, value string) {
	if s.sc != nil {
		s.sc.setHeader(key, value)
		return
	}
	s.hdr.Set(key, value)
}

type requestScopeKey struct{}

// scopeOf returns the scope that ServeHTTP put in r's context for mux's
// routes, or nil outside ServeHTTP.
func scopeOf(r *http.Request) *requestScope {
	sc, _ := r.Context().Value(requestScopeKey{}).(*requestScope)
	return sc
}

// varsOf returns the variables of the route that matched r: fastRoute's
// (in sc), else mux's.
func varsOf(r *http.Request, sc *requestScope) routeVars {
	if sc != nil && sc.vars.id != "" {
		return sc.vars
	}
	v := mux.Vars(r)
	return routeVars{id: v["id"], jobID: v["job_id"], artifactPath: v["artifact_path"], rest: v["rest"]}
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

// access is what the common checks of a project route established.
type access struct {
	principal Principal
	project   *Project
}

// authenticate turns the request's credential into a principal. A credential
// that the Authorizer refuses is 401, never anonymous. mustAuthenticate is
// GitLab's authenticate_non_get!: such routes refuse anonymous requests.
func (h *Handler) authenticate(r *http.Request, acceptJobToken, mustAuthenticate bool) (Principal, error) {
	cred := credentialFrom(r, acceptJobToken)
	p, err := h.authz.Authenticate(r.Context(), cred)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			return nil, errUnauthorized
		}
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if p == nil && (cred.Kind != NoCredential || mustAuthenticate) {
		return nil, errUnauthorized
	}
	return p, nil
}

// projectAccess runs the first checks of every project route, in GitLab's
// order: credential (401), project (404), project visible and action allowed
// at project level (404, 403).
func (h *Handler) projectAccess(r *http.Request, sc *requestScope, action Action, acceptJobToken bool) (access, error) {
	return h.projectAccessWith(r, sc, action, acceptJobToken, nil)
}

// jobLookup is the job that projectAccessWith read with the project, for
// the job step; read is false when it did not.
type jobLookup struct {
	read bool
	job  *Job
	err  error
}

// projectAccessWith is projectAccess; with a non-nil jl and a store that is
// a ProjectJobReader, it reads the route's job together with the project
// and leaves it in jl.
func (h *Handler) projectAccessWith(r *http.Request, sc *requestScope, action Action, acceptJobToken bool, jl *jobLookup) (access, error) {
	mustAuthenticate := r.Method != http.MethodGet && r.Method != http.MethodHead
	p, err := h.authenticate(r, acceptJobToken, mustAuthenticate)
	if err != nil {
		return access{}, err
	}
	var project *Project
	if jl != nil && h.projectJobs != nil {
		project, err = h.projectAndJob(r, sc, jl)
	} else {
		project, err = h.project(r.Context(), varsOf(r, sc).id)
	}
	if err != nil {
		return access{}, err
	}
	markPublic(r, sc, project)
	if err := h.authorize(r.Context(), p, action, project, nil); err != nil {
		return access{}, err
	}
	return access{principal: p, project: project}, nil
}

// jobAccess runs the checks of a job route: those of projectAccess, then the
// job (404) and the job-level permission.
func (h *Handler) jobAccess(r *http.Request, sc *requestScope, action Action, acceptJobToken bool) (access, *Job, error) {
	var jl jobLookup
	a, err := h.projectAccessWith(r, sc, action, acceptJobToken, &jl)
	if err != nil {
		return access{}, nil, err
	}
	j, err := h.job(r, sc, a, action, jl)
	if err != nil {
		return access{}, nil, err
	}
	return a, j, nil
}

// project resolves the :id route variable: a decimal id, or a URL-encoded
// full path. A path without a "/" names no project.
func (h *Handler) project(ctx context.Context, rawID string) (*Project, error) {
	id, err := url.PathUnescape(rawID)
	if err != nil || id == "" {
		return nil, errProjectNotFound
	}
	var p *Project
	if n, ok := parsePositiveInt(id); ok {
		p, err = h.store.Project(ctx, n)
	} else if strings.Contains(id, "/") {
		p, err = h.store.ProjectByPath(ctx, id)
	} else {
		return nil, errProjectNotFound
	}
	if err != nil {
		return nil, wrapNotFound(err, errProjectNotFound, "project")
	}
	return p, nil
}

// projectAndJob is project for a route with a job, through the store's
// ProjectJob when the project is named by its id: the job it read (or the
// error of that lookup) is left in jl. Other routes' ids go to project.
func (h *Handler) projectAndJob(r *http.Request, sc *requestScope, jl *jobLookup) (*Project, error) {
	vars := varsOf(r, sc)
	projectID, ok := parsePositiveInt(vars.id)
	jobID, jobOK := parsePositiveInt(vars.jobID)
	if !ok || !jobOK {
		return h.project(r.Context(), vars.id)
	}
	p, j, err := h.projectJobs.ProjectJob(r.Context(), projectID, jobID)
	if p == nil {
		if err == nil {
			err = ErrNotFound
		}
		return nil, wrapNotFound(err, errProjectNotFound, "project")
	}
	*jl = jobLookup{read: true, job: j, err: err}
	return p, nil
}

// job resolves the :job_id route variable within the project and checks the
// job-level permission; jl is the job if projectAccessWith read it.
func (h *Handler) job(r *http.Request, sc *requestScope, a access, action Action, jl jobLookup) (*Job, error) {
	j, err := jl.job, jl.err
	if !jl.read {
		jobID, ok := parsePositiveInt(varsOf(r, sc).jobID)
		if !ok {
			return nil, errJobNotFound
		}
		j, err = h.store.Job(r.Context(), a.project.ID, jobID)
	}
	if err != nil {
		return nil, wrapNotFound(err, errJobNotFound, "job")
	}
	if err := h.authorize(r.Context(), a.principal, action, a.project, j); err != nil {
		return nil, err
	}
	return j, nil
}

// authorize asks the Authorizer and turns its Decision into an error: hidden
// is the same 404 as a missing project (job == nil) or job.
func (h *Handler) authorize(ctx context.Context, p Principal, action Action, project *Project, job *Job) error {
	d, err := h.authz.Authorize(ctx, p, action, project, job)
	if err != nil {
		return fmt.Errorf("authorize %s: %w", action, err)
	}
	switch {
	case d.Allowed():
		return nil
	case d.Hidden() && job == nil:
		return errProjectNotFound
	case d.Hidden():
		return errJobNotFound
	default:
		return forbiddenMessage(d.Message())
	}
}

// wrapNotFound answers notFound for a store's "does not exist", and keeps any
// other error (a 500) with context for the log.
func wrapNotFound(err error, notFound *apiError, what string) error {
	if isNotFound(err) {
		return notFound
	}
	return fmt.Errorf("look up %s: %w", what, err)
}

// parsePositiveInt parses a decimal id: digits only, greater than zero,
// at most math.MaxInt64 (as strconv.ParseInt would, in one pass: every
// job route parses two).
func parsePositiveInt(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		d := int64(s[i]) - '0'
		if d < 0 || d > 9 || n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, n > 0
}

// artifactPath decodes a raw (still percent-encoded) artifact path once and
// checks it as GitLab's Artifacts::Path does: not empty (ours), valid
// UTF-8, no NUL byte. It is not cleaned: it must match an entry name exactly.
func artifactPath(raw string) (string, error) {
	p, err := url.PathUnescape(raw)
	if err != nil || p == "" || !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
		return "", errInvalidPath
	}
	return p, nil
}

// downloadJobArchive is route 1: the whole archive of a job. Expiry is not
// checked here, as in GitLab: expired archives are served until swept.
func (h *Handler) downloadJobArchive(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	_, j, err := h.jobAccess(r, sc, ActionReadArtifacts, true)
	if err != nil {
		return err
	}
	return h.serveArchive(w, r, sc, j, true)
}

// refRoute tells routes 2 and 4 apart. What follows "jobs/artifacts/" is
// "<ref>/download" (route 2) or "<ref>/raw/<artifact path>" (route 4). The
// ref may contain slashes, raw or encoded; a "/raw/" in the artifact path is
// kept in it, because the first "/raw/" ends the ref (clients that send
// slashes raw in a ref do so on route 2, whose suffix is unambiguous).
func (h *Handler) refRoute(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	rest := varsOf(r, sc).rest
	if rawRef, ok := strings.CutSuffix(rest, "/download"); ok && rawRef != "" {
		return h.downloadRefArchive(w, r, sc, rawRef)
	}
	if rawRef, rawPath, ok := strings.Cut(rest, "/raw/"); ok && rawRef != "" {
		return h.downloadRefFile(w, r, sc, rawRef, rawPath)
	}
	return errRouteNotFound
}

// allowRead is the Allow header of OPTIONS on a path that only GET and
// HEAD take (routes 2, 3, 4 and 8, and keep's, which is route 3's too).
const allowRead = "OPTIONS, GET, HEAD"

// refRouteOptions is OPTIONS on the paths refRoute takes.
func (h *Handler) refRouteOptions(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	rest := varsOf(r, sc).rest
	ref, ok := strings.CutSuffix(rest, "/download")
	if !ok || ref == "" {
		ref, _, ok = strings.Cut(rest, "/raw/")
	}
	if !ok || ref == "" {
		return errRouteNotFound
	}
	return h.answerOptions(w, r, allowRead, filterAuthenticateJobToken)
}

// optionsFilter is the before filter GitLab runs on OPTIONS: that of the
// API class of the route that Grape answers for (the last one declared on
// the path).
type optionsFilter int

const (
	// filterNone: API::Ci::Runner's filters authenticate nothing.
	filterNone optionsFilter = iota
	// filterAuthenticate: API::Ci::JobArtifacts' authenticate_non_get!,
	// which authenticates on OPTIONS (Grape's generated route has no
	// request method), on a route that takes no job token (6 and 7).
	filterAuthenticate
	// filterAuthenticateJobToken: the same on a route that takes job
	// tokens (2, 3, 4 and 8).
	filterAuthenticateJobToken
)

// options is an OPTIONS route's endpoint.
func (h *Handler) options(allow string, filter optionsFilter) endpoint {
	return func(w http.ResponseWriter, r *http.Request, _ *requestScope) error {
		return h.answerOptions(w, r, allow, filter)
	}
}

// answerOptions answers OPTIONS as Grape does: the route's before filter,
// then 204 with allow, no body and no Content-Type. Nothing else is
// checked: no project, no job.
func (h *Handler) answerOptions(w http.ResponseWriter, r *http.Request, allow string, filter optionsFilter) error {
	if filter != filterNone {
		if _, err := h.authenticate(r, filter == filterAuthenticateJobToken, true); err != nil {
			return err
		}
	}
	w.Header().Set("Allow", allow)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// latestJob runs the checks of routes 2 and 4 and finds the job named by the
// job query parameter on the ref, by GitLab's rule or, with
// search_recent_successful_pipelines=true, over the recent pipelines.
func (h *Handler) latestJob(r *http.Request, sc *requestScope, rawRef string) (*Job, error) {
	name := r.URL.Query().Get("job")
	if name == "" {
		// Grape validates parameters before the endpoint runs.
		return nil, missingParam("job")
	}
	ref, err := url.PathUnescape(rawRef)
	if err != nil {
		return nil, errBadRequest
	}
	a, err := h.projectAccess(r, sc, ActionReadArtifacts, true)
	if err != nil {
		return nil, err
	}
	var j *Job
	if searchRecent, _ := strconv.ParseBool(r.URL.Query().Get("search_recent_successful_pipelines")); searchRecent {
		j, err = h.store.RecentSuccessfulJob(r.Context(), a.project.ID, ref, name)
		if err != nil {
			return nil, wrapNotFound(err, errRecentJobMissing, "recent successful job")
		}
	} else {
		j, err = h.store.LatestSuccessfulJob(r.Context(), a.project.ID, ref, name)
		if err != nil {
			return nil, wrapNotFound(err, errJobNotFound, "latest successful job")
		}
	}
	if err := h.authorize(r.Context(), a.principal, ActionReadArtifacts, a.project, j); err != nil {
		return nil, err
	}
	return j, nil
}

// downloadRefArchive is route 2: the whole archive of the latest successful
// job of that name on the ref.
func (h *Handler) downloadRefArchive(w http.ResponseWriter, r *http.Request, sc *requestScope, rawRef string) error {
	j, err := h.latestJob(r, sc, rawRef)
	if err != nil {
		return err
	}
	return h.serveArchive(w, r, sc, j, true)
}

// downloadRefFile is route 4: one file of the latest successful job's
// archive. GitLab does not check expiry here; the Content-Type is sniffed.
func (h *Handler) downloadRefFile(w http.ResponseWriter, r *http.Request, sc *requestScope, rawRef, rawPath string) error {
	j, err := h.latestJob(r, sc, rawRef)
	if err != nil {
		return err
	}
	name, err := artifactPath(rawPath)
	if err != nil {
		return err
	}
	return h.serveFile(w, r, sc, j, name, contentTypeSniffed)
}

// downloadJobFile is route 3: one file of a job's archive, which must not
// have expired (unless kept). The Content-Type follows the file extension.
func (h *Handler) downloadJobFile(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	_, j, err := h.jobAccess(r, sc, ActionReadArtifacts, true)
	if err != nil {
		return err
	}
	if _, err := h.availableArchive(j); err != nil {
		return err
	}
	name, err := artifactPath(varsOf(r, sc).artifactPath)
	if err != nil {
		return err
	}
	return h.serveFile(w, r, sc, j, name, contentTypeByExtension)
}

// availableArchive returns the job's archive if it exists and has not expired
// (GitLab's available_artifacts?), else 404.
func (h *Handler) availableArchive(j *Job) (Artifact, error) {
	a, ok := j.Archive()
	if !ok || !j.HasAvailableArchive(h.cfg.now()) {
		return Artifact{}, errArtifactNotFound
	}
	return a, nil
}

// openArchive opens the job's archive blob; a job without one, or whose blob
// is gone, is 404.
func (h *Handler) openArchive(ctx context.Context, j *Job) (Artifact, Blob, error) {
	a, ok := j.Archive()
	if !ok {
		return Artifact{}, nil, errArtifactNotFound
	}
	b, err := h.store.OpenBlob(ctx, a.Blob)
	if err != nil {
		return Artifact{}, nil, wrapNotFound(err, errArtifactNotFound, "archive blob")
	}
	return a, b, nil
}

// serveArchive sends a job's whole archive: where redirect is allowed and the
// store hands out URLs, a redirect to a URL signed for the request's method
// (a URL signed for GET answers HEAD with 403 on object storage); else the
// bytes through http.ServeContent, which answers Range, If-Range,
// If-None-Match, If-Modified-Since and HEAD. The job was read by this
// request, so its record exists: a blob is deleted only a grace period after
// its record is gone (MetadataStore), longer than a signed URL lives.
func (h *Handler) serveArchive(w http.ResponseWriter, r *http.Request, sc *requestScope, j *Job, redirect bool) error {
	a, ok := j.Archive()
	if !ok {
		return errArtifactNotFound
	}
	disposition := attachmentDisposition(archiveFilename(a))
	if redirect {
		method := http.MethodGet
		if r.Method == http.MethodHead {
			method = http.MethodHead
		}
		loc, err := h.store.SignedURL(r.Context(), a.Blob, SignedURLOptions{
			Method:             method,
			Expiry:             h.cfg.signedURLExpiry,
			ContentDisposition: disposition,
			ContentType:        "application/octet-stream",
		})
		switch {
		case err == nil:
			http.Redirect(w, r, loc, http.StatusFound)
			return nil
		case !errors.Is(err, ErrNotSupported):
			return wrapNotFound(err, errArtifactNotFound, "archive URL")
		}
	}
	_, b, err := h.openArchive(r.Context(), j)
	if err != nil {
		return err
	}
	defer b.Close()
	info := b.Info()
	set := headersOf(w, sc).set
	set("Content-Type", "application/octet-stream")
	set("Content-Disposition", disposition)
	// GitLab's present_disk_file! sends it with every archive it serves.
	set("Content-Transfer-Encoding", "binary")
	if info.ETag != "" {
		set("Etag", info.ETag)
	}
	content := newBlobContent(b, info.Size)
	defer content.Close()
	content.serve(w, r, info.ModTime)
	content.afterServe()
	if err := content.Failure(); err != nil {
		h.abortStream(r, j, err)
	}
	return nil
}

// abortStream logs a download that failed after its headers went out and
// cuts the connection, so that the client sees a truncated transfer rather
// than a short body it could take for the whole. A client that went away is
// no failure of ours: it is logged at Debug.
func (h *Handler) abortStream(r *http.Request, j *Job, err error) {
	if clientGone(r, err) {
		h.cfg.logger.DebugContext(r.Context(), "jobartifacts: client gone",
			"method", r.Method, "path", r.URL.EscapedPath(), "error", err)
	} else {
		h.cfg.logger.WarnContext(r.Context(), "jobartifacts: stream aborted",
			"method", r.Method, "path", r.URL.EscapedPath(), "job", j.ID, "error", err)
	}
	panic(http.ErrAbortHandler)
}

// serveFile sends one entry of a job's archive (routes 3 and 4). A stream
// that fails after the headers went out is cut, so the client sees a
// truncated transfer rather than wrong bytes.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, sc *requestScope, j *Job, name string, rule contentTypeRule) error {
	a, b, err := h.openArchive(r.Context(), j)
	if err != nil {
		return err
	}
	defer b.Close()
	err = serveArchiveEntry(w, r, b, name, entryOptions{contentType: rule, maxEntrySize: h.cfg.maxEntrySize,
		index: h.archives, indexKey: archiveCacheKey(a.Blob, b.Info()), zstd: h.zstd, buffers: h.entryBuffers(r),
		reopen: h.store, scope: sc})
	if errors.Is(err, errStreamAborted) {
		h.abortStream(r, j, err)
	}
	return err
}

// entryBuffers returns the pool that lends r's entry reader its memory:
// h.buffers over HTTP/1, where a Write has sent or failed with its bytes
// when it returns; nil (allocate) over HTTP/2, where a Write that returns
// because the client reset the stream may leave its bytes queued for the
// connection's writer, which must not find another request's data in them.
func (h *Handler) entryBuffers(r *http.Request) *ziparchive.BufferPool {
	if r.ProtoMajor != 1 {
		return nil
	}
	return &h.buffers
}

// keepArtifacts is route 5: the job's artifacts stop expiring; the answer is
// GitLab's Job entity.
func (h *Handler) keepArtifacts(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	a, j, err := h.jobAccess(r, sc, ActionKeepArtifacts, false)
	if err != nil {
		return err
	}
	if _, err := h.availableArchive(j); err != nil {
		return err
	}
	// The store checks the archive again, atomically with the keep: a sweep
	// may have removed it since the check above.
	kept, err := h.store.KeepArtifacts(r.Context(), a.project.ID, j.ID, h.cfg.now())
	if errors.Is(err, ErrConflict) {
		return errArtifactNotFound
	}
	if err != nil {
		return wrapNotFound(err, errJobNotFound, "keep artifacts")
	}
	writeJSON(w, http.StatusOK, newJobEntity(a.project, kept, h.cfg.now()))
	return nil
}

// deleteJobArtifacts is route 6: every artifact of the job but its log goes,
// in one store call; their blobs are queued and deleted by the Sweeper after
// a grace period, so downloads under way stay whole. 204 also when there was
// nothing to delete.
func (h *Handler) deleteJobArtifacts(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	a, j, err := h.jobAccess(r, sc, ActionDeleteArtifacts, false)
	if err != nil {
		return err
	}
	if _, err := h.store.ForgetArtifacts(r.Context(), a.project.ID, j.ID, ArtifactTypeTrace); err != nil {
		return wrapNotFound(err, errJobNotFound, "delete artifacts")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteProjectArtifacts is route 7: every unkept artifact of the project
// expires now; the sweeper removes them later.
func (h *Handler) deleteProjectArtifacts(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	a, err := h.projectAccess(r, sc, ActionDeleteProjectArtifacts, false)
	if err != nil {
		return err
	}
	if err := h.store.ExpireProjectArtifacts(r.Context(), a.project.ID, h.cfg.now()); err != nil {
		return wrapNotFound(err, errProjectNotFound, "expire project artifacts")
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "202 Accepted"})
	return nil
}

// listArtifactsTree is route 8: a page of the archive's directory listing,
// read from the zip's central directory.
func (h *Handler) listArtifactsTree(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	q := r.URL.Query()
	page, err := pageParams(q)
	if err != nil {
		return err
	}
	_, j, err := h.jobAccess(r, sc, ActionReadArtifacts, true)
	if err != nil {
		return err
	}
	if _, err := h.availableArchive(j); err != nil {
		return errTreeNoArtifacts
	}
	a, b, err := h.openArchive(r.Context(), j)
	if err != nil {
		return err
	}
	defer b.Close()
	recursive, _ := strconv.ParseBool(q.Get("recursive"))
	rows, err := h.treePage(w, r, a, b, q.Get("path"), recursive, page)
	if err != nil {
		return wrapNotFound(err, errPathNotFound, "archive tree")
	}
	writeJSON(w, http.StatusOK, rows)
	return nil
}
