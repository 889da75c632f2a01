package jobartifacts_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// TestTreePageOverIndexBudget: job 108's tree, paged through the handler.
// Within the index budget the headers count the listing; an archive too big
// for the budget is paged without counting (GitLab's without_count headers:
// no X-Total, X-Total-Pages or "last" link), with the same rows; an offset
// past 50,000 rows is then GitLab's 405 for offset pagination.
func TestTreePageOverIndexBudget(t *testing.T) {
	const target = "/api/v4/projects/1/jobs/108/artifacts/tree?recursive=true&per_page=3&page="
	reporter := headerOf("Private-Token", apiTokenReporter)
	all := []string{"bin/", "docs/", "docs/guide/", "README.md", "bin/app", "docs/guide/intro.txt", "docs/index.html"}
	for _, tc := range []struct {
		name       string
		budget     int64
		page       string
		total      string
		next, prev string
		want       []string
	}{
		{name: "indexed", budget: 1 << 20, page: "1", total: "7", next: "2", want: all[0:3]},
		{name: "indexed last", budget: 1 << 20, page: "3", total: "7", prev: "2", want: all[6:]},
		{name: "streamed", budget: 100, page: "1", next: "2", want: all[0:3]},
		{name: "streamed middle", budget: 100, page: "2", next: "3", prev: "1", want: all[3:6]},
		{name: "streamed last", budget: 100, page: "3", prev: "2", want: all[6:]},
		{name: "streamed past the end", budget: 100, page: "4", want: nil},
		{name: "no index", budget: 0, page: "2", next: "3", prev: "1", want: all[3:6]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAPIFixture(t, apiFixtureConfig{options: []jobartifacts.Option{jobartifacts.WithArchiveIndexBudget(tc.budget)}})
			res := f.do(t, http.MethodGet, target+tc.page, reporter)
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			require.Equal(t, tc.total, res.header.Get("X-Total"))
			require.Equal(t, tc.next, res.header.Get("X-Next-Page"))
			require.Equal(t, tc.prev, res.header.Get("X-Prev-Page"))
			require.Equal(t, tc.page, res.header.Get("X-Page"))
			if tc.total == "" {
				require.Empty(t, res.header.Values("X-Total-Pages"))
				require.NotContains(t, res.header.Get("Link"), `rel="last"`)
			}
			var rows []struct{ Path string }
			require.NoError(t, json.Unmarshal(res.body, &rows))
			var paths []string
			for _, r := range rows {
				paths = append(paths, r.Path)
			}
			require.Equal(t, tc.want, paths)
		})
	}

	f := newAPIFixture(t, apiFixtureConfig{options: []jobartifacts.Option{jobartifacts.WithArchiveIndexBudget(100)}})
	res := f.do(t, http.MethodGet, "/api/v4/projects/1/jobs/108/artifacts/tree?per_page=100&page=502", reporter)
	require.Equal(t, http.StatusMethodNotAllowed, res.status)
	require.Contains(t, string(res.body), "maximum allowed offset of 50000")
}
