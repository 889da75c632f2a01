package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ciartifacts/jobartifacts"
)

// Each change to a job's records is one transaction that locks the job's
// row first (SELECT … FOR UPDATE): changes to one job are serialised across
// every process, and each later statement of the transaction sees what
// committed before it (READ COMMITTED takes a snapshot per statement).

// lockedJob is what lockJob reads.
type lockedJob struct {
	locked bool
	expire *time.Time
}

// lockJob takes the job's row lock, or returns ErrNotFound.
func (s *Store) lockJob(ctx context.Context, tx pgx.Tx, projectID, jobID int64) (lockedJob, error) {
	var l lockedJob
	err := tx.QueryRow(ctx, s.q.lockJob, projectID, jobID).Scan(&l.locked, &l.expire)
	if err != nil {
		return l, wrap(err, "job %d of project %d", jobID, projectID)
	}
	return l, nil
}

// readJob reads the job inside tx, seeing tx's own changes.
func (s *Store) readJob(ctx context.Context, tx pgx.Tx, projectID, jobID int64) (*jobartifacts.Job, error) {
	j, err := scanJob(tx.QueryRow(ctx, s.q.job, projectID, jobID))
	if err != nil {
		return nil, wrap(err, "job %d of project %d", jobID, projectID)
	}
	return j, nil
}

// inTx runs f in a READ COMMITTED transaction and commits it if f returns
// nil. The level is asked for, not left to the server's default: every
// statement must see rows committed while it waited for a lock (a
// repeatable-read default would fail the races of several replicas with
// serialization errors).
func (s *Store) inTx(ctx context.Context, f func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, f)
}

// CreateArtifact records a only if the job has no artifact of a.FileType,
// sets the job's ArtifactsExpireAt to a.ExpireAt and returns the job. If it
// has one, it changes nothing and returns the job as stored with an error
// wrapping ErrConflict. Of several creates racing on any replicas, exactly
// one succeeds: the insert is conditional on the (job_id, file_type) key.
func (s *Store) CreateArtifact(ctx context.Context, projectID, jobID int64, a jobartifacts.Artifact) (*jobartifacts.Job, error) {
	var (
		job      *jobartifacts.Job
		conflict error
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := s.lockJob(ctx, tx, projectID, jobID)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, s.q.createArtifact, artifactArgs(jobID, a, l.locked)...)
		if err != nil {
			return wrap(err, "create %q artifact of job %d", a.FileType, jobID)
		}
		if tag.RowsAffected() == 0 {
			conflict = fmt.Errorf("pgstore: job %d already has a %q artifact: %w", jobID, a.FileType, jobartifacts.ErrConflict)
		} else if _, err := tx.Exec(ctx, s.q.setJobExpiry, jobID, a.ExpireAt); err != nil {
			return wrap(err, "set expiry of job %d", jobID)
		}
		job, err = s.readJob(ctx, tx, projectID, jobID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return job, conflict
}

// ReplaceArtifact records a, replacing the artifact of the same FileType,
// sets the job's ArtifactsExpireAt to a.ExpireAt and returns the job and the
// replaced record (nil if none), whose blob it queues for deletion unless
// a.Blob is that same key: all in one transaction that locks the job's row
// and then the old record, so that of several replaces racing each replaced
// record is returned by exactly one, and a record a sweep is removing is
// not returned twice.
func (s *Store) ReplaceArtifact(ctx context.Context, projectID, jobID int64, a jobartifacts.Artifact) (*jobartifacts.Job, *jobartifacts.Artifact, error) {
	var (
		job      *jobartifacts.Job
		replaced *jobartifacts.Artifact
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		replaced = nil
		l, err := s.lockJob(ctx, tx, projectID, jobID)
		if err != nil {
			return err
		}
		var (
			old    jobartifacts.Artifact
			expire *time.Time
		)
		err = tx.QueryRow(ctx, s.q.lockArtifact, jobID, a.FileType).Scan(artifactColumns(&old, &expire)...)
		switch {
		case err == nil:
			old.ExpireAt = utc(expire)
			replaced = &old
		case !errors.Is(err, pgx.ErrNoRows):
			return wrap(err, "read %q artifact of job %d", a.FileType, jobID)
		}
		if _, err := tx.Exec(ctx, s.q.upsertArtifact, artifactArgs(jobID, a, l.locked)...); err != nil {
			return wrap(err, "record %q artifact of job %d", a.FileType, jobID)
		}
		if replaced != nil && replaced.Blob != a.Blob {
			if _, err := tx.Exec(ctx, s.q.queue, []string{string(replaced.Blob)}); err != nil {
				return wrap(err, "queue blob %s", replaced.Blob)
			}
		}
		if _, err := tx.Exec(ctx, s.q.setJobExpiry, jobID, a.ExpireAt); err != nil {
			return wrap(err, "set expiry of job %d", jobID)
		}
		job, err = s.readJob(ctx, tx, projectID, jobID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return job, replaced, nil
}

// KeepArtifacts keeps the job's artifacts if, at now, it has an archive
// that has not expired (Job.HasAvailableArchive), and returns the job;
// otherwise it changes nothing and returns an error wrapping ErrConflict.
// The transaction locks the job's row and its records before the check, so
// a sweep racing it either removed the archive first (the keep fails) or
// finds the records kept.
func (s *Store) KeepArtifacts(ctx context.Context, projectID, jobID int64, now time.Time) (*jobartifacts.Job, error) {
	var job *jobartifacts.Job
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := s.lockJob(ctx, tx, projectID, jobID)
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, s.q.lockArtifacts, jobID)
		records, err := pgx.CollectRows(rows, scanArtifact)
		if err != nil {
			return wrap(err, "read artifacts of job %d", jobID)
		}
		// The rule itself is the model's, applied to what is locked.
		check := jobartifacts.Job{Artifacts: records, ArtifactsExpireAt: l.expire, ArtifactsLocked: l.locked}
		if !check.HasAvailableArchive(now) {
			return fmt.Errorf("pgstore: job %d has no archive to keep at %s: %w", jobID, now.Format(time.RFC3339Nano), jobartifacts.ErrConflict)
		}
		if _, err := tx.Exec(ctx, s.q.keepJob, jobID); err != nil {
			return wrap(err, "keep job %d", jobID)
		}
		if _, err := tx.Exec(ctx, s.q.keepArtifacts, jobID); err != nil {
			return wrap(err, "keep artifacts of job %d", jobID)
		}
		job, err = s.readJob(ctx, tx, projectID, jobID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}

// ForgetArtifacts removes the records of the job's artifacts whose FileType
// is not in except (all of them when except is empty), queues their blobs
// and returns the removed records, in one transaction. A record that a
// concurrent sweep removed is not returned again.
func (s *Store) ForgetArtifacts(ctx context.Context, projectID, jobID int64, except ...string) ([]jobartifacts.Artifact, error) {
	if except == nil {
		except = []string{}
	}
	var removed []jobartifacts.Artifact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := s.lockJob(ctx, tx, projectID, jobID); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, s.q.forget, jobID, except)
		var err error
		removed, err = pgx.CollectRows(rows, scanArtifact)
		if err != nil {
			return wrap(err, "forget artifacts of job %d", jobID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(removed) == 0 {
		return nil, nil
	}
	return removed, nil
}

// ExpireProjectArtifacts makes every artifact of the project's jobs that
// are not kept expire at now unless it expires earlier already; the jobs'
// ArtifactsExpireAt follow the same rule (jobs with records only). It locks
// the project's unkept jobs, in id order, so a keep racing it either comes
// first (the job is left alone) or after.
func (s *Store) ExpireProjectArtifacts(ctx context.Context, projectID int64, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, s.q.projectExists, projectID).Scan(&exists); err != nil {
			return wrap(err, "project %d", projectID)
		}
		if !exists {
			return notFound("project %d", projectID)
		}
		rows, _ := tx.Query(ctx, s.q.lockProjectJobs, projectID)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return wrap(err, "lock jobs of project %d", projectID)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, s.q.expireArtifacts, ids, now); err != nil {
			return wrap(err, "expire artifacts of project %d", projectID)
		}
		if _, err := tx.Exec(ctx, s.q.expireJobs, ids, now); err != nil {
			return wrap(err, "expire jobs of project %d", projectID)
		}
		return nil
	})
}

// SweepExpiredArtifacts removes up to limit records that are expired at
// now, are not a job log and belong to jobs that are not kept, queues their
// blobs and returns them, oldest expiry first: one statement, whose
// FOR UPDATE SKIP LOCKED gives concurrent sweeps on any replicas disjoint
// records and re-checks each record's expiry and lock once it holds it.
func (s *Store) SweepExpiredArtifacts(ctx context.Context, now time.Time, limit int) ([]jobartifacts.SweptArtifact, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pgstore: sweep limit %d must be positive", limit)
	}
	var swept []jobartifacts.SweptArtifact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, s.q.sweep, now, limit)
		var err error
		swept, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (jobartifacts.SweptArtifact, error) {
			var (
				sa     jobartifacts.SweptArtifact
				expire *time.Time
			)
			err := row.Scan(append([]any{&sa.ProjectID, &sa.JobID}, artifactColumns(&sa.Artifact, &expire)...)...)
			sa.Artifact.ExpireAt = utc(expire)
			return sa, err
		})
		return err
	})
	if err != nil {
		return nil, wrap(err, "sweep expired artifacts")
	}
	if len(swept) == 0 {
		return nil, nil
	}
	return swept, nil
}

// scanArtifact decodes a row of artifactColumns.
func scanArtifact(row pgx.CollectableRow) (jobartifacts.Artifact, error) {
	var (
		a      jobartifacts.Artifact
		expire *time.Time
	)
	err := row.Scan(artifactColumns(&a, &expire)...)
	a.ExpireAt = utc(expire)
	return a, err
}
