package jobartifacts_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// BenchmarkSingleFileRoute is issue 12's small-request row in process: a
// 4 KiB stored entry through route 3 (memstore, tokenauth), the last of
// 100,000 entries or the only one, with the default index and without one
// (every request walks the central directory, as before the index).
func BenchmarkSingleFileRoute(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 4096)
	for _, n := range []int{1, 100_000} {
		entries := make([]ziptest.Entry, 0, n)
		for i := range n - 1 {
			entries = append(entries, ziptest.Stored(fmt.Sprintf("entries/%07d.txt", i), "x"))
		}
		entries = append(entries, ziptest.Entry{Name: "dist/4k.bin", Body: body})
		archive := ziptest.Build(b, entries...)
		for _, budget := range []int64{64 << 20, 0} {
			b.Run(fmt.Sprintf("entries=%d/index-budget=%d", n, budget), func(b *testing.B) {
				f := newAPIFixture(b, apiFixtureConfig{options: []jobartifacts.Option{jobartifacts.WithArchiveIndexBudget(budget)}})
				j, err := f.store.JobByID(b.Context(), 103)
				if err != nil {
					b.Fatal(err)
				}
				f.storeArtifact(b, *j, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "a.zip"}, archive)
				h := f.server.Config.Handler
				req := httptest.NewRequest(http.MethodGet, "/api/v4/projects/1/jobs/103/artifacts/dist/4k.bin", nil)
				req.Header.Set("Private-Token", apiTokenReporter)
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || rec.Body.Len() != len(body) {
						b.Fatalf("%d %d", rec.Code, rec.Body.Len())
					}
				}
			})
		}
	}
}
