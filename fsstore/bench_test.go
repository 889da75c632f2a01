package fsstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/ciartifacts/jobartifacts"
)

// benchRefs are the refs the benchmark's pipelines run on, round robin.
var benchRefs = []string{"main", "develop", "release", "feature/x"}

const benchJobsPerPipeline = 10

// seedManyJobs stores project 1 with jobCount jobs, benchJobsPerPipeline to a
// successful pipeline, and returns the id of the newest pipeline on "main".
func seedManyJobs(b *testing.B, s *Store, jobCount int) int64 {
	b.Helper()
	ctx := context.Background()
	if err := s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"}); err != nil {
		b.Fatal(err)
	}
	var newestMain int64
	jobID := int64(0)
	for pipelineID := int64(1); jobID < int64(jobCount); pipelineID++ {
		ref := benchRefs[int(pipelineID)%len(benchRefs)]
		if ref == "main" {
			newestMain = pipelineID
		}
		p := jobartifacts.Pipeline{ID: pipelineID, ProjectID: 1, Ref: ref, Status: jobartifacts.StatusSuccess}
		if err := s.PutPipeline(ctx, p); err != nil {
			b.Fatal(err)
		}
		jobs := make([]jobartifacts.Job, benchJobsPerPipeline)
		for n := range jobs {
			jobID++
			jobs[n] = jobartifacts.Job{ID: jobID, ProjectID: 1, Pipeline: p, Name: fmt.Sprintf("job-%d", n), Status: jobartifacts.StatusSuccess}
		}
		if err := s.PutJobs(ctx, jobs...); err != nil {
			b.Fatal(err)
		}
	}
	return newestMain
}

// BenchmarkLatestSuccessfulJob shows that the lookup reads a fixed number of
// small files, however many jobs and pipelines the project has. Seeding
// uses WithoutFsync and PutJobs (a pipeline's jobs at once); the lookups it
// measures do not write.
func BenchmarkLatestSuccessfulJob(b *testing.B) {
	for _, jobs := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("jobs=%dk", jobs/1000), func(b *testing.B) {
			s := openTestStore(b, b.TempDir(), WithoutFsync())
			newestMain := seedManyJobs(b, s, jobs)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				j, err := s.LatestSuccessfulJob(ctx, 1, "main", "job-3")
				if err != nil {
					b.Fatal(err)
				}
				if j.Pipeline.ID != newestMain {
					b.Fatalf("got pipeline %d, want %d", j.Pipeline.ID, newestMain)
				}
			}
		})
	}
}
