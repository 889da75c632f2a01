package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/records"
)

// errNoChange makes updateJob keep the stored job as it was.
var errNoChange = errors.New("memstore: no change")

// CreateArtifact records a unless the job has an artifact of a.FileType; it
// then returns the job as stored with an error wrapping ErrConflict.
func (s *Store) CreateArtifact(ctx context.Context, projectID, jobID int64, a jobartifacts.Artifact) (*jobartifacts.Job, error) {
	var conflict error
	j, err := s.updateJob(ctx, projectID, jobID, func(j *jobartifacts.Job) error {
		if _, created := j.CreateArtifact(records.CloneArtifact(a)); !created {
			conflict = fmt.Errorf("memstore: job %d already has a %q artifact: %w", jobID, a.FileType, jobartifacts.ErrConflict)
			return errNoChange
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return j, conflict
}

// ReplaceArtifact records a, replacing the artifact of the same FileType,
// and returns the job and the replaced record. The replaced record's blob is
// queued for deletion unless a.Blob is that same key.
func (s *Store) ReplaceArtifact(ctx context.Context, projectID, jobID int64, a jobartifacts.Artifact) (*jobartifacts.Job, *jobartifacts.Artifact, error) {
	var replaced *jobartifacts.Artifact
	j, err := s.updateJob(ctx, projectID, jobID, func(j *jobartifacts.Job) error {
		if old := j.ReplaceArtifact(records.CloneArtifact(a)); old != nil {
			c := records.CloneArtifact(*old)
			replaced = &c
			if old.Blob != a.Blob {
				s.st.queueDeletions(old.Blob)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return j, replaced, nil
}

// KeepArtifacts keeps the job's artifacts if it has an archive that has not
// expired at now, and returns an error wrapping ErrConflict otherwise.
func (s *Store) KeepArtifacts(ctx context.Context, projectID, jobID int64, now time.Time) (*jobartifacts.Job, error) {
	return s.updateJob(ctx, projectID, jobID, func(j *jobartifacts.Job) error {
		if !j.Keep(now) {
			return fmt.Errorf("memstore: job %d has no archive to keep at %s: %w", jobID, now.Format(time.RFC3339), jobartifacts.ErrConflict)
		}
		return nil
	})
}

// ForgetArtifacts removes the records of the job's artifacts whose FileType
// is not in except (all of them when except is empty), queues their blobs
// for deletion and returns them.
func (s *Store) ForgetArtifacts(ctx context.Context, projectID, jobID int64, except ...string) ([]jobartifacts.Artifact, error) {
	var removed []jobartifacts.Artifact
	_, err := s.updateJob(ctx, projectID, jobID, func(j *jobartifacts.Job) error {
		removed = j.RemoveArtifacts(except...)
		if len(removed) == 0 {
			return errNoChange
		}
		for _, a := range removed {
			s.st.queueDeletions(a.Blob)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return records.CloneArtifacts(removed), nil
}

// updateJob applies change to a copy of the stored job under the write lock,
// stores the copy unless change fails, and returns a copy of the job as
// stored. When change returns errNoChange, nothing is stored and there is no
// error; any other error is returned with a nil job.
func (s *Store) updateJob(ctx context.Context, projectID, jobID int64, change func(*jobartifacts.Job) error) (*jobartifacts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	stored, err := st.projectJob(projectID, jobID)
	if err != nil {
		return nil, err
	}
	// Change a copy so that no slice is shared with values handed out earlier.
	j := records.CloneJob(stored)
	switch err := change(&j); {
	case errors.Is(err, errNoChange):
		return st.jobOut(stored), nil
	case err != nil:
		return nil, err
	}
	st.jobs[jobID] = j
	return st.jobOut(j), nil
}

// ExpireProjectArtifacts makes every artifact of the project's jobs that are
// not ArtifactsLocked expire at now, unless it expires earlier already. The
// jobs' ArtifactsExpireAt follow the same rule.
func (s *Store) ExpireProjectArtifacts(ctx context.Context, projectID int64, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.projects[projectID]; !ok {
		return fmt.Errorf("memstore: project %d: %w", projectID, jobartifacts.ErrNotFound)
	}
	for pipelineID := range st.projectPipelines[projectID] {
		for jobID := range st.pipelineJobs[pipelineID] {
			// Change a copy: values handed out earlier share no slice with it.
			if j := records.CloneJob(st.jobs[jobID]); j.ExpireArtifacts(now) {
				st.jobs[jobID] = j
			}
		}
	}
	return nil
}

// SweepExpiredArtifacts removes up to limit records that are expired at
// now, are not a job log and belong to jobs that are not ArtifactsLocked,
// in job id order, queues their blobs and returns them. The whole call is
// one step under the write lock.
func (s *Store) SweepExpiredArtifacts(ctx context.Context, now time.Time, limit int) ([]jobartifacts.SweptArtifact, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memstore: sweep limit %d: %w", limit, errBadLimit)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	var ids []int64
	for id, j := range st.jobs {
		if j.HasSweepableArtifacts(now) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var swept []jobartifacts.SweptArtifact
	for _, id := range ids {
		if len(swept) == limit {
			break
		}
		j := records.CloneJob(st.jobs[id])
		removed := j.SweepArtifacts(now, limit-len(swept))
		st.jobs[id] = j
		for _, a := range removed {
			st.queueDeletions(a.Blob)
			swept = append(swept, jobartifacts.SweptArtifact{ProjectID: j.ProjectID, JobID: j.ID, Artifact: records.CloneArtifact(a)})
		}
	}
	return swept, nil
}
