package pgstore

import (
	"context"

	"github.com/ciartifacts/jobartifacts"
)

// Project returns the project with the given id, or ErrNotFound.
func (s *Store) Project(ctx context.Context, id int64) (*jobartifacts.Project, error) {
	p, err := scanProject(s.pool.QueryRow(ctx, s.q.project, id))
	if err != nil {
		return nil, wrap(err, "project %d", id)
	}
	return p, nil
}

// ProjectByPath returns the project whose full path equals path exactly
// (case-sensitive), or ErrNotFound.
func (s *Store) ProjectByPath(ctx context.Context, path string) (*jobartifacts.Project, error) {
	p, err := scanProject(s.pool.QueryRow(ctx, s.q.projectByPath, path))
	if err != nil {
		return nil, wrap(err, "project %q", path)
	}
	return p, nil
}

// Job returns job jobID of project projectID, or ErrNotFound, also when the
// job belongs to another project.
func (s *Store) Job(ctx context.Context, projectID, jobID int64) (*jobartifacts.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, s.q.job, projectID, jobID))
	if err != nil {
		return nil, wrap(err, "job %d of project %d", jobID, projectID)
	}
	return j, nil
}

// JobByID returns a job by its id alone, or ErrNotFound.
func (s *Store) JobByID(ctx context.Context, jobID int64) (*jobartifacts.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, s.q.jobByID, jobID))
	if err != nil {
		return nil, wrap(err, "job %d", jobID)
	}
	return j, nil
}

// LatestSuccessfulJob takes the newest (highest id) successful pipeline of
// the ref and returns its job named name with the highest id, whatever that
// job's status, in one statement of two index probes. There is no fallback
// to older pipelines.
func (s *Store) LatestSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*jobartifacts.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, s.q.latestSuccessful, projectID, ref, name))
	if err != nil {
		return nil, wrap(err, "latest successful job %q of ref %q in project %d", name, ref, projectID)
	}
	return j, nil
}

// RecentSuccessfulJob searches the 100 newest successful pipelines of the
// ref, newest first, for a job named name whose status is "success" and
// that has an archive; within one pipeline the highest job id wins. It is
// one statement.
func (s *Store) RecentSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*jobartifacts.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, s.q.recentSuccessful, projectID, ref, name))
	if err != nil {
		return nil, wrap(err, "recent successful job %q of ref %q in project %d", name, ref, projectID)
	}
	return j, nil
}
