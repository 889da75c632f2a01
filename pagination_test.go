package jobartifacts_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTreePaginationOverflow sends the page and per_page values that
// overflow or make no sense (issue 10, item 3). GitLab reads them with
// Grape's Integer coercion (any size: Ruby integers do not overflow) and
// Kaminari: a page below 1 is page 1, a page past the end is an empty page
// without prev or next, per_page above 100 is 100 and below 0 is the
// default, per_page=0 is refused by the pagination params' except_values
// (lib/api/helpers/pagination_params.rb), and a non-integer is "is invalid".
func TestTreePaginationOverflow(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	tree := "/api/v4/projects/1/jobs/108/artifacts/tree"
	asReporter := asUser(apiTokenReporter)
	const firstEntry = `[{"name":"bin","path":"bin/","type":"directory","mode":"040755"}]`
	tests := []struct {
		query   string
		status  int
		body    string
		headers map[string]string
	}{
		{query: "page=9223372036854775807", status: 200, body: `[]`,
			headers: map[string]string{"X-Page": "9223372036854775807", "X-Next-Page": "", "X-Prev-Page": "", "X-Total-Pages": "1", "X-Per-Page": "20"}},
		{query: "page=9223372036854775807&per_page=100", status: 200, body: `[]`,
			headers: map[string]string{"X-Page": "9223372036854775807", "X-Per-Page": "100"}},
		{query: "page=4611686018427387904&per_page=2", status: 200, body: `[]`,
			headers: map[string]string{"X-Page": "4611686018427387904", "X-Next-Page": "", "X-Prev-Page": ""}},
		{query: "page=99999999999999999999999999999999", status: 200, body: `[]`,
			headers: map[string]string{"X-Page": "99999999999999999999999999999999", "X-Next-Page": "", "X-Prev-Page": ""}},
		{query: "page=-9223372036854775808&per_page=1", status: 200, body: firstEntry, headers: map[string]string{"X-Page": "1", "X-Next-Page": "2"}},
		{query: "page=-99999999999999999999999999&per_page=1", status: 200, body: firstEntry, headers: map[string]string{"X-Page": "1"}},
		{query: "page=-1&per_page=1", status: 200, body: firstEntry, headers: map[string]string{"X-Page": "1"}},
		{query: "page=007&per_page=1", status: 200, body: `[]`, headers: map[string]string{"X-Page": "7"}},
		{query: "page=%2B2&per_page=1", status: 200, body: `[{"name":"docs","path":"docs/","type":"directory","mode":null}]`, headers: map[string]string{"X-Page": "2"}},
		{query: "per_page=9223372036854775807", status: 200, headers: map[string]string{"X-Per-Page": "100", "X-Total-Pages": "1"}},
		{query: "per_page=99999999999999999999999999999", status: 200, headers: map[string]string{"X-Per-Page": "100"}},
		{query: "per_page=-1", status: 200, headers: map[string]string{"X-Per-Page": "20"}},
		{query: "per_page=-99999999999999999999999999999", status: 200, headers: map[string]string{"X-Per-Page": "20"}},
		{query: "per_page=0", status: 400, body: `{"error":"per_page has a value not allowed"}`},
		{query: "per_page=-0", status: 400, body: `{"error":"per_page has a value not allowed"}`},
		{query: "page=1e3", status: 400, body: `{"error":"page is invalid"}`},
		{query: "page=0x10", status: 400, body: `{"error":"page is invalid"}`},
		{query: "page=1.5", status: 400, body: `{"error":"page is invalid"}`},
		{query: "page=-", status: 400, body: `{"error":"page is invalid"}`},
		{query: "page=%00", status: 400, body: `{"error":"page is invalid"}`},
		{query: "per_page=%E2%88%9E", status: 400, body: `{"error":"per_page is invalid"}`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp := f.do(t, http.MethodGet, tree+"?"+tt.query, asReporter)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.body)
			if tt.body != "" {
				assert.Equal(t, tt.body, string(resp.body))
			}
			for k, v := range tt.headers {
				require.Contains(t, resp.header, k)
				assert.Equal(t, v, resp.header.Get(k), k)
			}
			assert.NotContains(t, f.logs.String(), "panic")
		})
	}
}
