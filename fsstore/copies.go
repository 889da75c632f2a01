package fsstore

import (
	"slices"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// Reads hand out copies of the records they read, which may be the ones
// kept in memory: a caller may change what it gets (storetest checks it).
// A copy field by field costs an allocation for every pointer and slice
// that is set; these lay one out in a few: the job (with its project, for
// ProjectJob, and its only artifact record) in one, every time it points
// to in another, its floats in a third, its strings in a fourth. What a
// copy points to is its own, shared with no record and no other copy.

// jobMemory is the memory of one job handed out, with room for the
// artifact record a job usually has, its archive.
type jobMemory struct {
	job       jobartifacts.Job
	artifacts [1]jobartifacts.Artifact
}

// projectJobMemory is jobMemory with the job's project, for ProjectJob.
type projectJobMemory struct {
	project jobartifacts.Project
	jobMemory
}

// copyProject returns a copy of p.
func copyProject(p *jobartifacts.Project) *jobartifacts.Project {
	c := new(jobartifacts.Project)
	fillProject(c, p)
	return c
}

// copyJob returns a copy of j, a job as stored, with pl as its pipeline.
func copyJob(j *jobartifacts.Job, pl *jobartifacts.Pipeline) *jobartifacts.Job {
	m := new(jobMemory)
	m.fill(j, pl)
	return &m.job
}

// copyProjectJob returns copies of p and of j with pl as its pipeline, in
// one allocation (as long as the caller keeps either, it keeps both).
func copyProjectJob(p *jobartifacts.Project, j *jobartifacts.Job, pl *jobartifacts.Pipeline) (*jobartifacts.Project, *jobartifacts.Job) {
	m := new(projectJobMemory)
	fillProject(&m.project, p)
	m.fill(j, pl)
	return &m.project, &m.job
}

func fillProject(dst, p *jobartifacts.Project) {
	*dst = *p
	dst.JobTokenAllowlist = slices.Clone(p.JobTokenAllowlist)
}

// fill makes m.job a copy of j with pl as its pipeline.
func (m *jobMemory) fill(j *jobartifacts.Job, pl *jobartifacts.Pipeline) {
	dst := &m.job
	*dst = *j
	dst.Pipeline = *pl
	switch n := len(j.Artifacts); {
	case j.Artifacts == nil:
	case n <= len(m.artifacts):
		dst.Artifacts = m.artifacts[:n:n]
	default:
		dst.Artifacts = make([]jobartifacts.Artifact, n)
	}
	copy(dst.Artifacts, j.Artifacts)
	if j.User != nil {
		u := *j.User
		dst.User = &u
	}
	if j.Commit != nil {
		c := *j.Commit
		dst.Commit = &c
	}
	if j.Runner != nil {
		r := *j.Runner
		dst.Runner = &r
	}
	if j.RunnerManager != nil {
		rm := *j.RunnerManager
		dst.RunnerManager = &rm
	}
	copyStrings(dst)
	copyFloats(dst)
	copyTimes(dst)
}

// copyStrings gives dst's string slices, which still share the record's
// arrays, one array of their own; an empty one keeps no room to append in.
func copyStrings(dst *jobartifacts.Job) {
	fields := [2]*[]string{&dst.TagList}
	if dst.Commit != nil {
		fields[1] = &dst.Commit.ParentIDs
	}
	n := 0
	for _, s := range fields {
		if s != nil {
			n += len(*s)
			*s = (*s)[:len(*s):len(*s)]
		}
	}
	if n == 0 {
		return
	}
	mem := make([]string, n)
	for _, s := range fields {
		if s != nil && len(*s) > 0 {
			k := copy(mem, *s)
			*s, mem = mem[:k:k], mem[k:]
		}
	}
}

// copyFloats gives dst's floats, which still point to the record's, memory
// of their own.
func copyFloats(dst *jobartifacts.Job) {
	floats := [...]**float64{&dst.Coverage, &dst.Duration, &dst.QueuedDuration}
	n := 0
	for _, f := range floats {
		if *f != nil {
			n++
		}
	}
	if n == 0 {
		return
	}
	mem := make([]float64, n)
	for _, f := range floats {
		if *f != nil {
			mem[0] = **f
			*f, mem = &mem[0], mem[1:]
		}
	}
}

// copyTimes gives dst's times, which still point to the record's, memory
// of their own. dst's artifacts, user, commit and runner manager are
// already dst's own.
func copyTimes(dst *jobartifacts.Job) {
	n := 0
	eachTime(dst, func(t **time.Time) { n++ })
	if n == 0 {
		return
	}
	mem := make([]time.Time, n)
	eachTime(dst, func(t **time.Time) {
		mem[0] = **t
		*t, mem = &mem[0], mem[1:]
	})
}

// eachTime calls fn with every time of j that is set: the job's, its
// pipeline's, its artifact records', its user's, its commit's and its
// runner manager's.
func eachTime(j *jobartifacts.Job, fn func(**time.Time)) {
	visit := func(t **time.Time) {
		if *t != nil {
			fn(t)
		}
	}
	visit(&j.Pipeline.CreatedAt)
	visit(&j.Pipeline.UpdatedAt)
	visit(&j.CreatedAt)
	visit(&j.StartedAt)
	visit(&j.FinishedAt)
	visit(&j.ErasedAt)
	visit(&j.ArtifactsExpireAt)
	for i := range j.Artifacts {
		visit(&j.Artifacts[i].ExpireAt)
	}
	if j.User != nil {
		visit(&j.User.CreatedAt)
	}
	if j.Commit != nil {
		visit(&j.Commit.AuthoredDate)
		visit(&j.Commit.CommittedDate)
		visit(&j.Commit.CreatedAt)
	}
	if j.RunnerManager != nil {
		visit(&j.RunnerManager.CreatedAt)
		visit(&j.RunnerManager.ContactedAt)
	}
}
