package pgstore

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchPipelines is how many pipelines the benchmarks seed (3 jobs each);
// JOBARTIFACTS_BENCH_PIPELINES overrides it, e.g. 333334 for 1M jobs.
func benchPipelines(b *testing.B) int {
	n := 100_000
	if v := os.Getenv("JOBARTIFACTS_BENCH_PIPELINES"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err, "JOBARTIFACTS_BENCH_PIPELINES")
	}
	return n
}

// The handler's lookups and the sweep over a seeded database, through the
// pool over the unix socket. Besides ns/op, each reports its median and
// 99th percentile in µs.
func BenchmarkStore(b *testing.B) {
	s := newStore(b)
	pipelines := benchPipelines(b)
	seedBulk(b, s, bulkSize{projects: 1_000, pipelines: pipelines, queued: 10_000})
	rng := rand.New(rand.NewPCG(1, 2))
	refs := []string{"main", "dev", "feature/x", "release"}
	// Projects 3, 5, 7 and 9 hold a tenth of the pipelines each, on every
	// ref, all successful (seedBulk).
	project := func() int64 { return 3 + 2*rng.Int64N(4) }

	b.Run("LatestSuccessfulJob", func(b *testing.B) {
		measure(b, func() {
			_, err := s.LatestSuccessfulJob(b.Context(), project(), refs[rng.IntN(4)], "build")
			require.NoError(b, err)
		})
	})
	b.Run("RecentSuccessfulJob", func(b *testing.B) {
		measure(b, func() {
			_, err := s.RecentSuccessfulJob(b.Context(), project(), refs[rng.IntN(4)], "build")
			require.NoError(b, err)
		})
	})
	// The worst case: no job of that name in 100 pipelines.
	b.Run("RecentSuccessfulJobNone", func(b *testing.B) {
		measure(b, func() {
			_, err := s.RecentSuccessfulJob(b.Context(), project(), refs[rng.IntN(4)], "nope")
			require.Error(b, err)
		})
	})
	b.Run("JobByID", func(b *testing.B) {
		measure(b, func() {
			_, err := s.JobByID(b.Context(), int64(1+rng.IntN(pipelines))*4+1)
			require.NoError(b, err)
		})
	})
	// A job route's two reads: one after the other, then in one round
	// trip (ProjectJob). Pipeline g is in project 1+g%10 when g is even,
	// else in 1+g%1000 (seedBulk).
	projectJob := func() (projectID, jobID int64) {
		g := int64(1 + rng.IntN(pipelines))
		if g%2 == 0 {
			return 1 + g%10, g*4 + 1
		}
		return 1 + g%1000, g*4 + 1
	}
	b.Run("ProjectThenJob", func(b *testing.B) {
		measure(b, func() {
			projectID, jobID := projectJob()
			_, err := s.Project(b.Context(), projectID)
			require.NoError(b, err)
			_, err = s.Job(b.Context(), projectID, jobID)
			require.NoError(b, err)
		})
	})
	b.Run("ProjectJob", func(b *testing.B) {
		measure(b, func() {
			projectID, jobID := projectJob()
			_, _, err := s.ProjectJob(b.Context(), projectID, jobID)
			require.NoError(b, err)
		})
	})
	b.Run("ProjectByPath", func(b *testing.B) {
		measure(b, func() {
			_, err := s.ProjectByPath(b.Context(), "group/p"+strconv.Itoa(1+rng.IntN(1000)))
			require.NoError(b, err)
		})
	})
	// A batch of 100, as the Sweeper takes them; p50 and p99 are of full
	// batches, until the expired records run out.
	b.Run("SweepExpiredArtifacts100", func(b *testing.B) {
		now := time.Now()
		var full []time.Duration
		for b.Loop() {
			start := time.Now()
			batch, err := s.SweepExpiredArtifacts(b.Context(), now, 100)
			require.NoError(b, err)
			if len(batch) == 100 {
				full = append(full, time.Since(start))
			}
		}
		report(b, full)
		b.ReportMetric(float64(len(full)), "full-batches")
	})
}

// measure runs f in b.Loop and reports the median and 99th percentile.
func measure(b *testing.B, f func()) {
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		f()
		times = append(times, time.Since(start))
	}
	report(b, times)
}

// report reports the median and 99th percentile of times.
func report(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	if len(times) > 0 {
		b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e3, "p99-µs")
	}
}
