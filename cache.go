package jobartifacts

import (
	"net/http"
)

// Cache-Control as GitLab's API sends it. Rails runs Rack::ETag with
// "no-cache" for responses it does not digest, and with Rack's default
// "max-age=0, private, must-revalidate" for the 200 and 201 bodies it
// digests (JSON); downloads (empty Rails bodies that Workhorse fills) and
// every other status get "no-cache". Ours adds "private" to "no-cache"
// unless the request carried no credential and concerned a public project
// (anything else, an unknown route or project included, is private),
// so that a shared cache never stores what not everyone may read; and
// varies on the credential headers, so that a cache never answers a
// request carrying a token with a stored anonymous response. Vary ends with
// Origin, which Rack::Cors appends to every answer on /api/* but a
// preflight's, with or without an Origin in the request (cors.go).
const (
	cacheControlJSON    = "max-age=0, private, must-revalidate"
	cacheControlPublic  = "no-cache"
	cacheControlPrivate = "private, no-cache"
	credentialVary      = "Authorization, Job-Token, Private-Token, Origin"
)

// credentialQueryParams are the query parameters that carry tokens on
// GitLab's API, whether or not the route takes them.
var credentialQueryParams = []string{"private_token", "job_token", "token", "access_token"}

// carriesCredential reports whether r carries anything that could be a
// credential: its answer may then be meant for that principal only.
func carriesCredential(r *http.Request) bool {
	for _, k := range []string{"Private-Token", "Job-Token", "Authorization"} {
		if r.Header.Get(k) != "" {
			return true
		}
	}
	q := query(r)
	for _, k := range credentialQueryParams {
		if q.Has(k) {
			return true
		}
	}
	return false
}

// setCacheHeaders sets the Cache-Control and Vary every answer starts
// with, private: the checks make it public once they learn that the project
// is public and the request carries no credential (markPublic). A missing
// project and a hidden one get the same headers.
func setCacheHeaders(sc *requestScope) {
	if sc.header["Vary"] != nil {
		sc.header.Add("Vary", credentialVary)
	} else {
		sc.setHeader("Vary", credentialVary)
	}
	sc.setHeader("Cache-Control", cacheControlPrivate)
}

// markPublic makes the answer to r GitLab's "no-cache" if project is public
// and r carries no credential; outside ServeHTTP (sc nil) it does nothing.
func markPublic(r *http.Request, sc *requestScope, project *Project) {
	if project == nil || project.Visibility != "public" || carriesCredential(r) {
		return
	}
	if sc != nil {
		sc.setHeader("Cache-Control", cacheControlPublic)
	}
}

// setDigestedCacheControl is Rack::ETag's Cache-Control for a 200 or 201
// body it digests.
func setDigestedCacheControl(hdr http.Header, status int) {
	if status == http.StatusOK || status == http.StatusCreated {
		hdr.Set("Cache-Control", cacheControlJSON)
	}
}
