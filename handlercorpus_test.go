package jobartifacts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/logtest"
	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// TestHandlerCorpus attaches every archive of the shared zip corpus to a job
// and requests every MANIFEST.tsv row through the real handler: route 3 for
// every entry, route 4 for a sample, the tree and route 1 for each archive.
func TestHandlerCorpus(t *testing.T) {
	rows := zipcorpus.Manifest(t)
	ctx := context.Background()

	store := memstore.New()
	authz := tokenauth.New(store)
	require.NoError(t, authz.AddUser(tokenauth.User{Name: "reader", Tokens: []string{apiTokenReporter},
		Roles: map[int64]tokenauth.Role{1: tokenauth.Reporter}}))
	require.NoError(t, store.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "corpus/zips", Visibility: "private"}))
	require.NoError(t, store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 1, ProjectID: 1, Ref: "main", Status: "success"}))

	files := zipcorpus.Files(t)
	jobOf := make(map[string]int64)
	archives := make(map[string][]byte)
	for i, name := range files {
		data, err := os.ReadFile(zipcorpus.Path(t, name))
		require.NoError(t, err)
		id := int64(1000 + i)
		require.NoError(t, store.PutJob(ctx, jobartifacts.Job{ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 1}, Name: name, Status: "success"}))
		_, err = store.PutArchive(ctx, 1, id, data)
		require.NoError(t, err)
		jobOf[name], archives[name] = id, data
	}
	f := &apiFixture{store: store, authz: authz, logs: &logtest.Buffer{}}
	f.server = newCorpusServer(t, store, authz, f.logs)
	f.client = f.server.Client()

	sampledRoute4 := make(map[string]int)
	for _, row := range rows {
		jobPath := fmt.Sprintf("/api/v4/projects/1/jobs/%d/artifacts", jobOf[row.File])
		name := row.File + "/" + row.Entry
		if row.Whole {
			name = row.File + "/*"
		}
		t.Run(name+"/"+row.Expect, func(t *testing.T) {
			switch {
			case row.Whole:
				checkCorpusArchive(t, f, row, jobPath, archives[row.File])
			case row.Entry == "tree":
				// Route 8 shadows a root entry named "tree", as in GitLab.
				resp := f.do(t, "GET", jobPath+"/tree", asReporter)
				require.Equal(t, 200, resp.status)
				assert.NotEmpty(t, resp.header.Get("X-Total"))
				var entries []map[string]any
				require.NoError(t, json.Unmarshal(resp.body, &entries), "a listing, not the entry")
			default:
				resp := f.send("GET", jobPath+"/"+zipcorpus.EscapePath(row.Entry), asReporter)
				checkCorpusEntry(t, row, resp)
			}
		})
		if !row.Whole && row.Expect == "serve" && (sampledRoute4[row.File] < 3 || row.Entry == "tree") {
			sampledRoute4[row.File]++
			t.Run(name+"/route4", func(t *testing.T) {
				target := "/api/v4/projects/1/jobs/artifacts/main/raw/" + zipcorpus.EscapePath(row.Entry) + "?job=" + url.QueryEscape(row.File)
				checkCorpusEntry(t, row, f.send("GET", target, asReporter))
			})
		}
	}
	require.NotContains(t, f.logs.String(), apiTokenReporter)
}

// checkCorpusArchive checks a "*" row: an archive that opens lists and
// downloads; one that does not fails every entry request cleanly.
func checkCorpusArchive(t *testing.T, f *apiFixture, row zipcorpus.Row, jobPath string, data []byte) {
	whole := f.do(t, "GET", jobPath, asReporter)
	require.Equal(t, 200, whole.status, "route 1 serves any stored archive")
	assert.Equal(t, zipcorpus.SHA256(data), zipcorpus.SHA256(whole.body))

	listing := f.do(t, "GET", jobPath+"/tree?recursive=true&per_page=100", asReporter)
	probe := f.do(t, "GET", jobPath+"/any-entry.txt", asReporter)
	switch row.Expect {
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
		t.Fatalf("unknown expect %q for a whole-archive row", row.Expect)
	}
}

// checkCorpusEntry checks one entry request against its manifest row.
func checkCorpusEntry(t *testing.T, row zipcorpus.Row, resp apiResponse) {
	switch row.Expect {
	case "serve":
		require.NoError(t, resp.err)
		require.Equal(t, 200, resp.status, "body: %.200s", resp.body)
		assert.Equal(t, strconv.FormatInt(row.Size, 10), resp.header.Get("Content-Length"))
		assert.Equal(t, row.SHA256, zipcorpus.SHA256(resp.body))
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
		assert.False(t, complete, "a damaged entry arrived as a complete 200 (sha256 %s)", zipcorpus.SHA256(resp.body))
		if resp.err == nil && resp.status != 200 {
			assert.Contains(t, []int{422, 500}, resp.status, "an error known before the headers")
		}
	case "400-invalid-path":
		require.NoError(t, resp.err)
		assert.Equal(t, 400, resp.status)
		assert.Equal(t, bodyInvalidPath, string(resp.body))
	default:
		t.Fatalf("unknown expect %q", row.Expect)
	}
}

// newCorpusServer serves a Handler over store, logging to logs.
func newCorpusServer(t *testing.T, store jobartifacts.Store, authz jobartifacts.Authorizer, logs *logtest.Buffer) *httptest.Server {
	srv := httptest.NewServer(jobartifacts.New(store, authz, jobartifacts.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))))
	t.Cleanup(srv.Close)
	return srv
}
