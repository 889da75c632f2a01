package jobartifacts_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// GitLab's runner request spec for our two runner routes,
// spec/requests/api/ci/runner/jobs_artifacts_spec.rb (RSpec.describe
// API::Ci::Runner › job artifact endpoints), replayed as the spec sends it:
// parameters in the multipart body. Left out: /artifacts/authorize and the
// Workhorse upload plumbing (remote ids, tmp paths, JWT), plan and
// namespace size limits (we have one WithMaxUploadSize: TestUploadTooLarge),
// object storage errors (GitLab 503; ours: 500), load balancing, and the
// archive factory being a GIF (ours checks that an archive is a zip).

// specUpload posts file with the spec's body params as a runner would.
func (f *runnerFixture) specUpload(jobID int64, token string, data []byte, params map[string]string) runnerResponse {
	f.t.Helper()
	parts := []multipartField{fileField("ci_build_artifacts.zip", data)}
	for k, v := range params {
		parts = append(parts, field(k, v))
	}
	return f.postParts(fmt.Sprintf("/jobs/%d/artifacts", jobID), token, parts...)
}

func TestGitLabRunnerSpecUpload(t *testing.T) {
	zip := runnerZip("spec")
	junit := gzipped(t, "<testsuites/>")
	dotenv := gzipped(t, "KEY1=VAR1\nKEY2=VAR2\n")
	metadata := gzipped(t, "\x00\x01GitLab Build Artifacts Metadata 0.0.2\x00\x00\x00\x00")
	tests := []struct {
		spec   string
		status int
		params map[string]string
		data   []byte
		stored string // the artifact type recorded, "" for none
		body   string
	}{
		{spec: "POST /api/v4/jobs/:id/artifacts › … › when job is running › when uses accelerated file post › for file stored locally › updates successfully",
			status: 201, data: zip, stored: "archive"},
		{spec: "… › when artifact_type is archive › when artifact_format is zip › stores junit test report",
			status: 201, params: map[string]string{"artifact_type": "archive", "artifact_format": "zip"}, data: zip, stored: "archive"},
		{spec: "… › when artifact_type is archive › when artifact_format is gzip › returns an error",
			status: 400, params: map[string]string{"artifact_type": "archive", "artifact_format": "gzip"}, data: zip},
		{spec: "… › when artifact_type is junit › when artifact_format is gzip › stores junit test report",
			status: 201, params: map[string]string{"artifact_type": "junit", "artifact_format": "gzip"}, data: junit, stored: "junit"},
		{spec: "… › when artifact_type is junit › when artifact_format is raw › returns an error",
			status: 400, params: map[string]string{"artifact_type": "junit", "artifact_format": "raw"}, data: junit},
		{spec: "… › when artifact_type is metrics_referee › when artifact_format is gzip › stores metrics_referee data",
			status: 201, params: map[string]string{"artifact_type": "metrics_referee", "artifact_format": "gzip"}, data: junit, stored: "metrics_referee"},
		{spec: "… › when artifact_type is metrics_referee › when artifact_format is raw › returns an error",
			status: 400, params: map[string]string{"artifact_type": "metrics_referee", "artifact_format": "raw"}, data: junit},
		{spec: "… › when artifact_type is network_referee › when artifact_format is gzip › stores network_referee data",
			status: 201, params: map[string]string{"artifact_type": "network_referee", "artifact_format": "gzip"}, data: junit, stored: "network_referee"},
		{spec: "… › when artifact_type is network_referee › when artifact_format is raw › returns an error",
			status: 400, params: map[string]string{"artifact_type": "network_referee", "artifact_format": "raw"}, data: junit},
		{spec: "… › when artifact_type is dotenv › when artifact_format is gzip › stores dotenv file",
			status: 201, params: map[string]string{"artifact_type": "dotenv", "artifact_format": "gzip"}, data: dotenv, stored: "dotenv"},
		{spec: "… › when artifact_type is dotenv › when artifact_format is gzip › when parse error happens › returns an error",
			status: 400, params: map[string]string{"artifact_type": "dotenv", "artifact_format": "gzip"}, data: metadata, body: `{"message":"Invalid Format"}`},
		{spec: "… › when artifact_type is dotenv › when artifact_format is raw › returns an error",
			status: 400, params: map[string]string{"artifact_type": "dotenv", "artifact_format": "raw"}, data: dotenv},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			f := newRunnerFixture(t)
			jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
			resp := f.specUpload(jobID, token, tt.data, tt.params)
			require.Equal(t, tt.status, resp.status, "%s", resp.body)
			if tt.body != "" {
				require.JSONEq(t, tt.body, string(resp.body))
			}
			arts := f.job(jobID).Artifacts
			if tt.stored == "" {
				require.Empty(t, arts)
				return
			}
			require.Len(t, arts, 1)
			require.Equal(t, tt.stored, arts[0].FileType)
		})
	}
}

func TestGitLabRunnerSpecUploadRefusals(t *testing.T) {
	f := newRunnerFixture(t)
	zip := runnerZip("spec")

	// … › when job is finished › returns a 403 Forbidden
	finished, finishedToken := f.addJob(runnerProjectID, jobartifacts.StatusSuccess)
	require.Equal(t, http.StatusForbidden, f.specUpload(finished, finishedToken, zip, nil).status)

	// … › when job does not exist anymore › returns 403 Forbidden
	_, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	require.Equal(t, http.StatusForbidden, f.specUpload(999999, token, zip, nil).status)

	// … › when using runners token › responds with forbidden (a token that is not a job's)
	running, _ := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	require.Equal(t, http.StatusForbidden, f.specUpload(running, "glrt-runners-token", zip, nil).status)

	// … › when artifacts post request does not contain file › fails to post artifacts without file
	runningOwn, ownToken := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	resp := f.postParts(fmt.Sprintf("/jobs/%d/artifacts", runningOwn), ownToken, field("artifact_type", "archive"))
	require.Equal(t, http.StatusBadRequest, resp.status)
	require.Empty(t, f.job(runningOwn).Artifacts)
}

func TestGitLabRunnerSpecExpireIn(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		spec     string
		options  []jobartifacts.Option
		params   map[string]string
		expireIn *time.Duration
	}{
		{spec: "… › when setting an expire date › when an expire_in is given › updates when specified",
			options: []jobartifacts.Option{jobartifacts.WithDefaultExpireIn(0)}, params: map[string]string{"expire_in": "7 days"}, expireIn: ptr(7 * day)},
		{spec: "… › when setting an expire date › when no expire_in is given › ignores if not specified",
			options: []jobartifacts.Option{jobartifacts.WithDefaultExpireIn(0)}},
		{spec: "… › when no expire_in is given › with application default › when default is 5 days › sets to application default",
			options: []jobartifacts.Option{jobartifacts.WithDefaultExpireIn(5 * day)}, expireIn: ptr(5 * day)},
		{spec: "… › when no expire_in is given › with application default › when default is 0 › does not set expire_in",
			options: []jobartifacts.Option{jobartifacts.WithDefaultExpireIn(0)}},
		{spec: "… › when no expire_in is given › with application default › when value is never › does not set expire_in",
			options: []jobartifacts.Option{jobartifacts.WithDefaultExpireIn(5 * day)}, params: map[string]string{"expire_in": "never"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			f := newRunnerFixture(t, tt.options...)
			jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
			resp := f.specUpload(jobID, token, runnerZip("expire"), tt.params)
			require.Equal(t, http.StatusCreated, resp.status, "%s", resp.body)
			j := f.job(jobID)
			if tt.expireIn == nil {
				require.Nil(t, j.ArtifactsExpireAt)
				return
			}
			require.NotNil(t, j.ArtifactsExpireAt)
			require.Equal(t, f.now.Add(*tt.expireIn), *j.ArtifactsExpireAt)
		})
	}
}

func TestGitLabRunnerSpecExistingArtifact(t *testing.T) {
	f := newRunnerFixture(t)
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	params := map[string]string{"artifact_type": "archive", "artifact_format": "zip"}
	first := runnerZip("existing")
	require.Equal(t, http.StatusCreated, f.specUpload(jobID, token, first, params).status)
	existing, _ := f.job(jobID).Archive()

	// … › when artifacts already exist for the job › when sha256 is the same of the existing artifact › ignores the new artifact
	require.Equal(t, http.StatusCreated, f.specUpload(jobID, token, first, params).status)
	kept, _ := f.job(jobID).Archive()
	require.Equal(t, existing, kept)

	// … › when sha256 is different than the existing artifact › logs and returns an error
	resp := f.specUpload(jobID, token, runnerZip("other"), params)
	require.Equal(t, http.StatusBadRequest, resp.status)
	kept, _ = f.job(jobID).Archive()
	require.Equal(t, existing, kept)
}

func TestGitLabRunnerSpecDownload(t *testing.T) {
	f := newRunnerFixture(t)
	ctx := context.Background()
	// The job with artifacts, uploaded while it ran, then finished.
	jobID, jobToken := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	archive := runnerZip("download")
	require.Equal(t, http.StatusCreated, f.specUpload(jobID, jobToken, archive, nil).status)
	dependent, dependentToken := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	pending, pendingToken := f.addJob(runnerProjectID, "pending")
	_, unrelatedToken := f.addJob(runnerOtherProjectID, jobartifacts.StatusRunning)
	noArtifacts, _ := f.addJob(runnerProjectID, jobartifacts.StatusSuccess)
	_ = pending

	check := func(t *testing.T, id int64, token string, status int) runnerResponse {
		t.Helper()
		resp := f.runner.download(t, id, token, false)
		require.Equal(t, status, resp.status, "%s", resp.body)
		return resp
	}
	t.Run("GET /api/v4/jobs/:id/artifacts › when job has artifacts › when using job token › successful artifact download › when artifacts are stored locally", func(t *testing.T) {
		resp := check(t, jobID, jobToken, 200)
		require.Equal(t, "binary", resp.header.Get("Content-Transfer-Encoding"))
		require.Equal(t, `attachment; filename="ci_build_artifacts.zip"; filename*=UTF-8''ci_build_artifacts.zip`, resp.header.Get("Content-Disposition"))
		require.Equal(t, archive, resp.body)
	})
	t.Run("… › when using token belonging to the dependent job › successful artifact download", func(t *testing.T) {
		require.Equal(t, archive, check(t, jobID, dependentToken, 200).body)
	})
	t.Run("… › when using token belonging to a pending dependent job › unauthorized request", func(t *testing.T) {
		check(t, jobID, pendingToken, 401)
	})
	t.Run("… › when using a token from an unrelated project › responds with forbidden", func(t *testing.T) {
		check(t, jobID, unrelatedToken, 403)
	})
	t.Run("… › when using an invalid token › unauthorized request", func(t *testing.T) {
		check(t, jobID, "invalid-token", 401)
	})
	t.Run("… › when using runnners token › unauthorized request", func(t *testing.T) {
		check(t, jobID, "glrt-runners-token", 401)
	})
	t.Run("GET /api/v4/jobs/:id/artifacts › when job does not have artifacts › responds with not found", func(t *testing.T) {
		check(t, noArtifacts, dependentToken, 404)
	})
	t.Run("GET /api/v4/jobs/:id/artifacts › when job does not exist anymore › responds with 403 Forbidden", func(t *testing.T) {
		check(t, 999999, dependentToken, 403)
	})
	t.Run("… › when using job token › when the job is no longer running › unauthorized request", func(t *testing.T) {
		j := f.job(jobID)
		j.Status = jobartifacts.StatusSuccess
		require.NoError(t, f.store.PutJob(ctx, *j))
		check(t, jobID, jobToken, 401)
	})
	t.Run("… › when using token belonging to the dependent job › when the dependent job is no longer running › unauthorized request", func(t *testing.T) {
		j := f.job(dependent)
		j.Status = jobartifacts.StatusSuccess
		require.NoError(t, f.store.PutJob(ctx, *j))
		check(t, jobID, dependentToken, 401)
	})
}

func TestGitLabRunnerSpecDirectDownload(t *testing.T) {
	f := newRunnerFixtureWith(t, true)
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
	require.Equal(t, http.StatusCreated, f.specUpload(jobID, token, runnerZip("direct"), nil).status)
	// … › successful artifact download › when artifacts are stored remotely › when direct download is being used › receives redirect for downloading artifacts
	resp := f.runner.download(t, jobID, token, true)
	require.Equal(t, http.StatusFound, resp.status)
	require.NotEmpty(t, resp.header.Get("Location"))
}
