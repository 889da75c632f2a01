package jobartifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Sweeper deletes expired artifacts: the records and the blobs of every
// artifact whose expiry has passed, of jobs whose artifacts are not kept.
// Job logs ("trace") are never swept. Route 7 only marks a project's
// artifacts expired; a Sweeper is what removes them. Hosts run one
// periodically (Run) or call Sweep from their own scheduler.
//
// A download already streaming an archive when it is swept completes with
// the bytes it opened or fails; it never mixes bytes (BlobStore contract).
type Sweeper struct {
	store  Store
	now    func() time.Time
	batch  int
	logger *slog.Logger
}

// SweeperOption configures a Sweeper.
type SweeperOption func(*Sweeper)

// WithSweeperClock sets the function that tells the time (default time.Now).
func WithSweeperClock(now func() time.Time) SweeperOption {
	return func(s *Sweeper) {
		if now != nil {
			s.now = now
		}
	}
}

// WithSweeperBatchSize sets how many jobs one ExpiredArtifacts call asks for
// (default 100). n <= 0 asks for all at once.
func WithSweeperBatchSize(n int) SweeperOption {
	return func(s *Sweeper) { s.batch = n }
}

// WithSweeperLogger sets where Run reports failed sweeps (default: nowhere).
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
		store:  store,
		now:    time.Now,
		batch:  100,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ErrInvalidInterval is returned by Run for an interval that is not positive.
var ErrInvalidInterval = errors.New("jobartifacts: sweep interval must be positive")

// Sweep deletes every expired artifact of unkept jobs, as of now, except job
// logs, and returns how many it deleted. It goes on past a job that fails
// and returns the joined errors with the count of what it did delete.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	deleted := 0
	var errs []error
	// Jobs that stay listed although nothing of them can go (only their log
	// expired, kept meanwhile, or failed): each later listing asks for that
	// many more jobs, so that they never hide the rest.
	stuck := make(map[int64]bool)
	for {
		limit := 0
		if s.batch > 0 {
			limit = s.batch + len(stuck)
		}
		jobs, err := s.store.ExpiredArtifacts(ctx, now, limit)
		if err != nil {
			return deleted, errors.Join(append(errs, fmt.Errorf("list expired artifacts: %w", err))...)
		}
		fresh := 0
		for _, j := range jobs {
			if stuck[j.ID] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return deleted, errors.Join(append(errs, err)...)
			}
			fresh++
			n, err := s.sweepJob(ctx, j, now)
			deleted += n
			if err != nil {
				errs = append(errs, err)
			}
			if err != nil || n == 0 {
				stuck[j.ID] = true
			}
		}
		if limit <= 0 || len(jobs) < limit || fresh == 0 {
			return deleted, errors.Join(errs...)
		}
	}
}

// sweepJob deletes the job's expired artifacts, reading the job afresh so
// that an artifact kept or re-uploaded since the listing is spared.
func (s *Sweeper) sweepJob(ctx context.Context, listed *Job, now time.Time) (int, error) {
	j, err := s.store.Job(ctx, listed.ProjectID, listed.ID)
	if isNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sweep job %d: %w", listed.ID, err)
	}
	if j.ArtifactsLocked {
		return 0, nil
	}
	var types []string
	for _, a := range j.Artifacts {
		if a.FileType != ArtifactTypeTrace && a.expiredAt(now) {
			types = append(types, a.FileType)
		}
	}
	if len(types) == 0 {
		return 0, nil
	}
	if err := DeleteArtifacts(ctx, s.store, j.ProjectID, j.ID, types...); err != nil && !isNotFound(err) {
		return 0, fmt.Errorf("sweep job %d: %w", j.ID, err)
	}
	return len(types), nil
}

// Run sweeps once at once and then every interval until ctx is done, and
// returns ctx's error. A failed sweep is logged and retried at the next tick.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("%w: %v", ErrInvalidInterval, interval)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		n, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.logger.ErrorContext(ctx, "jobartifacts: sweep failed", "deleted", n, "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}
