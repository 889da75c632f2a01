package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

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

// ProjectJob is Project and then Job in one round trip
// (jobartifacts.ProjectJobReader): their two statements, sent as one
// pipelined batch on one connection. Each runs with its own snapshot, as
// the two calls would, and comes back through the same scan, so the answers
// are theirs by construction; a join would read one snapshot but need a
// second, NULL-tolerant decoding of the job's row.
func (s *Store) ProjectJob(ctx context.Context, projectID, jobID int64) (*jobartifacts.Project, *jobartifacts.Job, error) {
	var b pgx.Batch
	b.Queue(s.q.project, projectID)
	b.Queue(s.q.job, projectID, jobID)
	br := s.pool.SendBatch(ctx, &b)
	defer br.Close()
	p, err := scanProject(br.QueryRow())
	if err != nil {
		return nil, nil, wrap(err, "project %d", projectID)
	}
	j, err := scanJob(br.QueryRow())
	if err != nil {
		return p, nil, wrap(err, "job %d of project %d", jobID, projectID)
	}
	if err := br.Close(); err != nil {
		return p, nil, wrap(err, "job %d of project %d", jobID, projectID)
	}
	return p, j, nil
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
