package jobartifacts

import (
	"net/http"

	"github.com/gorilla/mux"
)

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
