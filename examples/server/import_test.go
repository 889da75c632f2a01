package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
)

// importArgs are the flags of the README's import example, for dir.
func importArgs(dir string, extra ...string) []string {
	args := []string{"import", "-data", dir, "-project", "group/app", "-project-id", "7", "-ref", "main",
		"-job", "build", "-status", "success", "-pipeline", "7", "-job-id", "99"}
	return append(args, extra...)
}

// TestImportThenServe imports an archive made by Info-ZIP, serves it with
// users from an -auth file, downloads it by ref and one file of it, then
// imports another archive over it.
func TestImportThenServe(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first := zipcorpus.Path(t, "infozip-tree.zip")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(ctx, importArgs(dir, first), &stdout, &stderr))
	require.Contains(t, stdout.String(), "imported "+first+" as the archive of job 99")

	authFile := filepath.Join(t.TempDir(), "auth.json")
	require.NoError(t, os.WriteFile(authFile,
		[]byte(`{"users":[{"name":"rita","tokens":["glpat-rita"],"roles":{"7":"reporter"}}]}`), 0o600))
	store, err := fsstore.Open(dir, fsstore.WithoutFsync())
	require.NoError(t, err)
	defer store.Close()
	h, err := newServer(ctx, serveConfig{authFile: authFile}, store, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	defer ts.Close()

	get := func(path string) (int, []byte) {
		req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("PRIVATE-TOKEN", "glpat-rita")
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	firstBytes, err := os.ReadFile(first)
	require.NoError(t, err)
	status, body := get("/api/v4/projects/group%2Fapp/jobs/artifacts/main/download?job=build")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, firstBytes, body)

	status, body = get("/api/v4/projects/7/jobs/99/artifacts/report.json")
	require.Equal(t, http.StatusOK, status)
	sum := sha256.Sum256(body)
	require.Equal(t, manifestSHA256(t, "infozip-tree.zip", "report.json"), hex.EncodeToString(sum[:]))

	before, err := store.JobByID(ctx, 99)
	require.NoError(t, err)
	oldArchive, ok := before.Archive()
	require.True(t, ok)

	second := zipcorpus.Path(t, "py-deflated.zip")
	require.NoError(t, run(ctx, importArgs(dir, second), &stdout, &stderr))
	secondBytes, err := os.ReadFile(second)
	require.NoError(t, err)
	status, body = get("/api/v4/projects/7/jobs/99/artifacts")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, secondBytes, body)
	old, err := store.OpenBlob(ctx, oldArchive.Blob)
	require.NoError(t, err, "the replaced archive's blob waits, queued, for the sweeper's grace")
	require.NoError(t, old.Close())
	_, err = jobartifacts.NewSweeper(store, jobartifacts.WithBlobGrace(0)).Sweep(ctx)
	require.NoError(t, err)
	_, err = store.OpenBlob(ctx, oldArchive.Blob)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound, "the replaced archive's blob is deleted by the sweep")
}

// TestImportValidatesArchives imports every archive of the shared corpus
// with the library's own validation (issue 10 item 8): what a runner upload
// accepts (MANIFEST.tsv's whole-archive row "opens") is imported, the rest
// refused with nothing stored. Damaged entries in a sound directory are
// imported, as uploaded, and answered when served.
func TestImportValidatesArchives(t *testing.T) {
	ctx := context.Background()
	for file, opens := range manifestOpens(t) {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			err := run(ctx, importArgs(dir, zipcorpus.Path(t, file)), &stdout, &stderr)
			store, openErr := fsstore.Open(dir, fsstore.WithoutFsync())
			require.NoError(t, openErr)
			defer store.Close()
			_, jobErr := store.JobByID(ctx, 99)
			if opens {
				require.NoError(t, err)
				require.NoError(t, jobErr)
				return
			}
			require.ErrorIs(t, err, jobartifacts.ErrInvalidArchive)
			require.ErrorIs(t, jobErr, jobartifacts.ErrNotFound, "nothing is stored")
		})
	}
}

// TestImportOverlappingEntriesBomb: 1,000 records on one 64 MiB deflate
// stream (issue 10 item 8 took 14 s of CPU to import) are validated by
// their directory alone: the import reads a few hundred KB of the archive,
// however much its entries would inflate to.
func TestImportOverlappingEntriesBomb(t *testing.T) {
	// Deflating the 64 MiB takes about 15 s under -race: beside
	// TestStallTimeout's cases, which sleep.
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bomb.zip")
	require.NoError(t, os.WriteFile(path, overlappingBomb(t, 1000, 64<<20), 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	counted := &countingReaderAt{ra: f}
	require.NoError(t, ziparchive.Validate(context.Background(), counted, fi.Size()))
	require.Less(t, counted.n, int64(256<<10), "bytes read to validate")
	t.Logf("archive %d bytes, read %d to validate", fi.Size(), counted.n)

	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), importArgs(t.TempDir(), path), &stdout, &stderr))
}

type countingReaderAt struct {
	ra io.ReaderAt
	n  int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// overlappingBomb is one deflate stream of size zeros and n central
// records all pointing at it.
func overlappingBomb(t *testing.T, n int, size int64) []byte {
	var data bytes.Buffer
	fw, err := flate.NewWriter(&data, flate.BestCompression)
	require.NoError(t, err)
	_, err = io.CopyN(fw, zeroReader{}, size)
	require.NoError(t, err)
	require.NoError(t, fw.Close())
	crc := crc32.NewIEEE()
	_, err = io.CopyN(crc, zeroReader{}, size)
	require.NoError(t, err)
	le := binary.LittleEndian
	header := func(b []byte, central bool, name string) []byte {
		if central {
			b = le.AppendUint32(b, 0x02014b50)
			b = le.AppendUint16(b, 20) // made by
		} else {
			b = le.AppendUint32(b, 0x04034b50)
		}
		b = le.AppendUint16(b, 20) // needed
		b = le.AppendUint16(b, 0)  // flags
		b = le.AppendUint16(b, 8)  // deflate
		b = le.AppendUint32(b, 0)  // time, date
		b = le.AppendUint32(b, crc.Sum32())
		b = le.AppendUint32(b, uint32(data.Len()))
		b = le.AppendUint32(b, uint32(size))
		b = le.AppendUint16(b, uint16(len(name)))
		b = le.AppendUint16(b, 0) // extra
		if central {
			b = le.AppendUint16(b, 0) // comment
			b = le.AppendUint16(b, 0) // disk
			b = le.AppendUint16(b, 0) // internal attributes
			b = le.AppendUint32(b, 0) // external attributes
			b = le.AppendUint32(b, 0) // local header offset: all the same
		}
		return append(b, name...)
	}
	archive := header(nil, false, "f0")
	archive = append(archive, data.Bytes()...)
	dirStart := len(archive)
	for i := range n {
		archive = header(archive, true, fmt.Sprintf("f%d", i))
	}
	dirLen := len(archive) - dirStart
	archive = le.AppendUint32(archive, 0x06054b50)
	archive = le.AppendUint32(archive, 0) // disks
	archive = le.AppendUint16(archive, uint16(n))
	archive = le.AppendUint16(archive, uint16(n))
	archive = le.AppendUint32(archive, uint32(dirLen))
	archive = le.AppendUint32(archive, uint32(dirStart))
	return le.AppendUint16(archive, 0)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestImportRefuses checks flag errors and conflicts with stored data.
func TestImportRefuses(t *testing.T) {
	ctx := context.Background()
	archive := zipcorpus.Path(t, "py-stored.zip")
	tests := []struct {
		name    string
		args    []string
		prepare [][]string // imports run first
		wantErr error
		wantMsg string
	}{
		{name: "no archive", args: []string{"import", "-project", "g/a", "-project-id", "1", "-pipeline", "1", "-job-id", "1"}, wantMsg: "exactly one zip"},
		{name: "no project", args: []string{"import", "-project-id", "1", "-pipeline", "1", "-job-id", "1", archive}, wantMsg: "-project"},
		{name: "no job id", args: []string{"import", "-project", "g/a", "-project-id", "1", "-pipeline", "1", archive}, wantMsg: "-job-id"},
		{name: "negative expiry", args: []string{"import", "-project", "g/a", "-project-id", "1", "-pipeline", "1", "-job-id", "1", "-expire-in", "-1h", archive}, wantMsg: "-expire-in"},
		{name: "missing file", args: []string{"import", "-project", "g/a", "-project-id", "1", "-pipeline", "1", "-job-id", "1", archive + ".missing"}, wantErr: os.ErrNotExist},
		{
			name:    "project id with another path",
			prepare: [][]string{{"-project", "group/app", "-project-id", "7", "-pipeline", "7", "-job-id", "99"}},
			args:    []string{"-project", "other/app", "-project-id", "7", "-pipeline", "7", "-job-id", "99"},
			wantErr: errImportConflict,
		},
		{
			name:    "job in another project",
			prepare: [][]string{{"-project", "group/app", "-project-id", "7", "-pipeline", "7", "-job-id", "99"}},
			args:    []string{"-project", "group/other", "-project-id", "8", "-pipeline", "8", "-job-id", "99"},
			wantErr: errImportConflict,
		},
		{
			name:    "job in another pipeline",
			prepare: [][]string{{"-project", "group/app", "-project-id", "7", "-pipeline", "7", "-job-id", "99"}},
			args:    []string{"-project", "group/app", "-project-id", "7", "-pipeline", "8", "-job-id", "99"},
			wantErr: errImportConflict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			withData := func(args []string) []string {
				if args[0] == "import" {
					return append([]string{"import", "-data", dir}, args[1:]...)
				}
				return append(append([]string{"import", "-data", dir}, args...), archive)
			}
			var stdout, stderr bytes.Buffer
			for _, p := range tt.prepare {
				require.NoError(t, run(ctx, withData(p), &stdout, &stderr))
			}
			err := run(ctx, withData(tt.args), &stdout, &stderr)
			require.Error(t, err)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
			require.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

// manifestOpens reads MANIFEST.tsv: archive file → whether its whole-archive
// row says it opens (its central directory reads).
func manifestOpens(t *testing.T) map[string]bool {
	t.Helper()
	opens := map[string]bool{}
	for _, row := range zipcorpus.Manifest(t) {
		if row.Whole {
			opens[row.File] = row.Expect == "opens"
		}
	}
	require.NotEmpty(t, opens)
	return opens
}

// manifestSHA256 returns the SHA-256 that MANIFEST.tsv gives for an entry.
func manifestSHA256(t *testing.T, file, entry string) string {
	t.Helper()
	var sum string
	for _, row := range zipcorpus.Manifest(t) {
		if row.File == file && row.Entry == entry {
			sum = row.SHA256
		}
	}
	require.NotEmpty(t, sum, "%s %s in MANIFEST.tsv", file, entry)
	return sum
}

// TestImportSetsUpWhatGitLabsSpecsNeed: import can make the states that
// GitLab's request specs start from — public pipelines, a job-token
// allowlist, artifacts:access, an erased job, a locked and expired archive,
// a job without an archive — and the server answers them as GitLab does.
func TestImportSetsUpWhatGitLabsSpecsNeed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	archive := zipcorpus.Path(t, "infozip-tree.zip")
	var stdout, stderr bytes.Buffer
	importJob := func(jobID, pipelineID string, extra ...string) {
		t.Helper()
		args := []string{"import", "-data", dir, "-project", "group/app", "-project-id", "7", "-visibility", "public",
			"-public-pipelines", "-job-token-allowlist", "8, 9", "-pipeline", pipelineID, "-job-id", jobID}
		require.NoError(t, run(ctx, append(args, extra...), &stdout, &stderr), stderr.String())
	}
	importJob("91", "71", "-locked", "-expired", archive)
	importJob("92", "72", "-expired", archive)
	importJob("93", "73", "-artifacts-access", "none", archive)
	importJob("94", "74", "-erased", "-status", "failed", archive)
	importJob("95", "75", "-no-archive")
	require.Contains(t, stdout.String(), "registered job 95")

	store, err := fsstore.Open(dir, fsstore.WithoutFsync())
	require.NoError(t, err)
	defer store.Close()
	p, err := store.Project(ctx, 7)
	require.NoError(t, err)
	require.True(t, p.PublicPipelines)
	require.True(t, p.CIJobTokenScopeEnabled)
	require.Equal(t, []int64{8, 9}, p.JobTokenAllowlist)
	j, err := store.JobByID(ctx, 94)
	require.NoError(t, err)
	require.NotNil(t, j.ErasedAt)
	j, err = store.JobByID(ctx, 95)
	require.NoError(t, err)
	_, ok := j.Archive()
	require.False(t, ok)

	h, err := newServer(ctx, serveConfig{}, store, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	defer ts.Close()
	status := func(path string) int {
		resp, err := ts.Client().Get(ts.URL + "/api/v4/projects/7/jobs/" + path)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, status("91/artifacts/report.json"), "locked and expired: still available")
	require.Equal(t, http.StatusNotFound, status("92/artifacts/report.json"), "expired: gone for single files")
	require.Equal(t, http.StatusOK, status("92/artifacts"), "expired: the whole archive until swept")
	require.Equal(t, http.StatusForbidden, status("93/artifacts"), "artifacts:access none")
	require.Equal(t, http.StatusNotFound, status("95/artifacts"), "no archive")

	for _, bad := range [][]string{
		{"-no-archive", archive},
		{"-expired", "-expire-in", "1h", archive},
		{"-artifacts-access", "maintainer", archive},
		{"-job-token-allowlist", "x", archive},
	} {
		args := append([]string{"import", "-data", dir, "-project", "group/app", "-project-id", "7", "-pipeline", "7", "-job-id", "99"}, bad...)
		require.Error(t, run(ctx, args, io.Discard, io.Discard), "%v", bad)
	}
}
