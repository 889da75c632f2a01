package jobartifacts_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// TestUploadExpireInOverflow: an expire_in whose number overflows even a
// float64 is refused like a shorter overflow, and nothing is stored (issue
// 10, item 9: it used to be 201 and never expire).
func TestUploadExpireInOverflow(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	for _, v := range []string{strings.Repeat("9", 400) + " days", "99999999999999 years", strings.Repeat("9", 400)} {
		path := fmt.Sprintf("/jobs/%d/artifacts?expire_in=%s", jobID, url.QueryEscape(v))
		resp := f.postMultipart(path, map[string]string{"JOB-TOKEN": token}, "file", "artifacts.zip", runnerZip("x"))
		require.Equal(t, http.StatusBadRequest, resp.status, string(resp.body))
		require.JSONEq(t, `{"error":"expire_in is invalid"}`, string(resp.body))
		_, ok := f.job(jobID).Archive()
		require.False(t, ok)
	}
	f.requireNoStrayBlobs(jobID)
}
