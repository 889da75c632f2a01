package jobartifacts

import (
	"net/http"
	"strings"
	"time"
)

// answeredByPreconditions reports whether http.ServeContent answers r with
// 304 Not Modified or 412 Precondition Failed, for content of this ETag
// ("" for none) and modification time. Such an answer carries none of the
// content, so nothing need be read to give it.
//
// ServeContent decides, not a copy of its rules: its preconditions look at
// r's conditional headers, the Etag header and modtime only, never at the
// content, so an empty probe gets the answer the real call will. Requests
// without conditional headers, nearly all of them, cost four map lookups.
func answeredByPreconditions(r *http.Request, etag string, modtime time.Time) bool {
	h := r.Header
	if len(h["If-None-Match"]) == 0 && len(h["If-Modified-Since"]) == 0 &&
		len(h["If-Match"]) == 0 && len(h["If-Unmodified-Since"]) == 0 {
		return false
	}
	p := preconditionProbe{header: make(http.Header, 1)}
	if etag != "" {
		p.header["Etag"] = []string{etag}
	}
	http.ServeContent(&p, r, "", modtime, strings.NewReader(""))
	return p.code == http.StatusNotModified || p.code == http.StatusPreconditionFailed
}

// preconditionProbe is the ResponseWriter of answeredByPreconditions'
// probe: it keeps the status and drops the rest.
type preconditionProbe struct {
	header http.Header
	code   int
}

func (p *preconditionProbe) Header() http.Header { return p.header }

func (p *preconditionProbe) WriteHeader(code int) {
	if p.code == 0 {
		p.code = code
	}
}

func (p *preconditionProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
