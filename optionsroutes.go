package jobartifacts

import (
	"net/http"
	"strings"
)

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
