package jobartifacts_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// corpusDir finds ../shared/testdata/zips, walking up from the package
// directory. The corpus is required: its absence fails the test.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		candidate := filepath.Join(dir, "..", "shared", "testdata", "zips")
		if _, err := os.Stat(filepath.Join(candidate, "MANIFEST.tsv")); err == nil {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("shared/testdata/zips/MANIFEST.tsv not found above the package directory")
		}
		dir = parent
	}
}

// corpusRow is one row of MANIFEST.tsv.
type corpusRow struct {
	file   string
	entry  string // exact bytes: "hex:" names are decoded
	whole  bool   // the "*" row about the archive as a whole
	size   int64  // -1 for "-"
	sha256 string
	expect string
}

func readCorpusManifest(t testing.TB, dir string) []corpusRow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(data))
	require.True(t, sc.Scan(), "manifest header")
	col := make(map[string]int)
	header := strings.Split(sc.Text(), "\t")
	for i, name := range header {
		col[name] = i
	}
	for _, name := range []string{"file", "entry", "size", "sha256", "expect"} {
		require.Contains(t, col, name, "manifest column")
	}
	var rows []corpusRow
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		fields := strings.Split(sc.Text(), "\t")
		require.Len(t, fields, len(header), "manifest line %q", sc.Text())
		row := corpusRow{file: fields[col["file"]], entry: fields[col["entry"]], sha256: fields[col["sha256"]],
			expect: fields[col["expect"]], size: -1}
		row.whole = row.entry == "*"
		if hexName, ok := strings.CutPrefix(row.entry, "hex:"); ok {
			raw, err := hex.DecodeString(hexName)
			require.NoError(t, err)
			row.entry = string(raw)
		}
		if s := fields[col["size"]]; s != "-" {
			row.size, err = strconv.ParseInt(s, 10, 64)
			require.NoError(t, err)
		}
		rows = append(rows, row)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, rows)
	return rows
}

// escapeAll percent-encodes every byte outside RFC 3986's unreserved set,
// "/" included; the server must decode exactly once.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func sha256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestHandlerCorpus attaches every archive of the shared zip corpus to a job
// and requests every MANIFEST.tsv row through the real handler: route 3 for
// every entry, route 4 for a sample, the tree and route 1 for each archive.
func TestHandlerCorpus(t *testing.T) {
	dir := corpusDir(t)
	rows := readCorpusManifest(t, dir)
	ctx := context.Background()

	store := memstore.New()
	authz := tokenauth.New(store)
	require.NoError(t, authz.AddUser(tokenauth.User{Name: "reader", Tokens: []string{apiTokenReporter},
		Roles: map[int64]tokenauth.Role{1: tokenauth.Reporter}}))
	require.NoError(t, store.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "corpus/zips", Visibility: "private"}))
	require.NoError(t, store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 1, ProjectID: 1, Ref: "main", Status: "success"}))

	var files []string
	for _, r := range rows {
		if !slices.Contains(files, r.file) {
			files = append(files, r.file)
		}
	}
	jobOf := make(map[string]int64)
	archives := make(map[string][]byte)
	for i, name := range files {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		id := int64(1000 + i)
		require.NoError(t, store.PutJob(ctx, jobartifacts.Job{ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 1}, Name: name, Status: "success"}))
		_, err = store.PutArchive(ctx, 1, id, data)
		require.NoError(t, err)
		jobOf[name], archives[name] = id, data
	}
	f := &apiFixture{store: store, authz: authz, logs: &lockedBuffer{}}
	f.server = newCorpusServer(t, store, authz, f.logs)
	f.client = f.server.Client()

	sampledRoute4 := make(map[string]int)
	for _, row := range rows {
		jobPath := fmt.Sprintf("/api/v4/projects/1/jobs/%d/artifacts", jobOf[row.file])
		name := row.file + "/" + row.entry
		if row.whole {
			name = row.file + "/*"
		}
		t.Run(name+"/"+row.expect, func(t *testing.T) {
			switch {
			case row.whole:
				checkCorpusArchive(t, f, row, jobPath, archives[row.file])
			case row.entry == "tree":
				// Spec §1: route 8 shadows a root entry named "tree", as in GitLab.
				resp := f.do(t, "GET", jobPath+"/tree", asReporter)
				require.Equal(t, 200, resp.status)
				assert.NotEmpty(t, resp.header.Get("X-Total"))
				var entries []map[string]any
				require.NoError(t, json.Unmarshal(resp.body, &entries), "a listing, not the entry")
			default:
				resp := f.send("GET", jobPath+"/"+escapeAll(row.entry), asReporter)
				checkCorpusEntry(t, row, resp)
			}
		})
		if !row.whole && row.expect == "serve" && (sampledRoute4[row.file] < 3 || row.entry == "tree") {
			sampledRoute4[row.file]++
			t.Run(name+"/route4", func(t *testing.T) {
				target := "/api/v4/projects/1/jobs/artifacts/main/raw/" + escapeAll(row.entry) + "?job=" + url.QueryEscape(row.file)
				checkCorpusEntry(t, row, f.send("GET", target, asReporter))
			})
		}
	}
	require.NotContains(t, f.logs.String(), apiTokenReporter)
}

// checkCorpusArchive checks a "*" row: an archive that opens lists and
// downloads; one that does not fails every entry request cleanly.
func checkCorpusArchive(t *testing.T, f *apiFixture, row corpusRow, jobPath string, data []byte) {
	whole := f.do(t, "GET", jobPath, asReporter)
	require.Equal(t, 200, whole.status, "route 1 serves any stored archive")
	assert.Equal(t, sha256Of(data), sha256Of(whole.body))

	listing := f.do(t, "GET", jobPath+"/tree?recursive=true&per_page=100", asReporter)
	probe := f.do(t, "GET", jobPath+"/any-entry.txt", asReporter)
	switch row.expect {
	case "opens":
		require.Equal(t, 200, listing.status, "tree: %s", listing.body)
		var entries []map[string]any
		require.NoError(t, json.Unmarshal(listing.body, &entries))
		assert.NotEmpty(t, listing.header.Get("X-Total"))
		assert.Equal(t, 404, probe.status)
	case "error-before-headers":
		for _, resp := range []apiResponse{listing, probe} {
			assert.Contains(t, []int{422, 500}, resp.status, "body: %s", resp.body)
			assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
			assert.True(t, json.Valid(resp.body), "JSON body: %s", resp.body)
		}
	default:
		t.Fatalf("unknown expect %q for a whole-archive row", row.expect)
	}
}

// checkCorpusEntry checks one entry request against its manifest row.
func checkCorpusEntry(t *testing.T, row corpusRow, resp apiResponse) {
	switch row.expect {
	case "serve":
		require.NoError(t, resp.err)
		require.Equal(t, 200, resp.status, "body: %.200s", resp.body)
		assert.Equal(t, strconv.FormatInt(row.size, 10), resp.header.Get("Content-Length"))
		assert.Equal(t, row.sha256, sha256Of(resp.body))
		assert.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
	case "404":
		require.NoError(t, resp.err)
		assert.Equal(t, 404, resp.status)
		assert.Equal(t, bodyNotFound, string(resp.body))
	case "error-before-headers":
		require.NoError(t, resp.err)
		assert.Contains(t, []int{422, 500}, resp.status, "body: %.200s", resp.body)
		assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
		assert.True(t, json.Valid(resp.body), "JSON body: %.200s", resp.body)
		assert.Empty(t, resp.header.Get("Content-Disposition"))
	case "abort-mid-stream":
		complete := resp.err == nil && resp.status == 200 &&
			resp.header.Get("Content-Length") == strconv.Itoa(len(resp.body))
		assert.False(t, complete, "a damaged entry arrived as a complete 200 (sha256 %s)", sha256Of(resp.body))
		if resp.err == nil && resp.status != 200 {
			assert.Contains(t, []int{422, 500}, resp.status, "an error known before the headers")
		}
	case "400-invalid-path":
		require.NoError(t, resp.err)
		assert.Equal(t, 400, resp.status)
		assert.Equal(t, bodyInvalidPath, string(resp.body))
	default:
		t.Fatalf("unknown expect %q", row.expect)
	}
}

// newCorpusServer serves a Handler over store, logging to logs.
func newCorpusServer(t *testing.T, store jobartifacts.Store, authz jobartifacts.Authorizer, logs *lockedBuffer) *httptest.Server {
	srv := httptest.NewServer(jobartifacts.New(store, authz, jobartifacts.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))))
	t.Cleanup(srv.Close)
	return srv
}
