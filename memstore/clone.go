package memstore

import (
	"slices"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// The store keeps its own copies of everything: values go in and come out
// through these functions, so no caller can reach the store's memory.

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func cloneFloat(f *float64) *float64 {
	if f == nil {
		return nil
	}
	c := *f
	return &c
}

func cloneProject(p jobartifacts.Project) jobartifacts.Project {
	p.JobTokenAllowlist = slices.Clone(p.JobTokenAllowlist)
	return p
}

func clonePipeline(p jobartifacts.Pipeline) jobartifacts.Pipeline {
	p.CreatedAt = cloneTime(p.CreatedAt)
	p.UpdatedAt = cloneTime(p.UpdatedAt)
	return p
}

func cloneArtifact(a jobartifacts.Artifact) jobartifacts.Artifact {
	a.ExpireAt = cloneTime(a.ExpireAt)
	return a
}

func cloneArtifacts(as []jobartifacts.Artifact) []jobartifacts.Artifact {
	if as == nil {
		return nil
	}
	out := make([]jobartifacts.Artifact, len(as))
	for i, a := range as {
		out[i] = cloneArtifact(a)
	}
	return out
}

func cloneUser(u *jobartifacts.User) *jobartifacts.User {
	if u == nil {
		return nil
	}
	c := *u
	c.CreatedAt = cloneTime(u.CreatedAt)
	return &c
}

func cloneCommit(cm *jobartifacts.Commit) *jobartifacts.Commit {
	if cm == nil {
		return nil
	}
	c := *cm
	c.AuthoredDate = cloneTime(cm.AuthoredDate)
	c.CommittedDate = cloneTime(cm.CommittedDate)
	c.CreatedAt = cloneTime(cm.CreatedAt)
	c.ParentIDs = slices.Clone(cm.ParentIDs)
	return &c
}

func cloneRunner(r *jobartifacts.Runner) *jobartifacts.Runner {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

func cloneRunnerManager(m *jobartifacts.RunnerManager) *jobartifacts.RunnerManager {
	if m == nil {
		return nil
	}
	c := *m
	c.CreatedAt = cloneTime(m.CreatedAt)
	c.ContactedAt = cloneTime(m.ContactedAt)
	return &c
}

func cloneJob(j jobartifacts.Job) jobartifacts.Job {
	j.Pipeline = clonePipeline(j.Pipeline)
	j.Coverage = cloneFloat(j.Coverage)
	j.CreatedAt = cloneTime(j.CreatedAt)
	j.StartedAt = cloneTime(j.StartedAt)
	j.FinishedAt = cloneTime(j.FinishedAt)
	j.ErasedAt = cloneTime(j.ErasedAt)
	j.Duration = cloneFloat(j.Duration)
	j.QueuedDuration = cloneFloat(j.QueuedDuration)
	j.User = cloneUser(j.User)
	j.Commit = cloneCommit(j.Commit)
	j.Runner = cloneRunner(j.Runner)
	j.RunnerManager = cloneRunnerManager(j.RunnerManager)
	j.TagList = slices.Clone(j.TagList)
	j.Artifacts = cloneArtifacts(j.Artifacts)
	j.ArtifactsExpireAt = cloneTime(j.ArtifactsExpireAt)
	return j
}
