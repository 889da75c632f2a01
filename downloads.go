package jobartifacts

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// Routes 1 to 4: a job's whole archive or one file of it, by job id or
// by ref.

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
