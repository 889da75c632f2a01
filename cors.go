package jobartifacts

import (
	"net/http"
	"strings"
)

// CORS as GitLab's API answers it: Rack::Cors (rack-cors 2.0.2, the
// version GitLab's Gemfile.lock pins), configured in GitLab's
// config/application.rb with two blocks for /api/*: GitLab's own URL
// (credentials: true), then origins '*' (credentials: false), both with
// headers: :any, methods: :any, the same expose list and no max_age. The
// middleware runs before Grape, so:
//
//   - a preflight (OPTIONS with Origin and Access-Control-Request-Method,
//     whatever their values) never reaches Grape: it is 200 with no body,
//     the CORS headers below plus Access-Control-Allow-Headers echoing
//     Access-Control-Request-Headers when sent, or none of them when the
//     requested method is not one of :any's seven; Rack::ETag then adds
//     Cache-Control: no-cache. No Vary, no Content-Type, and none of the
//     headers Grape's filters set;
//   - any other request with an Origin gets the same CORS headers (never
//     Access-Control-Allow-Headers) on whatever Grape answers, errors
//     included;
//   - every answer on /api/* but a preflight carries Vary: Origin, with or
//     without an Origin (see credentialVary);
//   - a request without Origin but with X-Origin is taken to have that
//     Origin (rack-cors copies HTTP_X_ORIGIN into HTTP_ORIGIN first).
const (
	// corsAllowMethods is how rack-cors renders methods: :any.
	corsAllowMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
	// corsExposeHeaders is GitLab's headers_to_expose, joined by rack-cors.
	corsExposeHeaders = "Link, X-Total, X-Total-Pages, X-Per-Page, X-Page, X-Next-Page, X-Prev-Page, " +
		"X-Gitlab-Blob-Id, X-Gitlab-Commit-Id, X-Gitlab-Content-Sha256, X-Gitlab-Encoding, " +
		"X-Gitlab-File-Name, X-Gitlab-File-Path, X-Gitlab-Last-Commit-Id, X-Gitlab-Ref, X-Gitlab-Size, " +
		"X-Request-Id, ETag"
	// corsMaxAge is rack-cors 2's default max_age, which GitLab keeps.
	corsMaxAge = "7200"
)

// corsMethods are the methods of methods: :any, lower-case: rack-cors
// compares the requested method downcased.
var corsMethods = [...]string{"get", "head", "post", "put", "patch", "delete", "options"}

// setCORSHeaders sets what Rack::Cors adds to an answer to a request whose
// Origin is origin (its header lines, as Puma joins them): GitLab's own
// origin (WithCORSOrigin) is echoed and allowed credentials, any other gets
// "*". The values share one allocation.
func (h *Handler) setCORSHeaders(hdr http.Header, origin []string) {
	v := new([5]string)
	v[0], v[1], v[2], v[3] = "*", corsAllowMethods, corsExposeHeaders, corsMaxAge
	credentials := false
	if h.cfg.corsOrigin != "" {
		if o := joinHeader(origin); o == h.cfg.corsOrigin {
			v[0], v[4], credentials = o, "true", true
		}
	}
	hdr["Access-Control-Allow-Origin"] = v[0:1:1]
	hdr["Access-Control-Allow-Methods"] = v[1:2:2]
	hdr["Access-Control-Expose-Headers"] = v[2:3:3]
	hdr["Access-Control-Max-Age"] = v[3:4:4]
	if credentials {
		hdr["Access-Control-Allow-Credentials"] = v[4:5:5]
	}
}

// answerPreflight answers a preflight as Rack::Cors does, before any route:
// 200, no body, nothing authenticated or looked up.
func (h *Handler) answerPreflight(w http.ResponseWriter, r *http.Request, origin, method []string) {
	hdr := w.Header()
	if corsMethodAllowed(joinHeader(method)) {
		h.setCORSHeaders(hdr, origin)
		if requested, ok := r.Header["Access-Control-Request-Headers"]; ok {
			hdr["Access-Control-Allow-Headers"] = []string{joinHeader(requested)}
		}
	}
	// Rack::ETag's for a body it has nothing to digest.
	hdr.Set("Cache-Control", cacheControlPublic)
	w.WriteHeader(http.StatusOK)
}

// corsMethodAllowed reports whether rack-cors takes the requested method:
// one of corsMethods once downcased (ASCII only, as Ruby's downcase leaves
// nothing else equal to them).
func corsMethodAllowed(method string) bool {
	for _, m := range corsMethods {
		if len(m) == len(method) && asciiLowerEqual(method, m) {
			return true
		}
	}
	return false
}

// asciiLowerEqual reports whether s lower-cased in ASCII is lower.
func asciiLowerEqual(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// joinHeader is a header's lines as one value, as Puma hands them to Rack.
func joinHeader(lines []string) string {
	if len(lines) == 1 {
		return lines[0]
	}
	return strings.Join(lines, ", ")
}
