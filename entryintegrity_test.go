package jobartifacts_test

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// integrityArchive holds, for job 103, entries that are damaged in ways
// only their data shows, small and large, and one that lies about its size.
func integrityArchive(t *testing.T) (archive, good []byte) {
	small := []byte("small entry, bad crc\n")
	good = bytes.Repeat([]byte("0123456789abcdef"), (5<<20)/16) // over the verify-first limit
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	archive = ziptest.Build(t,
		ziptest.Entry{Raw: true, Name: "small-bad.txt", Body: small, Method: ziptest.Store,
			CRC32: crc32.ChecksumIEEE(small) ^ 1, UncompressedSize: uint64(len(small))},
		ziptest.Entry{Raw: true, Name: "small-short.txt", Body: small, Method: ziptest.Store,
			CRC32: crc32.ChecksumIEEE(small), UncompressedSize: uint64(len(small))},
		ziptest.Entry{Raw: true, Name: "huge.bin", Body: []byte{0x03, 0x00}, Method: ziptest.Deflate, UncompressedSize: 10 << 30},
		ziptest.Entry{Raw: true, Name: "large-bad.bin", Body: bad, Method: ziptest.Store,
			CRC32: crc32.ChecksumIEEE(good), UncompressedSize: uint64(len(bad))},
		ziptest.Stored("large-good.bin", string(good)),
	)
	// small-short.txt: its central record declares one byte fewer than its
	// data holds.
	at := bytes.Index(archive, []byte("small-short.txt"))
	at = bytes.Index(archive[at+1:], []byte("small-short.txt")) + at + 1 // the central record's name
	archive[at-46+24]--                                                  // its uncompressed size
	archive[at-46+20]--                                                  // and compressed size
	return archive, good
}

func newIntegrityFixture(t *testing.T) (*apiFixture, []byte) {
	f := newAPIFixture(t, apiFixtureConfig{})
	archive, good := integrityArchive(t)
	j, err := f.store.JobByID(t.Context(), 103)
	require.NoError(t, err)
	f.storeArtifact(t, *j, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip"}, archive)
	return f, good
}

// TestEntryIntegrityRoute3 (issue 10 items 6 and 13): route 3 answers a
// clean 422 for small damaged entries and for sizes no data could hold, on
// GET and HEAD; a large damaged entry is sent chunked and cut, so Go's
// client sees an error, never a complete file; a large good one arrives
// whole.
func TestEntryIntegrityRoute3(t *testing.T) {
	f, good := newIntegrityFixture(t)
	reporter := headerOf("Private-Token", apiTokenReporter)
	base := "/api/v4/projects/1/jobs/103/artifacts/"
	for _, name := range []string{"small-bad.txt", "small-short.txt", "huge.bin"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			res := f.do(t, method, base+name, reporter)
			require.Equal(t, http.StatusUnprocessableEntity, res.status, "%s %s", method, name)
			require.Empty(t, res.header.Get("Content-Disposition"))
		}
	}

	res := f.send(http.MethodGet, base+"large-bad.bin", reporter)
	require.Error(t, res.err, "a damaged large entry must reach the client as an error")
	require.True(t, errors.Is(res.err, io.ErrUnexpectedEOF), "%v", res.err)
	require.NotEqual(t, good, res.body)

	res = f.do(t, http.MethodGet, base+"large-good.bin", reporter)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, good, res.body)
	require.Empty(t, res.header.Get("Content-Length"), "unverified entries go chunked")
	res = f.do(t, http.MethodHead, base+"large-good.bin", reporter)
	require.Equal(t, "5242880", res.header.Get("Content-Length"), "HEAD still tells the size")
}

// TestEntryIntegrityRoute3Revalidation: a revalidation that ends in 304
// does not read the entry, so a small entry whose damage only its data
// shows answers it as a good one would; any request that would send the
// entry still gets the 422, and so does an entry whose central record
// alone proves it bad.
func TestEntryIntegrityRoute3Revalidation(t *testing.T) {
	f, _ := newIntegrityFixture(t)
	base := "/api/v4/projects/1/jobs/103/artifacts/"
	for _, tc := range []struct {
		name, ifNoneMatch string
		status            int
	}{
		{"small-bad.txt", "*", http.StatusNotModified},
		{"small-bad.txt", `"other"`, http.StatusUnprocessableEntity},
		{"huge.bin", "*", http.StatusUnprocessableEntity},
	} {
		header := headerOf("Private-Token", apiTokenReporter, "If-None-Match", tc.ifNoneMatch)
		res := f.do(t, http.MethodGet, base+tc.name, header)
		require.Equal(t, tc.status, res.status, "%s, If-None-Match: %s", tc.name, tc.ifNoneMatch)
		if tc.status == http.StatusNotModified {
			require.Empty(t, res.body)
		} else {
			require.Contains(t, string(res.body), "422 Unprocessable Entity")
		}
	}
}

// missingProgram skips t, whose client is not installed, naming the command
// that installs every client and runs every suite; under CI=true, where
// that command has run, it fails t instead.
func missingProgram(t *testing.T, program string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed: CI must run .ci/install-clients (.ci/test-all does) before the tests", program)
	}
	t.Skipf("%s is not installed: run .ci/test-all to install the clients and run every suite", program)
}

// TestEntryIntegrityCurl: curl fails (exit 18, partial file) on the cut
// chunked transfer of a damaged large entry, and with --fail on the 422.
func TestEntryIntegrityCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		missingProgram(t, "curl")
	}
	f, _ := newIntegrityFixture(t)
	run := func(args ...string) int {
		cmd := exec.Command(curl, append([]string{"-sS", "-o", os.DevNull, "-H", "Private-Token: " + apiTokenReporter}, args...)...)
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		require.NoError(t, err)
		return 0
	}
	base := f.server.URL + "/api/v4/projects/1/jobs/103/artifacts/"
	require.Equal(t, 18, run(base+"large-bad.bin"), "curl: partial file")
	require.Equal(t, 22, run("--fail", base+"small-bad.txt"), "curl --fail: HTTP error")
	require.Equal(t, 0, run(base+"large-good.bin"))
}

// TestEntryIntegrityPythonGitlab: python-gitlab 3.12 over urllib3 1.26,
// which does not enforce Content-Length, raises for the cut chunked
// transfer and for the 422, and saves the good entry whole. It needs
// Debian's python3-gitlab, as clients/run.sh does (missingProgram).
func TestEntryIntegrityPythonGitlab(t *testing.T) {
	python := "/usr/bin/python3"
	if exec.Command(python, "-c", "import gitlab").Run() != nil {
		missingProgram(t, "python3-gitlab")
	}
	f, good := newIntegrityFixture(t)
	script := `
import sys, gitlab
gl = gitlab.Gitlab(sys.argv[1], private_token=sys.argv[2])
job = gl.projects.get(1, lazy=True).jobs.get(103, lazy=True)
for name in ("large-bad.bin", "small-bad.txt", "large-good.bin"):
    try:
        data = job.artifact(name)
        print(name, "ok", len(data))
    except Exception as e:
        print(name, "error", type(e).__name__)
`
	out, err := exec.Command(python, "-c", script, f.server.URL, apiTokenReporter).CombinedOutput()
	require.NoError(t, err, string(out))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 3, string(out))
	require.True(t, strings.HasPrefix(lines[0], "large-bad.bin error "), string(out))
	require.Equal(t, "small-bad.txt error GitlabGetError", lines[1])
	require.Equal(t, "large-good.bin ok "+strconv.Itoa(len(good)), lines[2])
}
