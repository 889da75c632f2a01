package jobartifacts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Sweeper deletes expired artifacts and the blobs that no record needs.
//
// A sweep has two steps. First it removes the records of every artifact
// whose expiry has passed, of jobs whose artifacts are not kept, except job
// logs ("trace"), in batches of one atomic store call each
// (MetadataStore.SweepExpiredArtifacts); the store queues their blobs. Then it
// deletes the queued blobs whose grace period has passed (ClaimBlobDeletions).
// Route 7 only marks a project's artifacts expired, route 6 only removes
// records (the store queues their blobs): a Sweeper is what frees the space.
//
// Every replica of a deployment may run its own Sweeper over the shared
// store: the store's atomic calls let no record be removed twice, and claims
// keep two Sweepers off one blob for the lease.
//
// CollectOrphanBlobs, which Run calls once a day by default, is the backstop
// for blobs that no record names and no queue holds (a crash between an
// upload's PutBlob and its record, a host's manual edit).
type Sweeper struct {
	store          Store
	now            func() time.Time
	batch          int
	grace          time.Duration
	lease          time.Duration
	orphanAge      time.Duration
	orphanInterval time.Duration
	logger         *slog.Logger
}

// SweeperOption configures a Sweeper.
type SweeperOption func(*Sweeper)

// WithSweeperClock sets the function that tells the time for expiry and
// blob ages (default time.Now). Grace periods of the deletion queue are
// measured by the store's clock.
func WithSweeperClock(now func() time.Time) SweeperOption {
	return func(s *Sweeper) {
		if now != nil {
			s.now = now
		}
	}
}

// WithSweeperBatchSize sets how many records or blobs one store call handles
// (default 100). n <= 0 keeps the default.
func WithSweeperBatchSize(n int) SweeperOption {
	return func(s *Sweeper) {
		if n > 0 {
			s.batch = n
		}
	}
}

// WithBlobGrace sets how long a blob stays after its record is removed
// (default 1 hour): longer than the longest download and than a signed URL
// lives (WithSignedURLExpiry). d < 0 keeps the default; 0 deletes at the next
// sweep, which suits a store whose open blobs survive deletion (fsstore).
func WithBlobGrace(d time.Duration) SweeperOption {
	return func(s *Sweeper) {
		if d >= 0 {
			s.grace = d
		}
	}
}

// WithBlobDeletionLease sets how long a claimed blob deletion is held before
// another Sweeper may retry it (default 10 minutes). d <= 0 keeps the
// default.
func WithBlobDeletionLease(d time.Duration) SweeperOption {
	return func(s *Sweeper) {
		if d > 0 {
			s.lease = d
		}
	}
}

// WithOrphanBlobAge sets how old a blob without a record must be before
// CollectOrphanBlobs queues it (default 24 hours): longer than any upload
// takes from its first byte to its record. d < 0 keeps the default.
func WithOrphanBlobAge(d time.Duration) SweeperOption {
	return func(s *Sweeper) {
		if d >= 0 {
			s.orphanAge = d
		}
	}
}

// WithOrphanInterval sets how often Run calls CollectOrphanBlobs (default
// 24 hours); d < 0 turns it off, 0 keeps the default.
func WithOrphanInterval(d time.Duration) SweeperOption {
	return func(s *Sweeper) {
		if d != 0 {
			s.orphanInterval = d
		}
	}
}

// WithSweeperLogger sets where the Sweeper reports what it did and what
// failed (default: nowhere).
func WithSweeperLogger(l *slog.Logger) SweeperOption {
	return func(s *Sweeper) {
		if l != nil {
			s.logger = l
		}
	}
}

// NewSweeper returns a Sweeper over store.
func NewSweeper(store Store, opts ...SweeperOption) *Sweeper {
	s := &Sweeper{
		store:          store,
		now:            time.Now,
		batch:          100,
		grace:          time.Hour,
		lease:          10 * time.Minute,
		orphanAge:      24 * time.Hour,
		orphanInterval: 24 * time.Hour,
		logger:         slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ErrInvalidInterval is returned by Run for an interval that is not positive.
var ErrInvalidInterval = errors.New("jobartifacts: sweep interval must be positive")

// Sweep removes every expired artifact record of unkept jobs, as of now,
// except job logs, then deletes the queued blobs whose grace has passed. It
// returns how many records it removed. A blob that fails to delete stays
// queued and is retried once its claim's lease ends; the failures are
// returned joined, after everything else was done.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	removed, sweepErr := s.sweepRecords(ctx)
	// Deleting queued blobs needs no space: on a full disk it is what frees
	// it, even when removing records failed.
	_, deleteErr := s.DeleteQueuedBlobs(ctx)
	return removed, errors.Join(sweepErr, deleteErr)
}

func (s *Sweeper) sweepRecords(ctx context.Context) (int, error) {
	now := s.now()
	removed := 0
	for {
		swept, err := s.store.SweepExpiredArtifacts(ctx, now, s.batch)
		removed += len(swept)
		if err != nil {
			return removed, fmt.Errorf("sweep expired artifacts: %w", err)
		}
		for _, a := range swept {
			s.logger.DebugContext(ctx, "jobartifacts: swept artifact",
				"project", a.ProjectID, "job", a.JobID, "file_type", a.Artifact.FileType)
		}
		if len(swept) < s.batch {
			return removed, nil
		}
	}
}

// DeleteQueuedBlobs deletes the blobs queued for deletion whose grace period
// has passed, and returns how many it deleted. A queued key that a record
// still names (queued by mistake) is taken off the queue, not deleted.
func (s *Sweeper) DeleteQueuedBlobs(ctx context.Context) (int, error) {
	deleted := 0
	var errs []error
	for {
		keys, err := s.store.ClaimBlobDeletions(ctx, s.grace, s.lease, s.batch)
		if err != nil {
			return deleted, errors.Join(append(errs, fmt.Errorf("claim blob deletions: %w", err))...)
		}
		var done []BlobKey
		for _, key := range keys {
			live, err := s.recorded(ctx, key)
			if err == nil && !live {
				err = s.store.DeleteBlob(ctx, key)
				if err == nil || isNotFound(err) {
					deleted++
					err = nil
				}
			}
			if err != nil {
				// Claimed: retried once the lease ends, not by this sweep.
				errs = append(errs, fmt.Errorf("delete blob %s: %w", key, err))
				continue
			}
			done = append(done, key)
		}
		if len(done) > 0 {
			if err := s.store.FinishBlobDeletions(ctx, done...); err != nil {
				return deleted, errors.Join(append(errs, fmt.Errorf("finish blob deletions: %w", err))...)
			}
		}
		if len(keys) < s.batch {
			return deleted, errors.Join(errs...)
		}
	}
}

// recorded reports whether the job that key belongs to has a record naming
// it. Keys not made by NewBlobKey belong to no job. The job is looked up by
// its id alone: a job moved to another project keeps its blobs.
func (s *Sweeper) recorded(ctx context.Context, key BlobKey) (bool, error) {
	_, jobID, ok := ParseBlobKey(key)
	if !ok {
		return false, nil
	}
	j, err := s.store.JobByID(ctx, jobID)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up job %d: %w", jobID, err)
	}
	for _, a := range j.Artifacts {
		if a.Blob == key {
			return true, nil
		}
	}
	return false, nil
}

// CollectOrphanBlobs lists every blob whose key NewBlobKey made, and queues
// for deletion those older than the orphan age (WithOrphanBlobAge) that no
// record names. Other keys under the same prefix are left alone. It returns
// how many it queued; they are deleted by a later sweep, after the grace
// period, like any other. A job that cannot be read is skipped (and its
// error returned at the end), so that it hides no orphan listed after it.
func (s *Sweeper) CollectOrphanBlobs(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.orphanAge)
	queued := 0
	var errs []error
	token := ""
	for {
		page, next, err := s.store.ListBlobs(ctx, BlobKeyPrefix, token, s.batch)
		if err != nil {
			return queued, errors.Join(append(errs, fmt.Errorf("list blobs: %w", err))...)
		}
		var orphans []BlobKey
		for _, b := range page {
			if _, _, ok := ParseBlobKey(b.Key); !ok || b.ModTime.After(cutoff) {
				continue
			}
			live, err := s.recorded(ctx, b.Key)
			if err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					return queued, errors.Join(append(errs, ctxErr)...)
				}
				errs = append(errs, fmt.Errorf("blob %s: %w", b.Key, err))
				continue
			}
			if !live {
				orphans = append(orphans, b.Key)
			}
		}
		if len(orphans) > 0 {
			if err := s.store.QueueBlobDeletions(ctx, orphans...); err != nil {
				return queued, errors.Join(append(errs, fmt.Errorf("queue orphan blobs: %w", err))...)
			}
			queued += len(orphans)
			s.logger.InfoContext(ctx, "jobartifacts: queued orphan blobs", "count", len(orphans))
		}
		if next == "" {
			return queued, errors.Join(errs...)
		}
		token = next
	}
}

// Run sweeps at once and then every interval until ctx is done, and returns
// ctx's error. It collects orphan blobs every orphan interval
// (WithOrphanInterval), the first time at a random moment within the first
// interval, so that replicas started together do not all list the bucket
// together. A failed sweep is logged and retried at the next tick.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("%w: %v", ErrInvalidInterval, interval)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var nextOrphans time.Time
	if s.orphanInterval > 0 {
		nextOrphans = time.Now().Add(rand.N(s.orphanInterval))
	}
	for {
		if s.orphanInterval > 0 && !time.Now().Before(nextOrphans) {
			nextOrphans = time.Now().Add(s.orphanInterval)
			if _, err := s.CollectOrphanBlobs(ctx); err != nil && ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "jobartifacts: orphan blob collection failed", "error", err)
			}
		}
		n, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger.ErrorContext(ctx, "jobartifacts: sweep failed", "removed", n, "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}
