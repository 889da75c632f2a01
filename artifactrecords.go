package jobartifacts

import (
	"slices"
	"time"
)

// The rules of the MetadataStore contract for a job's artifact records, in
// one place: a store that keeps whole jobs applies them to its copy of the
// job inside its own atomic update (memstore and fsstore do; so can a host's
// store). Each reports what it removed, so that the store can queue exactly
// those blobs.

// CreateArtifact records a unless the job has an artifact of a.FileType, as
// MetadataStore.CreateArtifact must. It returns the existing record and
// false when there is one, changing nothing.
func (j *Job) CreateArtifact(a Artifact) (existing *Artifact, created bool) {
	if i := j.artifactIndex(a.FileType); i >= 0 {
		old := j.Artifacts[i]
		return &old, false
	}
	a.ExpireAt = copyTime(a.ExpireAt) // the job shares no memory with the caller
	j.Artifacts = append(j.Artifacts, a)
	j.ArtifactsExpireAt = copyTime(a.ExpireAt)
	return nil, true
}

// ReplaceArtifact records a, replacing the artifact of the same FileType,
// and sets the job's ArtifactsExpireAt to a.ExpireAt (the last upload
// decides), as MetadataStore.ReplaceArtifact must. It returns the replaced
// record, or nil.
func (j *Job) ReplaceArtifact(a Artifact) (replaced *Artifact) {
	a.ExpireAt = copyTime(a.ExpireAt) // the job shares no memory with the caller
	j.ArtifactsExpireAt = copyTime(a.ExpireAt)
	if i := j.artifactIndex(a.FileType); i >= 0 {
		old := j.Artifacts[i]
		j.Artifacts[i] = a
		return &old
	}
	j.Artifacts = append(j.Artifacts, a)
	return nil
}

func (j *Job) artifactIndex(fileType string) int {
	return slices.IndexFunc(j.Artifacts, func(a Artifact) bool { return a.FileType == fileType })
}

// Keep keeps the job's artifacts, as MetadataStore.KeepArtifacts must: only
// if the job has an archive that has not expired at now. It reports whether
// it kept them; when it did not, nothing changed.
func (j *Job) Keep(now time.Time) bool {
	if !j.HasAvailableArchive(now) {
		return false
	}
	j.ArtifactsExpireAt = nil
	for i := range j.Artifacts {
		j.Artifacts[i].ExpireAt = nil
	}
	j.ArtifactsLocked = true
	return true
}

// HasAvailableArchive reports whether the job has an archive that has not
// expired at now (GitLab's available_artifacts?): the archive's expiry, or
// the job's when the archive has none, is unset or later than now, or the
// job's artifacts are kept.
func (j *Job) HasAvailableArchive(now time.Time) bool {
	a, ok := j.Archive()
	return ok && !artifactExpired(j, a, now)
}

// RemoveArtifacts removes the artifacts whose FileType is not in except (all
// of them when except is empty) and returns them, as
// MetadataStore.ForgetArtifacts must.
func (j *Job) RemoveArtifacts(except ...string) []Artifact {
	return j.removeArtifacts(func(a Artifact) bool { return !slices.Contains(except, a.FileType) })
}

// SweepArtifacts removes the artifacts that MetadataStore.SweepExpiredArtifacts
// removes at now (expired, not a log, of a job that is not locked), at most
// limit of them when limit > 0, keeping the others in their order. It
// returns them.
func (j *Job) SweepArtifacts(now time.Time, limit int) []Artifact {
	if j.ArtifactsLocked {
		return nil
	}
	taken := 0
	return j.removeArtifacts(func(a Artifact) bool {
		if !sweepable(a, now) || (limit > 0 && taken == limit) {
			return false
		}
		taken++
		return true
	})
}

// HasSweepableArtifacts reports whether SweepArtifacts at now would remove
// anything, without changing the job.
func (j *Job) HasSweepableArtifacts(now time.Time) bool {
	return !j.ArtifactsLocked && slices.ContainsFunc(j.Artifacts, func(a Artifact) bool { return sweepable(a, now) })
}

func sweepable(a Artifact, now time.Time) bool {
	return a.FileType != ArtifactTypeTrace && a.expiredAt(now)
}

func (j *Job) removeArtifacts(remove func(Artifact) bool) []Artifact {
	var removed, kept []Artifact
	for _, a := range j.Artifacts {
		if remove(a) {
			removed = append(removed, a)
		} else {
			kept = append(kept, a)
		}
	}
	j.Artifacts = kept
	return removed
}

// ExpireArtifacts makes the job's artifacts, and its ArtifactsExpireAt,
// expire at now unless they expire earlier already, as
// MetadataStore.ExpireProjectArtifacts must for every job that is not
// locked. It changes nothing for a locked job or one without artifacts and
// reports whether it changed anything.
func (j *Job) ExpireArtifacts(now time.Time) bool {
	if j.ArtifactsLocked || len(j.Artifacts) == 0 {
		return false
	}
	changed := false
	expire := func(t **time.Time) {
		if *t == nil || (*t).After(now) {
			*t = copyTime(&now)
			changed = true
		}
	}
	for i := range j.Artifacts {
		expire(&j.Artifacts[i].ExpireAt)
	}
	expire(&j.ArtifactsExpireAt)
	return changed
}

// expiredAt reports whether the artifact's own expiry has passed at now.
func (a Artifact) expiredAt(now time.Time) bool {
	return a.ExpireAt != nil && !a.ExpireAt.After(now)
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}
