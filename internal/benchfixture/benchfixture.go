// Package benchfixture is the setup that the handler's benchmarks share
// (the root package's BenchmarkSmallRequest and package bench's): the
// handler as the example server composes it, AccessLog(New(fsstore,
// tokenauth)), over a seeded store.
package benchfixture

import (
	"bytes"
	"log/slog"
	"net/http"
	"testing"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// Token is the PRIVATE-TOKEN of the user "bench", a Maintainer of project 1.
const Token = "bench-token"

// Job is a job of pipeline 1 and its archive (none when nil).
type Job struct {
	ID           int64
	Name, Status string
	Archive      []byte
}

// Config says what Handler sets up.
type Config struct {
	// Store are fsstore's options.
	Store []fsstore.Option
	// Jobs are the jobs of pipeline 1.
	Jobs []Job
	// JobTokens are CI job tokens and the jobs they belong to.
	JobTokens map[string]int64
	// Logger is the handler's (WithLogger) and AccessLog's.
	Logger *slog.Logger
	// Options are New's, after WithLogger.
	Options []jobartifacts.Option
}

// Handler returns AccessLog(New(store, authz)) over a fresh fsstore in
// tb.TempDir() (closed when tb's cleanup runs) that holds project 1
// ("bench/app", private), its pipeline 1 on main (successful) and cfg.Jobs,
// their archives stored with StoreArtifact as uploads are; authz is
// tokenauth with the user "bench" (Token) and cfg.JobTokens.
func Handler(tb testing.TB, cfg Config) http.Handler {
	tb.Helper()
	ctx := tb.Context()
	store, err := fsstore.Open(tb.TempDir(), cfg.Store...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(store.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "bench/app", Visibility: "private"}))
	must(store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 1, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	jobs := make([]jobartifacts.Job, len(cfg.Jobs))
	for i, j := range cfg.Jobs {
		jobs[i] = jobartifacts.Job{ID: j.ID, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 1}, Name: j.Name, Status: j.Status}
	}
	must(store.PutJobs(ctx, jobs...))
	for _, j := range cfg.Jobs {
		if j.Archive == nil {
			continue
		}
		_, err := jobartifacts.StoreArtifact(ctx, store, 1, j.ID, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip"}, bytes.NewReader(j.Archive))
		must(err)
	}
	authz := tokenauth.New(store)
	must(authz.Apply(tokenauth.Config{
		Users:     []tokenauth.User{{Name: "bench", Tokens: []string{Token}, Roles: map[int64]tokenauth.Role{1: tokenauth.Maintainer}}},
		JobTokens: cfg.JobTokens,
	}))
	opts := append([]jobartifacts.Option{jobartifacts.WithLogger(cfg.Logger)}, cfg.Options...)
	return jobartifacts.AccessLog(jobartifacts.New(store, authz, opts...), cfg.Logger)
}
