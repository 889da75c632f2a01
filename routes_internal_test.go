package jobartifacts

import (
	"net/http"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"
)

// TestFastRouteAgreesWithMux: wherever fastRoute picks a route, mux's first
// match is that route with the same variables, over every combination of
// tricky segments, for both base paths; and it does pick the common paths.
func TestFastRouteAgreesWithMux(t *testing.T) {
	prefixes := []string{"/projects/", "/projects//", "//projects/", "/project/", "/projects"}
	ids := []string{"1", "42", "group%2Fapp", "group/app", "artifacts", "jobs", "", "a%0Ab", "%", "%zz", "a.b", "a b"}
	jobParts := []string{"/jobs/", "/jobs//", "/job/", "/jobs"}
	jobIDs := []string{"3", "artifacts", "", "x", "3%2F4", "keep"}
	tails := []string{"", "/", "/artifacts", "/artifacts/", "/artifacts/keep", "/artifacts/tree",
		"/artifacts/tree/", "/artifacts/keep/x", "/artifacts/dist/4k.bin", "/artifacts/a%2Fb", "/artifacts//x",
		"/artifacts/raw/x", "/artifacts/x%0Ay", "/artifactsx", "/artifacts/download", "/x/artifacts"}
	wantFast := map[string]int{
		"/projects/1/jobs/3/artifacts":                     1,
		"/projects/group%2Fapp/jobs/3/artifacts":           1,
		"/projects/1/jobs/3/artifacts/dist/4k.bin":         3,
		"/projects/group%2Fapp/jobs/3/artifacts/a%2Fb":     3,
		"/projects/1/jobs/3/artifacts/raw/x":               3,
		"/projects/1/jobs/3/artifacts/tree/":               3,
		"/projects/1/jobs/keep/artifacts/keep/x":           3,
		"/projects/artifacts/jobs/jobs/artifacts/download": 0, // not a route 1 or 3 path at all
	}
	for _, base := range []string{"/api/v4", "/gitlab/api/v4"} {
		h := New(nil, nil, WithBasePath(base))
		templates := map[int]string{
			1: base + "/projects/{id:[^/]+}/jobs/{job_id}/artifacts",
			3: base + "/projects/{id:[^/]+}/jobs/{job_id}/artifacts/{artifact_path:.*}",
		}
		picked := 0
		for _, prefix := range prefixes {
			for _, id := range ids {
				for _, jobPart := range jobParts {
					for _, jobID := range jobIDs {
						for _, tail := range tails {
							path := base + prefix + id + jobPart + jobID + tail
							for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete} {
								r, err := http.NewRequest(method, "http://example.com"+path, nil)
								if err != nil {
									continue // not a request URI net/http would take
								}
								route, vars := h.fastRoute(r)
								if want, ok := wantFast[path[len(base):]]; ok && (method == http.MethodGet || method == http.MethodHead) {
									require.Equal(t, want, route, "%s %s", method, path)
								}
								if route == 0 {
									continue
								}
								picked++
								var match mux.RouteMatch
								require.True(t, h.router.Match(r, &match), "%s %s", method, path)
								require.NoError(t, match.MatchErr, "%s %s", method, path)
								tpl, err := match.Route.GetPathTemplate()
								require.NoError(t, err)
								require.Equal(t, templates[route], tpl, "%s %s", method, path)
								want := routeVars{id: match.Vars["id"], jobID: match.Vars["job_id"], artifactPath: match.Vars["artifact_path"]}
								require.Equal(t, want, vars, "%s %s", method, path)
							}
						}
					}
				}
			}
		}
		require.NotZero(t, picked)
	}
}
