package jobartifacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
)

// Sentinel errors. Stores and Authorizers return them, wrapped with %w as
// they like; the handler tests them with errors.Is and turns them into
// GitLab's status codes and bodies in one place (writeError). No error text
// ever reaches a client.
var (
	// ErrNotFound: the project, job, artifact or blob does not exist.
	// fs.ErrNotExist is treated the same.
	ErrNotFound = errors.New("jobartifacts: not found")
	// ErrUnauthorized: a credential was given but is invalid or expired (401).
	ErrUnauthorized = errors.New("jobartifacts: unauthorized")
	// ErrForbidden: the principal may not do this (403).
	ErrForbidden = errors.New("jobartifacts: forbidden")
	// ErrConflict: a conditional write lost (the artifact exists already,
	// the archive to keep is gone, the blob key is taken).
	ErrConflict = errors.New("jobartifacts: conflict")
	// ErrNotSupported: an optional capability is not available.
	ErrNotSupported = errors.New("jobartifacts: not supported")
	// ErrTooLarge: an upload or an archive entry is over the configured limit.
	ErrTooLarge = errors.New("jobartifacts: too large")
	// ErrInvalidArchive: the archive cannot be read as a zip, or an entry is
	// encrypted, uses an unsupported method, or its data is corrupt.
	ErrInvalidArchive = errors.New("jobartifacts: invalid archive")
)

// isNotFound reports whether err means "does not exist".
func isNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist)
}

// apiError is an HTTP error response as GitLab writes it: a status and a JSON
// body. Handlers return it (wrapped or bare); writeError renders it.
type apiError struct {
	status int
	// key is the JSON member: "message" for most, "error" for parameter errors.
	key string
	// text is the member's value.
	text string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.text) }

func newAPIError(status int, text string) *apiError {
	return &apiError{status: status, key: "message", text: text}
}

// The responses GitLab sends, byte for byte.
var (
	errProjectNotFound  = newAPIError(http.StatusNotFound, "404 Project Not Found")
	errJobNotFound      = newAPIError(http.StatusNotFound, "404 Not found") // Rails record-not-found: lower-case f
	errArtifactNotFound = newAPIError(http.StatusNotFound, "404 Not Found")
	errRecentJobMissing = newAPIError(http.StatusNotFound, "404 Job Not Found")
	errPathNotFound     = newAPIError(http.StatusNotFound, "404 Path Not Found")
	errTreeNoArtifacts  = newAPIError(http.StatusNotFound, "404 Artifacts Not Found") // not_found!('Artifacts')
	errUnauthorized     = newAPIError(http.StatusUnauthorized, "401 Unauthorized")
	errForbidden        = newAPIError(http.StatusForbidden, "403 Forbidden")
	errTooLarge         = newAPIError(http.StatusRequestEntityTooLarge, "file size has reached maximum size limit")
	errInternal         = newAPIError(http.StatusInternalServerError, "500 Internal Server Error")
	errBadRequest       = newAPIError(http.StatusBadRequest, "400 Bad request")
	errInvalidPath      = errBadRequest // GitLab: a bare bad_request! for an invalid artifact path
	errUnprocessable    = newAPIError(http.StatusUnprocessableEntity, "422 Unprocessable Entity - the archive entry cannot be extracted")
)

// errOffsetTooLarge is GitLab's answer to offset pagination past its limit;
// here only for listings of archives too big to index.
var errOffsetTooLarge = &apiError{status: http.StatusMethodNotAllowed, key: "error",
	text: "Offset pagination has a maximum allowed offset of 50000 for requests that return objects of type JobArtifactEntry. Remaining records can be retrieved using keyset pagination."}

// missingParam is GitLab's (Grape's) answer to a missing required parameter:
// 400 {"error":"job is missing"}.
func missingParam(name string) *apiError {
	return &apiError{status: http.StatusBadRequest, key: "error", text: name + " is missing"}
}

// forbiddenMessage is a 403 with a message of the Authorizer's choosing.
func forbiddenMessage(text string) *apiError {
	if text == "" {
		return errForbidden
	}
	return newAPIError(http.StatusForbidden, text)
}

// toAPIError maps any error to the response it gets. fallback is the 404 to
// use for ErrNotFound, since GitLab words it by what was not found.
func toAPIError(err error, notFound *apiError) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case isNotFound(err):
		return notFound
	case errors.Is(err, ErrUnauthorized):
		return errUnauthorized
	case errors.Is(err, ErrForbidden):
		return errForbidden
	case errors.Is(err, ErrTooLarge):
		return errTooLarge
	case errors.Is(err, ErrInvalidArchive):
		return errUnprocessable
	default:
		return errInternal
	}
}

// errRouteNotFound answers a request that no route takes, path or method:
// GitLab's catch-all, error!('404 Not Found', 404), in Grape's words.
var errRouteNotFound = &apiError{status: http.StatusNotFound, key: "error", text: "404 Not Found"}

// errClientGone answers a request whose client went away (or whose context
// the host ended) before the answer was ready: nginx's 499, which nobody
// reads, logged at Debug rather than as a server error.
var errClientGone = newAPIError(499, "499 Client Closed Request")

// clientGone reports whether err comes from the request's own context
// having ended.
func clientGone(r *http.Request, err error) bool {
	return r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// writeError is the one place that writes an error response. Anything that
// is not one of GitLab's answers is a 500 whose cause goes to the log only.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r, err) {
		h.cfg.logger.DebugContext(r.Context(), "jobartifacts: client gone",
			"method", r.Method, "path", r.URL.EscapedPath(), "error", err)
		writeJSON(w, errClientGone.status, map[string]string{errClientGone.key: errClientGone.text})
		return
	}
	ae := toAPIError(err, errArtifactNotFound)
	if ae.status >= http.StatusInternalServerError {
		h.cfg.logger.ErrorContext(r.Context(), "jobartifacts: request failed",
			"method", r.Method, "path", r.URL.EscapedPath(), "status", ae.status, "error", err)
	}
	writeJSON(w, ae.status, map[string]string{ae.key: ae.text})
}

// writeJSON writes v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"message":"500 Internal Server Error"}`)
	}
	hdr := w.Header()
	// A failure after a download began must not carry the download's headers.
	for _, k := range []string{"Content-Disposition", "Content-Encoding", "Content-Transfer-Encoding", "ETag", "Last-Modified", "Accept-Ranges"} {
		hdr.Del(k)
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	setDigestedCacheControl(hdr, status)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
