package memstore_test

import (
	"fmt"
	"testing"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// seedPipelines stores n pipelines of one project, alternating refs and
// statuses, each with a "build" and a "test" job that succeeded with an
// archive record.
func seedPipelines(b *testing.B, n int) *memstore.Store {
	ctx := b.Context()
	s := memstore.New()
	if err := s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"}); err != nil {
		b.Fatal(err)
	}
	refs := []string{"main", "dev", "feature/x"}
	statuses := []string{jobartifacts.StatusSuccess, jobartifacts.StatusFailed}
	for i := range n {
		id := int64(i + 1)
		p := jobartifacts.Pipeline{ID: id, ProjectID: 1, Ref: refs[i%len(refs)], Status: statuses[i%len(statuses)]}
		if err := s.PutPipeline(ctx, p); err != nil {
			b.Fatal(err)
		}
		for k, name := range []string{"build", "test"} {
			j := jobartifacts.Job{
				ID: id*10 + int64(k), ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: id},
				Name: name, Status: jobartifacts.StatusSuccess,
				Artifacts: []jobartifacts.Artifact{{FileType: jobartifacts.ArtifactTypeArchive, Blob: "x"}},
			}
			if err := s.PutJob(ctx, j); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s
}

func BenchmarkLatestSuccessfulJob(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("pipelines=%d", n), func(b *testing.B) {
			s := seedPipelines(b, n)
			for b.Loop() {
				if _, err := s.LatestSuccessfulJob(b.Context(), 1, "main", "build"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRecentSuccessfulJob(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("pipelines=%d", n), func(b *testing.B) {
			s := seedPipelines(b, n)
			for b.Loop() {
				if _, err := s.RecentSuccessfulJob(b.Context(), 1, "main", "test"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
