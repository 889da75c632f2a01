// Package records copies the metadata records of jobartifacts deeply, so
// that a store's own copies never share memory with its callers (memstore
// keeps records in memory, fsstore caches them).
package records

import (
	"slices"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// CloneTime copies a time pointer.
func CloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// CloneFloat copies a float pointer.
func CloneFloat(f *float64) *float64 {
	if f == nil {
		return nil
	}
	c := *f
	return &c
}

// CloneProject copies a project.
func CloneProject(p jobartifacts.Project) jobartifacts.Project {
	p.JobTokenAllowlist = slices.Clone(p.JobTokenAllowlist)
	return p
}

// ClonePipeline copies a pipeline.
func ClonePipeline(p jobartifacts.Pipeline) jobartifacts.Pipeline {
	p.CreatedAt = CloneTime(p.CreatedAt)
	p.UpdatedAt = CloneTime(p.UpdatedAt)
	return p
}

// CloneArtifact copies an artifact record.
func CloneArtifact(a jobartifacts.Artifact) jobartifacts.Artifact {
	a.ExpireAt = CloneTime(a.ExpireAt)
	return a
}

// CloneArtifacts copies artifact records; nil stays nil.
func CloneArtifacts(as []jobartifacts.Artifact) []jobartifacts.Artifact {
	if as == nil {
		return nil
	}
	out := make([]jobartifacts.Artifact, len(as))
	for i, a := range as {
		out[i] = CloneArtifact(a)
	}
	return out
}

// CloneUser copies a user.
func CloneUser(u *jobartifacts.User) *jobartifacts.User {
	if u == nil {
		return nil
	}
	c := *u
	c.CreatedAt = CloneTime(u.CreatedAt)
	return &c
}

// CloneCommit copies a commit.
func CloneCommit(cm *jobartifacts.Commit) *jobartifacts.Commit {
	if cm == nil {
		return nil
	}
	c := *cm
	c.AuthoredDate = CloneTime(cm.AuthoredDate)
	c.CommittedDate = CloneTime(cm.CommittedDate)
	c.CreatedAt = CloneTime(cm.CreatedAt)
	c.ParentIDs = slices.Clone(cm.ParentIDs)
	return &c
}

// CloneRunner copies a runner.
func CloneRunner(r *jobartifacts.Runner) *jobartifacts.Runner {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// CloneRunnerManager copies a runner manager.
func CloneRunnerManager(m *jobartifacts.RunnerManager) *jobartifacts.RunnerManager {
	if m == nil {
		return nil
	}
	c := *m
	c.CreatedAt = CloneTime(m.CreatedAt)
	c.ContactedAt = CloneTime(m.ContactedAt)
	return &c
}

// CloneJob copies a job, its pipeline and its artifact records included.
func CloneJob(j jobartifacts.Job) jobartifacts.Job {
	j.Pipeline = ClonePipeline(j.Pipeline)
	j.Coverage = CloneFloat(j.Coverage)
	j.CreatedAt = CloneTime(j.CreatedAt)
	j.StartedAt = CloneTime(j.StartedAt)
	j.FinishedAt = CloneTime(j.FinishedAt)
	j.ErasedAt = CloneTime(j.ErasedAt)
	j.Duration = CloneFloat(j.Duration)
	j.QueuedDuration = CloneFloat(j.QueuedDuration)
	j.User = CloneUser(j.User)
	j.Commit = CloneCommit(j.Commit)
	j.Runner = CloneRunner(j.Runner)
	j.RunnerManager = CloneRunnerManager(j.RunnerManager)
	j.TagList = slices.Clone(j.TagList)
	j.Artifacts = CloneArtifacts(j.Artifacts)
	j.ArtifactsExpireAt = CloneTime(j.ArtifactsExpireAt)
	return j
}
