package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// The interleavings that random races rarely hit, forced: another
// replica's transaction holds a row lock while a store call runs.

// holdLocks begins a transaction on its own connection that runs sql (a
// locking statement of another replica), rolled back when the test ends
// unless finished earlier.
func holdLocks(t *testing.T, s *Store, sql string, args ...any) pgx.Tx {
	tx, err := s.pool.Begin(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	_, err = tx.Exec(t.Context(), qualifier(s.schema).Replace(sql), args...)
	require.NoError(t, err)
	return tx
}

// waitForLockWait waits until a statement on the store's schema waits for
// a lock.
func waitForLockWait(t *testing.T, s *Store) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND position($1 in query) > 0`, s.schema).Scan(&n)
		require.NoError(t, err)
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no statement waited for the lock")
}

type callResult struct {
	job      *jobartifacts.Job
	replaced *jobartifacts.Artifact
	err      error
}

// A sweep holds the archive and deletes it while a keep waits: the keep
// then finds no archive and fails, rather than answering "kept" for an
// archive that is gone.
func TestKeepWaitingForSweepFails(t *testing.T) {
	a, b := twoReplicas(t)
	past := raceNow.Add(-time.Hour)
	seedJobs(t, a, 1, func(int) []jobartifacts.Artifact {
		return []jobartifacts.Artifact{record("archive", "old", &past)}
	})
	sweep := holdLocks(t, a, `SELECT 1 FROM {s}.artifacts WHERE job_id = 1000 FOR UPDATE`)

	done := make(chan callResult, 1)
	go func() {
		j, err := b.KeepArtifacts(context.Background(), 1, 1000, past.Add(-time.Minute))
		done <- callResult{job: j, err: err}
	}()
	waitForLockWait(t, a)
	_, err := sweep.Exec(t.Context(), qualifier(a.schema).Replace(`DELETE FROM {s}.artifacts WHERE job_id = 1000`))
	require.NoError(t, err)
	require.NoError(t, sweep.Commit(t.Context()))
	r := <-done
	require.ErrorIs(t, r.err, jobartifacts.ErrConflict)
	j, err := a.JobByID(t.Context(), 1000)
	require.NoError(t, err)
	require.False(t, j.ArtifactsLocked)
}

// A keep holds the job and its records: a sweep meanwhile skips them (and
// does not wait), and after the keep commits nothing of the job is due.
func TestSweepSkipsRecordsBeingKept(t *testing.T) {
	a, b := twoReplicas(t)
	past := raceNow.Add(-time.Hour)
	seedJobs(t, a, 2, func(i int) []jobartifacts.Artifact {
		return []jobartifacts.Artifact{record("archive", []string{"kept", "due"}[i], &past)}
	})
	keep := holdLocks(t, a, `SELECT 1 FROM {s}.artifacts WHERE job_id = 1000 FOR UPDATE`)

	swept, err := b.SweepExpiredArtifacts(t.Context(), raceNow, 10)
	require.NoError(t, err)
	require.Len(t, swept, 1, "the locked record is skipped")
	require.Equal(t, jobartifacts.BlobKey("due"), swept[0].Artifact.Blob)

	q := qualifier(a.schema)
	_, err = keep.Exec(t.Context(), q.Replace(`UPDATE {s}.jobs SET artifacts_locked = true, artifacts_expire_at = NULL WHERE id = 1000`))
	require.NoError(t, err)
	_, err = keep.Exec(t.Context(), q.Replace(`UPDATE {s}.artifacts SET expire_at = NULL, job_locked = true WHERE job_id = 1000`))
	require.NoError(t, err)
	require.NoError(t, keep.Commit(t.Context()))
	swept, err = b.SweepExpiredArtifacts(t.Context(), raceNow, 10)
	require.NoError(t, err)
	require.Empty(t, swept)
}

// A sweep removes the old record while a replace waits for it: the replace
// reports nothing replaced, so the old blob is queued once (by the sweep).
func TestReplaceWaitingForSweepReplacesNothing(t *testing.T) {
	a, b := twoReplicas(t)
	past := raceNow.Add(-time.Hour)
	seedJobs(t, a, 1, func(int) []jobartifacts.Artifact {
		return []jobartifacts.Artifact{record("archive", "old", &past)}
	})
	q := qualifier(a.schema)
	sweep := holdLocks(t, a, `SELECT 1 FROM {s}.artifacts WHERE job_id = 1000 FOR UPDATE`)

	done := make(chan callResult, 1)
	go func() {
		j, replaced, err := b.ReplaceArtifact(context.Background(), 1, 1000, record("archive", "new", nil))
		done <- callResult{job: j, replaced: replaced, err: err}
	}()
	waitForLockWait(t, a)
	_, err := sweep.Exec(t.Context(), q.Replace(`WITH d AS (DELETE FROM {s}.artifacts WHERE job_id = 1000 RETURNING blob_key)
		INSERT INTO {s}.deleted_blobs (blob_key) SELECT blob_key FROM d`))
	require.NoError(t, err)
	require.NoError(t, sweep.Commit(t.Context()))
	r := <-done
	require.NoError(t, r.err)
	require.Nil(t, r.replaced, "the sweep removed it")
	require.Equal(t, jobartifacts.BlobKey("new"), r.job.Artifacts[0].Blob)
	require.Equal(t, []string{"old"}, queued(t, a))
}

// A forget waiting for a sweep's lock does not return what the sweep
// removed.
func TestForgetWaitingForSweepReturnsOnlyWhatItRemoved(t *testing.T) {
	a, b := twoReplicas(t)
	past := raceNow.Add(-time.Hour)
	seedJobs(t, a, 1, func(int) []jobartifacts.Artifact {
		return []jobartifacts.Artifact{record("archive", "a", &past), record("junit", "j", nil)}
	})
	q := qualifier(a.schema)
	sweep := holdLocks(t, a, `SELECT 1 FROM {s}.artifacts WHERE job_id = 1000 AND file_type = 'archive' FOR UPDATE`)

	done := make(chan []jobartifacts.Artifact, 1)
	errc := make(chan error, 1)
	go func() {
		removed, err := b.ForgetArtifacts(context.Background(), 1, 1000, "trace")
		done <- removed
		errc <- err
	}()
	waitForLockWait(t, a)
	_, err := sweep.Exec(t.Context(), q.Replace(`DELETE FROM {s}.artifacts WHERE job_id = 1000 AND file_type = 'archive'`))
	require.NoError(t, err)
	require.NoError(t, sweep.Commit(t.Context()))
	removed := <-done
	require.NoError(t, <-errc)
	require.Len(t, removed, 1)
	require.Equal(t, "junit", removed[0].FileType)
	require.Equal(t, []string{"j"}, queued(t, a))
}
