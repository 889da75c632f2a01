package jobartifacts_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContentTransferEncoding: GitLab serves whole archives (routes 1, 2
// and 10) through present_artifacts_file! → present_disk_file!, which sets
// Content-Transfer-Encoding: binary; single files go through Workhorse's
// send_artifacts_entry, which does not (issue 10, item 12). Errors never
// carry it, and a redirect to object storage is not a file.
func TestContentTransferEncoding(t *testing.T) {
	f := newAPIFixture(t, apiFixtureConfig{})
	p1 := "/api/v4/projects/1"
	tests := []struct {
		name   string
		method string
		target string
		header http.Header
		status int
		want   string
	}{
		{name: "route 1", target: p1 + "/jobs/100/artifacts", header: asUser(apiTokenReporter), status: 200, want: "binary"},
		{name: "route 1 HEAD", method: http.MethodHead, target: p1 + "/jobs/100/artifacts", header: asUser(apiTokenReporter), status: 200, want: "binary"},
		{name: "route 1 range", target: p1 + "/jobs/100/artifacts", header: headerOf("PRIVATE-TOKEN", apiTokenReporter, "Range", "bytes=0-9"), status: 206, want: "binary"},
		{name: "route 2", target: p1 + "/jobs/artifacts/main/download?job=test", header: asUser(apiTokenReporter), status: 200, want: "binary"},
		{name: "route 10", target: "/api/v4/jobs/100/artifacts", header: headerOf("JOB-TOKEN", apiJobTokenOwn), status: 200, want: "binary"},
		{name: "route 3", target: p1 + "/jobs/100/artifacts/hello.txt", header: asUser(apiTokenReporter), status: 200},
		{name: "route 4", target: p1 + "/jobs/artifacts/main/raw/hello.txt?job=test", header: asUser(apiTokenReporter), status: 200},
		{name: "route 1 missing job", target: p1 + "/jobs/999/artifacts", header: asUser(apiTokenReporter), status: 404},
		{name: "route 1 no archive", target: p1 + "/jobs/103/artifacts", header: asUser(apiTokenReporter), status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			resp := f.do(t, method, tt.target, tt.header)
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			assert.Equal(t, tt.want, resp.header.Get("Content-Transfer-Encoding"))
		})
	}
}
