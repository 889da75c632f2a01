package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ciartifacts/jobartifacts"
)

// PutProject creates or replaces a project. A path that another project has
// is an error wrapping ErrConflict.
func (s *Store) PutProject(ctx context.Context, p jobartifacts.Project) error {
	doc, err := encodeProject(p)
	if err != nil {
		return fmt.Errorf("pgstore: project %d: %w", p.ID, err)
	}
	_, err = s.pool.Exec(ctx, s.q.putProject, p.ID, p.PathWithNamespace, doc)
	if isUniqueViolation(err) {
		return fmt.Errorf("pgstore: project %d: path %q belongs to another project: %w", p.ID, p.PathWithNamespace, jobartifacts.ErrConflict)
	}
	return wrap(err, "put project %d", p.ID)
}

// PutPipeline creates or replaces a pipeline. Its project must exist
// (ErrNotFound otherwise), and a pipeline cannot move to another project
// (ErrConflict).
func (s *Store) PutPipeline(ctx context.Context, p jobartifacts.Pipeline) error {
	doc, err := encodePipeline(p)
	if err != nil {
		return fmt.Errorf("pgstore: pipeline %d: %w", p.ID, err)
	}
	tag, err := s.pool.Exec(ctx, s.q.putPipeline, p.ID, p.ProjectID, p.Ref, p.Status, doc)
	switch {
	case isForeignKeyViolation(err):
		return notFound("pipeline %d: project %d", p.ID, p.ProjectID)
	case err != nil:
		return wrap(err, "put pipeline %d", p.ID)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("pgstore: pipeline %d belongs to another project than %d: %w", p.ID, p.ProjectID, jobartifacts.ErrConflict)
	}
	return nil
}

// PutJob creates or replaces a job and its records, in one transaction.
// Its project and its pipeline (j.Pipeline.ID) must exist (ErrNotFound
// otherwise) and the pipeline must belong to the project (ErrConflict).
// Only j.Pipeline.ID is stored: jobs read back carry the pipeline as last
// stored with PutPipeline. j.Artifacts replace the job's records as given,
// in that order; no blob is queued, blobs are the caller's business.
func (s *Store) PutJob(ctx context.Context, j jobartifacts.Job) error {
	doc, err := encodeJob(j)
	if err != nil {
		return fmt.Errorf("pgstore: job %d: %w", j.ID, err)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			projectExists   bool
			pipelineProject *int64
		)
		if err := tx.QueryRow(ctx, s.q.putJobCheck, j.ProjectID, j.Pipeline.ID).Scan(&projectExists, &pipelineProject); err != nil {
			return wrap(err, "put job %d", j.ID)
		}
		switch {
		case !projectExists:
			return notFound("job %d: project %d", j.ID, j.ProjectID)
		case pipelineProject == nil:
			return notFound("job %d: pipeline %d", j.ID, j.Pipeline.ID)
		case *pipelineProject != j.ProjectID:
			return fmt.Errorf("pgstore: job %d of project %d: pipeline %d belongs to project %d: %w",
				j.ID, j.ProjectID, j.Pipeline.ID, *pipelineProject, jobartifacts.ErrConflict)
		}
		if _, err := tx.Exec(ctx, s.q.putJob, j.ID, j.ProjectID, j.Pipeline.ID, j.Name, j.Status,
			j.ArtifactsExpireAt, j.ArtifactsLocked, doc); err != nil {
			return wrap(err, "put job %d", j.ID)
		}
		if _, err := tx.Exec(ctx, s.q.deleteJobArtifacts, j.ID); err != nil {
			return wrap(err, "put job %d", j.ID)
		}
		for _, a := range j.Artifacts {
			if _, err := tx.Exec(ctx, s.q.insertArtifact, artifactArgs(j.ID, a, j.ArtifactsLocked)...); err != nil {
				return wrap(err, "put job %d: %q artifact", j.ID, a.FileType)
			}
		}
		return nil
	})
}
