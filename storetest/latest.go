package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

type pipelineSeed struct {
	id          int64
	ref, status string
}

type jobSeed struct {
	id, pipeline int64
	name, status string
	// noArchive leaves the job without an archive artifact (it gets a
	// "metadata" one instead).
	noArchive bool
}

// lookupCase seeds project 1 ("group/app") with pipelines and jobs and looks
// a job up by ref and name; want 0 means ErrNotFound.
type lookupCase struct {
	name      string
	pipelines []pipelineSeed
	jobs      []jobSeed
	ref, job  string
	want      int64
}

// seedLookup seeds the case, plus a decoy project 2 whose pipeline and job
// have higher ids and the same ref and name: a store that ignores the project
// returns the decoy.
func seedLookup(t *testing.T, s MetadataUnderTest, tc lookupCase) {
	sd := seeder{t, s}
	sd.project(1, "group/app")
	sd.project(2, "group/decoy")
	for _, p := range tc.pipelines {
		sd.pipeline(1, p.id, p.ref, p.status)
	}
	for _, j := range tc.jobs {
		a := artifactRecord(1, j.id, archive, nil)
		if j.noArchive {
			a = artifactRecord(1, j.id, "metadata", nil)
		}
		sd.job(1, j.pipeline, j.id, j.name, j.status, a)
	}
	sd.pipeline(2, 9000, tc.ref, success)
	sd.job(2, 9000, 90000, tc.job, success, artifactRecord(2, 90000, archive, nil))
}

func runLookupCases(t *testing.T, newStore func(t *testing.T) MetadataUnderTest, cases []lookupCase,
	lookup func(t *testing.T, s MetadataUnderTest, projectID int64, ref, name string) (*jobartifacts.Job, error)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			seedLookup(t, s, tc)
			got, err := lookup(t, s, 1, tc.ref, tc.job)
			if tc.want == 0 {
				requireNotFound(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.ID)
			require.Equal(t, int64(1), got.ProjectID)
			require.Equal(t, tc.job, got.Name)
		})
	}
	t.Run("UnknownProject", func(t *testing.T) {
		s := newStore(t)
		seedLookup(t, s, lookupCase{ref: "main", job: "build"})
		_, err := lookup(t, s, 3, "main", "build")
		requireNotFound(t, err)
	})
}

// Cases that LatestSuccessfulJob and RecentSuccessfulJob answer alike.
func commonLookupCases() []lookupCase {
	return []lookupCase{
		{
			name:      "OnePipeline",
			pipelines: []pipelineSeed{{10, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}, {101, 10, "test", success, false}},
			ref:       "main", job: "build", want: 100,
		},
		{
			// Seeded newest first, so that insertion order cannot pass for id order.
			name:      "NewestPipelineByID",
			pipelines: []pipelineSeed{{30, "main", success}, {10, "main", success}, {20, "main", success}},
			jobs:      []jobSeed{{300, 30, "build", success, false}, {100, 10, "build", success, false}, {200, 20, "build", success, false}},
			ref:       "main", job: "build", want: 300,
		},
		{
			name:      "NewerUnsuccessfulPipelinesIgnored",
			pipelines: []pipelineSeed{{10, "main", success}, {20, "main", failed}, {30, "main", running}, {40, "main", "canceled"}},
			jobs: []jobSeed{
				{100, 10, "build", success, false}, {200, 20, "build", success, false},
				{300, 30, "build", success, false}, {400, 40, "build", success, false},
			},
			ref: "main", job: "build", want: 100,
		},
		{
			name:      "OtherRefIgnored",
			pipelines: []pipelineSeed{{10, "main", success}, {20, "dev", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}, {200, 20, "build", success, false}},
			ref:       "main", job: "build", want: 100,
		},
		{
			name:      "RefWithSlashes",
			pipelines: []pipelineSeed{{10, "feature/x", success}, {20, "feature", success}, {30, "feature/x/y", success}},
			jobs: []jobSeed{
				{100, 10, "build", success, false}, {200, 20, "build", success, false}, {300, 30, "build", success, false},
			},
			ref: "feature/x", job: "build", want: 100,
		},
		{
			name:      "RefIsCaseSensitive",
			pipelines: []pipelineSeed{{10, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}},
			ref:       "Main", job: "build",
		},
		{
			name:      "RefPrefixDoesNotMatch",
			pipelines: []pipelineSeed{{10, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}},
			ref:       "mai", job: "build",
		},
		{
			name:      "ShaDoesNotMatch",
			pipelines: []pipelineSeed{{10, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}},
			ref:       shaOf(10), job: "build",
		},
		{
			name:      "ShaMatchesWhenItIsTheRef",
			pipelines: []pipelineSeed{{10, "main", success}, {20, shaOf(10), success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}, {200, 20, "build", success, false}},
			ref:       shaOf(10), job: "build", want: 200,
		},
		{
			name:      "NameIsExact",
			pipelines: []pipelineSeed{{10, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}},
			ref:       "main", job: "Build",
		},
		{
			name:      "NoSuccessfulPipeline",
			pipelines: []pipelineSeed{{10, "main", failed}, {20, "main", running}},
			jobs:      []jobSeed{{100, 10, "build", success, false}, {200, 20, "build", success, false}},
			ref:       "main", job: "build",
		},
		{
			name: "NoPipelines",
			ref:  "main", job: "build",
		},
	}
}

// LatestSuccessfulJob: the single newest successful pipeline of the ref, no
// fallback, job status not checked, highest job id among same-name jobs.
func runLatestSuccessfulJob(t *testing.T, newStore func(t *testing.T) MetadataUnderTest) {
	cases := append(commonLookupCases(),
		lookupCase{
			name:      "NoFallbackToOlderPipeline",
			pipelines: []pipelineSeed{{10, "main", success}, {20, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}, {200, 20, "test", success, false}},
			ref:       "main", job: "build",
		},
		lookupCase{
			name:      "JobStatusNotChecked",
			pipelines: []pipelineSeed{{10, "main", success}, {20, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}, {200, 20, "build", failed, false}},
			ref:       "main", job: "build", want: 200,
		},
		lookupCase{
			name:      "SameNameHighestJobID",
			pipelines: []pipelineSeed{{10, "main", success}},
			jobs: []jobSeed{
				{101, 10, "build", success, false}, {103, 10, "build", failed, false},
				{102, 10, "build", success, false}, {104, 10, "test", success, false},
			},
			ref: "main", job: "build", want: 103,
		},
	)
	runLookupCases(t, newStore, cases, func(t *testing.T, s MetadataUnderTest, projectID int64, ref, name string) (*jobartifacts.Job, error) {
		return s.LatestSuccessfulJob(t.Context(), projectID, ref, name)
	})
}

// RecentSuccessfulJob: among the 100 newest successful pipelines of the
// ref, newest first, the first job of that name that succeeded and has an
// archive.
func runRecentSuccessfulJob(t *testing.T, newStore func(t *testing.T) MetadataUnderTest) {
	cases := append(commonLookupCases(),
		lookupCase{
			name:      "FallsBackToOlderPipeline",
			pipelines: []pipelineSeed{{10, "main", success}, {20, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}, {200, 20, "test", success, false}},
			ref:       "main", job: "build", want: 100,
		},
		lookupCase{
			name:      "SkipsUnsuccessfulJob",
			pipelines: []pipelineSeed{{10, "main", success}, {20, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}, {200, 20, "build", failed, false}},
			ref:       "main", job: "build", want: 100,
		},
		lookupCase{
			name:      "SkipsJobWithoutArchive",
			pipelines: []pipelineSeed{{10, "main", success}, {20, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", success, false}, {200, 20, "build", success, true}},
			ref:       "main", job: "build", want: 100,
		},
		lookupCase{
			name:      "NoUsableJob",
			pipelines: []pipelineSeed{{10, "main", success}, {20, "main", success}},
			jobs:      []jobSeed{{100, 10, "build", failed, false}, {200, 20, "build", success, true}},
			ref:       "main", job: "build",
		},
	)
	runLookupCases(t, newStore, cases, func(t *testing.T, s MetadataUnderTest, projectID int64, ref, name string) (*jobartifacts.Job, error) {
		return s.RecentSuccessfulJob(t.Context(), projectID, ref, name)
	})

	// The window is the 100 newest successful pipelines of the ref: other
	// refs and unsuccessful pipelines do not use it up.
	windowTests := []struct {
		name string
		// successful is how many successful "main" pipelines there are; the
		// job is in the oldest.
		successful int
		want       bool
	}{
		{"JobIn100thNewest", 100, true},
		{"JobIn101stNewest", 101, false},
	}
	for _, tc := range windowTests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			sd := seeder{t, s}
			sd.project(1, "group/app")
			id := int64(1)
			for i := range tc.successful {
				sd.pipeline(1, id, "main", success)
				if i == 0 {
					sd.job(1, id, 10_000, "build", success, artifactRecord(1, 10_000, archive, nil))
				}
				id++
				// Unsuccessful and other-ref pipelines in between do not count.
				sd.pipeline(1, id, "main", failed)
				sd.pipeline(1, id+1, "dev", success)
				id += 2
			}
			got, err := s.RecentSuccessfulJob(t.Context(), 1, "main", "build")
			if !tc.want {
				requireNotFound(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, int64(10_000), got.ID)
		})
	}
}
