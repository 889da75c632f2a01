package jobartifacts_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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

// multipartField is one part of a multipart body a test builds: a form
// field, or a file when filename is set.
type multipartField struct {
	name, filename string
	data           []byte
}

// postParts sends the parts in order, as a runner or Workhorse would.
func (f *runnerFixture) postParts(path string, token string, parts ...multipartField) runnerResponse {
	f.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		require.NoError(f.t, err)
		_, err = w.Write(p.data)
		require.NoError(f.t, err)
	}
	require.NoError(f.t, mw.Close())
	return f.post(path, map[string]string{"JOB-TOKEN": token, "Content-Type": mw.FormDataContentType()}, &buf, int64(buf.Len()))
}

func field(name, value string) multipartField { return multipartField{name: name, data: []byte(value)} }

func fileField(filename string, data []byte) multipartField {
	return multipartField{name: "file", filename: filename, data: data}
}

// gzipped compresses each of members as a gzip member of its own.
func gzipped(t testing.TB, members ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, m := range members {
		zw := gzip.NewWriter(&buf)
		_, err := io.WriteString(zw, m)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
	}
	return buf.Bytes()
}

// TestUploadFormFields: artifact_type, artifact_format and expire_in sent
// as multipart form fields count, before or after the file, and win over
// the query (GitLab's params are Rack's GET merged with POST; its own
// runner spec sends them in the body: spec/requests/api/ci/runner/
// jobs_artifacts_spec.rb "when artifact_type is junit" …). Issue 10, item 12.
func TestUploadFormFields(t *testing.T) {
	junit := gzipped(t, "<testsuites/>")
	week := 7 * 24 * time.Hour
	tests := []struct {
		name     string
		query    string
		parts    func() []multipartField
		status   int
		body     string
		fileType string
		format   string
		expireIn *time.Duration // nil: never
	}{
		{name: "junit fields before the file", status: 201, fileType: "junit", format: "gzip", expireIn: ptr(30 * 24 * time.Hour),
			parts: func() []multipartField {
				return []multipartField{field("artifact_type", "junit"), field("artifact_format", "gzip"), fileField("junit.xml.gz", junit)}
			}},
		{name: "junit fields after the file", status: 201, fileType: "junit", format: "gzip", expireIn: ptr(30 * 24 * time.Hour),
			parts: func() []multipartField {
				return []multipartField{fileField("junit.xml.gz", junit), field("artifact_type", "junit"), field("artifact_format", "gzip")}
			}},
		{name: "form wins over the query", query: "artifact_type=archive&artifact_format=zip&expire_in=never", status: 201, fileType: "junit", format: "gzip", expireIn: &week,
			parts: func() []multipartField {
				return []multipartField{field("artifact_type", "junit"), field("artifact_format", "gzip"), field("expire_in", "1 week"), fileField("junit.xml.gz", junit)}
			}},
		{name: "query still counts without fields", query: "artifact_type=junit&artifact_format=gzip", status: 201, fileType: "junit", format: "gzip", expireIn: ptr(30 * 24 * time.Hour),
			parts: func() []multipartField { return []multipartField{fileField("junit.xml.gz", junit)} }},
		{name: "expire_in field", status: 201, fileType: "archive", format: "zip", expireIn: &week,
			parts: func() []multipartField {
				return []multipartField{fileField("artifacts.zip", runnerZip("x")), field("expire_in", "1 week")}
			}},
		{name: "expire_in field never", query: "expire_in=1+day", status: 201, fileType: "archive", format: "zip",
			parts: func() []multipartField {
				return []multipartField{field("expire_in", "never"), fileField("artifacts.zip", runnerZip("x"))}
			}},
		{name: "bad expire_in field", status: 400, body: `{"error":"expire_in is invalid"}`,
			parts: func() []multipartField {
				return []multipartField{fileField("artifacts.zip", runnerZip("x")), field("expire_in", "soon")}
			}},
		{name: "unknown artifact_type field", status: 400, body: `{"error":"artifact_type does not have a valid value"}`,
			parts: func() []multipartField {
				return []multipartField{field("artifact_type", "bogus"), fileField("artifacts.zip", runnerZip("x"))}
			}},
		{name: "unknown artifact_format field after the file", status: 400, body: `{"error":"artifact_format does not have a valid value"}`,
			parts: func() []multipartField {
				return []multipartField{fileField("artifacts.zip", runnerZip("x")), field("artifact_format", "rar")}
			}},
		{name: "format field not the type's", status: 400, body: `{"message":"Validation failed: Invalid file format with specified file type"}`,
			parts: func() []multipartField {
				return []multipartField{field("artifact_type", "junit"), field("artifact_format", "raw"), fileField("junit.xml.gz", junit)}
			}},
		{name: "archive named by the form is checked as a zip", query: "artifact_type=junit&artifact_format=gzip", status: 400, body: `{"message":"400 Bad request - invalid zip archive"}`,
			parts: func() []multipartField {
				return []multipartField{fileField("artifacts.zip", junit), field("artifact_type", "archive"), field("artifact_format", "zip")}
			}},
		{name: "an oversized field", status: 400, body: `{"error":"expire_in is invalid"}`,
			parts: func() []multipartField {
				return []multipartField{field("expire_in", strings.Repeat("1", 70<<10)), fileField("artifacts.zip", runnerZip("x"))}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRunnerFixture(t)
			jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
			path := fmt.Sprintf("/jobs/%d/artifacts", jobID)
			if tt.query != "" {
				path += "?" + tt.query
			}
			resp := f.postParts(path, token, tt.parts()...)
			require.Equal(t, tt.status, resp.status, string(resp.body))
			if tt.status != http.StatusCreated {
				require.JSONEq(t, tt.body, string(resp.body))
				require.Empty(t, f.job(jobID).Artifacts)
				f.requireNoStrayBlobs(jobID)
				return
			}
			arts := f.job(jobID).Artifacts
			require.Len(t, arts, 1)
			require.Equal(t, tt.fileType, arts[0].FileType)
			require.Equal(t, tt.format, arts[0].FileFormat)
			if tt.expireIn == nil {
				require.Nil(t, arts[0].ExpireAt)
			} else {
				require.NotNil(t, arts[0].ExpireAt)
				require.Equal(t, f.now.Add(*tt.expireIn), *arts[0].ExpireAt)
			}
			f.requireNoStrayBlobs(jobID)
		})
	}
}

// TestUploadDotenv: a dotenv report is parsed at upload as GitLab's
// Ci::ParseDotenvArtifactService does; what it refuses is 400 with its
// message and nothing is stored (issue 10, item 12; GitLab's runner spec
// "when artifact_type is dotenv" / "when parse error happens": 400
// "Invalid Format"). Limits: GitLab's default plan limits, 5 KiB and 20
// variables.
func TestUploadDotenv(t *testing.T) {
	manyVars := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "VAR_%d=%d\n", i, i)
		}
		return b.String()
	}
	incompressible := make([]byte, 6<<10)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(incompressible)
	tests := []struct {
		name   string
		data   []byte
		status int
		body   string
	}{
		{name: "two variables", data: gzipped(t, "KEY1=value1\nKEY2=value 2\n"), status: 201},
		{name: "no trailing newline, CRLF, spaces around", data: gzipped(t, "A=1\r\n  B  =  two words  \nC="), status: 201},
		{name: "value with = and #", data: gzipped(t, "URL=https://x.example/?a=b#c\n"), status: 201},
		{name: "UTF-8 BOM", data: gzipped(t, "\xef\xbb\xbfKEY=v\n"), status: 201},
		{name: "two gzip members", data: gzipped(t, "A=1\n", "\xef\xbb\xbfB=2\n"), status: 201},
		{name: "empty report", data: gzipped(t, ""), status: 201},
		{name: "20 variables", data: gzipped(t, manyVars(20)), status: 201},
		{name: "a key twice counts once", data: gzipped(t, manyVars(20)+"VAR_0=again\n"), status: 201},
		{name: "a line without =", data: gzipped(t, "KEY=v\nnot a variable\n"), status: 400, body: `{"message":"Invalid Format"}`},
		{name: "an empty line", data: gzipped(t, "A=1\n\nB=2\n"), status: 400, body: `{"message":"Invalid Format"}`},
		{name: "binary content", data: gzipped(t, "\x00\x01\x02\xff\xfe binary metadata"), status: 400, body: `{"message":"Invalid Format"}`},
		{name: "not gzip (ours: GitLab fails with 500)", data: []byte("KEY=v\n"), status: 400, body: `{"message":"Invalid Format"}`},
		{name: "21 variables", data: gzipped(t, manyVars(21)), status: 400, body: `{"message":"Dotenv files cannot have more than 20 variables"}`},
		{name: "5 KiB or more", data: gzipped(t, string(incompressible)), status: 400, body: `{"message":"Dotenv Artifact Too Big. Maximum Allowable Size: 5120"}`},
		{name: "a key with a dash", data: gzipped(t, "A-B=1\n"), status: 400, body: `{"message":"Validation failed: Key can contain only letters, digits and '_'."}`},
		{name: "an empty key", data: gzipped(t, "=1\n"), status: 400, body: `{"message":"Validation failed: Key can't be blank, Key can contain only letters, digits and '_'."}`},
		{name: "a key of 256 letters", data: gzipped(t, strings.Repeat("K", 256)+"=1\n"), status: 400, body: `{"message":"Validation failed: Key is too long (maximum is 255 characters)"}`},
	}
	for _, tt := range tests {
		for _, via := range []string{"form", "query"} {
			t.Run(tt.name+" via "+via, func(t *testing.T) {
				f := newRunnerFixture(t)
				jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
				path := fmt.Sprintf("/jobs/%d/artifacts", jobID)
				parts := []multipartField{fileField("dotenv.gz", tt.data)}
				if via == "form" {
					parts = append(parts, field("artifact_type", "dotenv"), field("artifact_format", "gzip"))
				} else {
					path += "?artifact_type=dotenv&artifact_format=gzip"
				}
				resp := f.postParts(path, token, parts...)
				require.Equal(t, tt.status, resp.status, string(resp.body))
				if tt.status == http.StatusCreated {
					arts := f.job(jobID).Artifacts
					require.Len(t, arts, 1)
					require.Equal(t, "dotenv", arts[0].FileType)
					return
				}
				require.JSONEq(t, tt.body, string(resp.body))
				require.Empty(t, f.job(jobID).Artifacts)
				f.requireNoStrayBlobs(jobID)
			})
		}
	}
}
