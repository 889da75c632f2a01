package fsstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// The mutations of artifact records. Each holds meta.lock exclusively for
// its whole read-modify-write, so the conditions of the MetadataStore
// contract are checked against what is on disk with no other writer, in
// this process or another, in between. Blob keys are queued for deletion
// before the record that drops them is written: a crash in between leaves a
// queued key that a record still names, which the Sweeper checks and skips,
// never a blob that nothing names.

// errNoChange makes updateJob leave the stored job as it is.
var errNoChange = errors.New("fsstore: no change")

// CreateArtifact records a unless the job has an artifact of a.FileType; it
// then returns the job as stored with an error wrapping ErrConflict.
func (s *Store) CreateArtifact(ctx context.Context, projectID, jobID int64, a jobartifacts.Artifact) (*jobartifacts.Job, error) {
	var conflict error
	j, err := s.updateJob(ctx, false, projectID, jobID, func(j *jobartifacts.Job) error {
		if _, created := j.CreateArtifact(copyArtifact(a)); !created {
			conflict = fmt.Errorf("fsstore: job %d already has a %q artifact: %w", jobID, a.FileType, jobartifacts.ErrConflict)
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
	j, err := s.updateJob(ctx, false, projectID, jobID, func(j *jobartifacts.Job) error {
		replaced = j.ReplaceArtifact(copyArtifact(a))
		if replaced != nil && replaced.Blob != a.Blob {
			return s.queueBlobs(replaced.Blob)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return j, replaced, nil
}

// KeepArtifacts keeps the job's artifacts if it has an archive that has not
// expired at now, and returns an error wrapping ErrConflict otherwise. It
// works on a full file system (see the package documentation).
func (s *Store) KeepArtifacts(ctx context.Context, projectID, jobID int64, now time.Time) (*jobartifacts.Job, error) {
	return s.updateJob(ctx, true, projectID, jobID, func(j *jobartifacts.Job) error {
		if !j.Keep(now) {
			return fmt.Errorf("fsstore: job %d has no archive to keep at %s: %w", jobID, now.Format(time.RFC3339), jobartifacts.ErrConflict)
		}
		return nil
	})
}

// ForgetArtifacts removes the records of the job's artifacts whose FileType
// is not in except (all of them when except is empty), queues their blobs
// for deletion and returns them. It works on a full file system.
func (s *Store) ForgetArtifacts(ctx context.Context, projectID, jobID int64, except ...string) ([]jobartifacts.Artifact, error) {
	var removed []jobartifacts.Artifact
	_, err := s.updateJob(ctx, true, projectID, jobID, func(j *jobartifacts.Job) error {
		removed = j.RemoveArtifacts(except...)
		if len(removed) == 0 {
			return errNoChange
		}
		return s.queueBlobs(blobKeys(removed)...)
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// copyArtifact returns a copy of a that shares no memory with it, so that
// no job handed out shares memory with the caller's values.
func copyArtifact(a jobartifacts.Artifact) jobartifacts.Artifact {
	if a.ExpireAt != nil {
		t := *a.ExpireAt
		a.ExpireAt = &t
	}
	return a
}

func blobKeys(as []jobartifacts.Artifact) []jobartifacts.BlobKey {
	keys := make([]jobartifacts.BlobKey, len(as))
	for i, a := range as {
		keys[i] = a.Blob
	}
	return keys
}

// updateJob applies change to the stored job under the exclusive lock,
// writes it back and returns it with its pipeline. When change returns
// errNoChange nothing is written and the job is returned as stored; any
// other error is returned with a nil job. freeing says the operation must
// work on a full file system (writeFreeing).
func (s *Store) updateJob(ctx context.Context, freeing bool, projectID, jobID int64, change func(*jobartifacts.Job) error) (*jobartifacts.Job, error) {
	var j *jobartifacts.Job
	update := func() error {
		stored, err := s.loadJob(jobID) // the writer's own: change may change it
		if err != nil {
			return err
		}
		if _, err := jobOfProject(stored, projectID); err != nil {
			return err
		}
		switch err := change(stored); {
		case errors.Is(err, errNoChange):
		case err != nil:
			return err
		default:
			if err := s.writeJSON(s.jobFile(jobID), stored); err != nil {
				return err
			}
		}
		j, err = s.files().withPipeline(stored)
		return err
	}
	var err error
	if freeing {
		err = s.writeFreeing(ctx, update)
	} else {
		err = s.write(ctx, update)
	}
	if err != nil {
		return nil, err
	}
	return j, nil
}

// ExpireProjectArtifacts makes every artifact of the project's jobs that are
// not ArtifactsLocked expire at now, unless it expires earlier already; the
// jobs' ArtifactsExpireAt follow the same rule. It reads every job of the
// project (through its pipelines' job indexes) and rewrites those it
// changes, all under one lock. It works on a full file system.
func (s *Store) ExpireProjectArtifacts(ctx context.Context, projectID int64, now time.Time) error {
	return s.writeFreeing(ctx, func() error {
		if _, err := s.loadProject(projectID); err != nil {
			return err
		}
		entries, err := os.ReadDir(s.pipelinesDir(projectID))
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("fsstore: %w", err)
		}
		for _, e := range entries {
			pipelineID, ok := parseID(e.Name(), pipelineJobsSuffix)
			if !ok {
				continue
			}
			index, err := s.readPipelineJobs(projectID, pipelineID)
			if err != nil {
				return err
			}
			for _, ids := range index {
				for _, jobID := range ids {
					j, err := s.loadJob(jobID)
					if isNotFound(err) {
						continue
					}
					if err != nil {
						return err
					}
					// A stale entry may name a job that moved; only the
					// pipeline the job names now counts.
					if j.ProjectID != projectID || j.Pipeline.ID != pipelineID {
						continue
					}
					if j.ExpireArtifacts(now) {
						if err := s.writeJSON(s.jobFile(jobID), j); err != nil {
							return err
						}
					}
				}
			}
		}
		return nil
	})
}

// SweepExpiredArtifacts removes up to limit records that are expired at
// now, are not a job log and belong to jobs that are not ArtifactsLocked,
// queues their blobs and returns them. It reads the jobs under the shared
// lock, so that a sweep does not stall every reader while it looks, and
// removes under the exclusive lock, checking each candidate job again there:
// a job kept or changed in between is judged as it is then. It goes round
// the jobs in id order from where the last sweep of this Store stopped and
// returns fewer than limit records only after a whole round. It works on a
// full file system.
func (s *Store) SweepExpiredArtifacts(ctx context.Context, now time.Time, limit int) ([]jobartifacts.SweptArtifact, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("fsstore: sweep limit %d: %w", limit, errBadLimit)
	}
	var swept []jobartifacts.SweptArtifact
	from := s.sweepStart()
	for len(swept) < limit {
		candidates, next, roundDone, err := s.sweepCandidates(ctx, now, from, limit-len(swept))
		if err != nil {
			return swept, err
		}
		if len(candidates) > 0 {
			err = s.writeFreeing(ctx, func() error {
				for _, jobID := range candidates {
					if len(swept) == limit {
						return nil
					}
					j, err := s.loadJob(jobID)
					if isNotFound(err) {
						continue
					}
					if err != nil {
						return err
					}
					removed := j.SweepArtifacts(now, limit-len(swept))
					if len(removed) == 0 {
						continue
					}
					if err := s.queueBlobs(blobKeys(removed)...); err != nil {
						return err
					}
					if err := s.writeJSON(s.jobFile(jobID), j); err != nil {
						return err
					}
					for _, a := range removed {
						swept = append(swept, jobartifacts.SweptArtifact{ProjectID: j.ProjectID, JobID: j.ID, Artifact: a})
					}
				}
				return nil
			})
			if err != nil {
				return swept, err
			}
		}
		s.setSweepStart(next)
		if roundDone {
			break
		}
		from = next
	}
	return swept, nil
}

// sweepCandidates lists, under the shared lock, up to n jobs from the id
// from on (going round) that have something to sweep at now. next is where
// the listing stopped; roundDone reports that it went all the way round.
func (s *Store) sweepCandidates(ctx context.Context, now time.Time, from int64, n int) (ids []int64, next int64, roundDone bool, err error) {
	err = s.read(ctx, func() error {
		all, err := s.jobIDs()
		if err != nil {
			return err
		}
		start, _ := slices.BinarySearch(all, from)
		next = from
		for k := range all {
			if err := ctx.Err(); err != nil {
				return err
			}
			jobID := all[(start+k)%len(all)]
			j, err := s.loadJob(jobID)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			if j.HasSweepableArtifacts(now) {
				ids = append(ids, jobID)
				if len(ids) == n {
					next = jobID // it may have more than was taken
					return nil
				}
			}
			next = jobID + 1
		}
		roundDone = true
		return nil
	})
	return ids, next, roundDone, err
}

// sweepStart and setSweepStart keep where the next sweep of this Store
// starts, so that sweeps go round the jobs instead of rereading the first.
func (s *Store) sweepStart() int64 {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	return s.sweepFrom
}

func (s *Store) setSweepStart(id int64) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	s.sweepFrom = id
}

// jobIDs returns the ids of every job file, in order.
func (s *Store) jobIDs() ([]int64, error) {
	entries, err := os.ReadDir(s.jobsDir())
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("fsstore: %w", err)
	}
	var ids []int64
	for _, e := range entries {
		if jobID, ok := parseID(e.Name(), ".json"); ok {
			ids = append(ids, jobID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
