package jobartifacts

import (
	"slices"
	"time"
)

// The rules of the MetadataStore contract for a job's artifact records, in
// one place: a store applies them to its copy of the job inside its own
// update (memstore and fsstore do; so can a host's store).

// Keep clears the expiry of the job's artifacts and locks them, as
// MetadataStore.KeepArtifacts must.
func (j *Job) Keep() {
	j.ArtifactsExpireAt = nil
	for i := range j.Artifacts {
		j.Artifacts[i].ExpireAt = nil
	}
	j.ArtifactsLocked = true
}

// PutArtifact records a, replacing the artifact of the same FileType, and
// sets the job's ArtifactsExpireAt to a.ExpireAt (the last upload decides),
// as MetadataStore.RecordArtifact must.
func (j *Job) PutArtifact(a Artifact) {
	if i := slices.IndexFunc(j.Artifacts, func(old Artifact) bool { return old.FileType == a.FileType }); i >= 0 {
		j.Artifacts[i] = a
	} else {
		j.Artifacts = append(j.Artifacts, a)
	}
	j.ArtifactsExpireAt = copyTime(a.ExpireAt)
}

// RemoveArtifacts removes the artifacts whose FileType is in types (all of
// them when types is empty) and returns them, as
// MetadataStore.ForgetArtifacts must.
func (j *Job) RemoveArtifacts(types ...string) []Artifact {
	var removed, kept []Artifact
	for _, a := range j.Artifacts {
		if len(types) == 0 || slices.Contains(types, a.FileType) {
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

// HasExpiredArtifacts reports whether the job is one that
// MetadataStore.ExpiredArtifacts lists: not locked, with an artifact whose
// ExpireAt is not after now.
func (j *Job) HasExpiredArtifacts(now time.Time) bool {
	return !j.ArtifactsLocked && slices.ContainsFunc(j.Artifacts, func(a Artifact) bool { return a.expiredAt(now) })
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
