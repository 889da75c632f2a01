package fsstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"strings"
	"testing"
	"time"

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

// uploadLikeReader reads as the handler's upload does: 4 KiB at a time
// (a multipart part), hashing what it yields (a jobartifacts.SHA256Reader).
type uploadLikeReader struct {
	r io.Reader
	h hash.Hash
}

func (u *uploadLikeReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p[:min(len(p), 4096)])
	u.h.Write(p[:n])
	return n, err
}

func (u *uploadLikeReader) SHA256() []byte { return u.h.Sum(nil) }

// BenchmarkPutBlob stores 64 MiB read 4 KiB at a time through a hashing
// reader, as an upload does, with and without fsync.
func BenchmarkPutBlob(b *testing.B) {
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, fsync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			var opts []Option
			if !fsync {
				opts = append(opts, WithoutFsync())
			}
			s, err := Open(b.TempDir(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				key := jobartifacts.BlobKey(fmt.Sprintf("bench/%d", i))
				if _, err := s.PutBlob(ctx, key, &uploadLikeReader{r: bytes.NewReader(data), h: sha256.New()}); err != nil {
					b.Fatal(err)
				}
				if err := s.DeleteBlob(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRequestReads makes the store calls of one download request
// (route 1): the project, the job and the archive blob's open.
func BenchmarkRequestReads(b *testing.B) {
	s, err := Open(b.TempDir(), WithoutFsync())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	seedJob(b, s)
	key := jobartifacts.BlobKey("projects/1/jobs/100/archive-x")
	if _, err := s.PutBlob(ctx, key, bytes.NewReader(make([]byte, 4096))); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateArtifact(ctx, 1, 100, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, Blob: key}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Project(ctx, 1); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Job(ctx, 1, 100); err != nil {
			b.Fatal(err)
		}
		blob, err := s.OpenBlob(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		blob.Close()
	}
}

// benchJobs are the jobs BenchmarkProjectJob reads, by how much of a job
// is set: as issue 12's fixture stores them (no dates, one archive), as
// examples/server's import does (dates, an expiring archive), and every
// field as a mirror of GitLab may store them.
func benchJobs() map[string]jobartifacts.Job {
	at := func(sec int64) *time.Time { t := time.Unix(1_800_000_000+sec, 0).UTC(); return &t }
	num := func(f float64) *float64 { return &f }
	archive := jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip",
		Size: 4096, SHA256: strings.Repeat("ab", 32), Blob: "projects/1/jobs/100/archive-x"}
	bare := jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: jobartifacts.StatusSuccess,
		Artifacts: []jobartifacts.Artifact{archive}}
	dated := bare
	dated.CreatedAt, dated.StartedAt, dated.FinishedAt, dated.ArtifactsExpireAt = at(0), at(1), at(2), at(3600)
	dated.Artifacts = []jobartifacts.Artifact{archive}
	dated.Artifacts[0].ExpireAt = at(3600)
	full := dated
	full.Coverage, full.Duration, full.QueuedDuration = num(87.5), num(1), num(0.5)
	full.User = &jobartifacts.User{ID: 5, Username: "jo", Name: "Jo", CreatedAt: at(-86400)}
	full.Commit = &jobartifacts.Commit{ID: strings.Repeat("c", 40), AuthoredDate: at(-7200), CommittedDate: at(-7100), CreatedAt: at(-7000),
		ParentIDs: []string{strings.Repeat("d", 40)}}
	full.Runner = &jobartifacts.Runner{ID: 8, Name: "r1"}
	full.RunnerManager = &jobartifacts.RunnerManager{ID: 9, CreatedAt: at(-5000), ContactedAt: at(-100)}
	full.TagList = []string{"docker", "linux"}
	full.Artifacts = []jobartifacts.Artifact{dated.Artifacts[0],
		{FileType: "metadata", FileFormat: "gzip", Filename: "metadata.gz", Blob: "projects/1/jobs/100/metadata-x", ExpireAt: at(3600)},
		{FileType: jobartifacts.ArtifactTypeTrace, FileFormat: "raw", Filename: "job.log", Blob: "projects/1/jobs/100/trace-x"}}
	return map[string]jobartifacts.Job{"bare": bare, "dated": dated, "full": full}
}

// BenchmarkProjectJob is the metadata read of a job route (the handler's
// ProjectJob) once the store's records are in memory: what it costs to
// hand out a copy of the project and the job, by how much of the job is
// set (benchJobs).
func BenchmarkProjectJob(b *testing.B) {
	for _, name := range []string{"bare", "dated", "full"} {
		b.Run(name, func(b *testing.B) {
			s := openTestStore(b, b.TempDir(), WithoutFsync())
			ctx := context.Background()
			if err := s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private"}); err != nil {
				b.Fatal(err)
			}
			p := jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}
			if name != "bare" {
				p.CreatedAt, p.UpdatedAt = benchJobs()["dated"].CreatedAt, benchJobs()["dated"].FinishedAt
			}
			if err := s.PutPipeline(ctx, p); err != nil {
				b.Fatal(err)
			}
			if err := s.PutJob(ctx, benchJobs()[name]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, j, err := s.ProjectJob(ctx, 1, 100)
				if err != nil {
					b.Fatal(err)
				}
				if j.ID != 100 {
					b.Fatal(j.ID)
				}
			}
		})
	}
}
