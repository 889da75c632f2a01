package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// sweepConfig is what the flags of the sweeper say.
type sweepConfig struct {
	sweepInterval  time.Duration
	blobGrace      time.Duration
	orphanAge      time.Duration
	orphanInterval time.Duration // 0: never
	sweepBatch     int
	deletionLease  time.Duration
}

func addSweepFlags(fs *flag.FlagSet, c *sweepConfig) {
	fs.DurationVar(&c.sweepInterval, "sweep-interval", 5*time.Minute, "how often expired artifacts are deleted (0: never)")
	fs.DurationVar(&c.blobGrace, "blob-grace", time.Hour, "how long an archive's bytes stay after its record is gone, for downloads under way and signed URLs handed out")
	fs.DurationVar(&c.orphanAge, "orphan-age", 24*time.Hour, "archives that no record names and incomplete S3 uploads are removed once this old: longer than any upload takes")
	fs.DurationVar(&c.orphanInterval, "orphan-interval", 24*time.Hour, "how often the sweeper lists every archive in the store for those that no record names, the first time at a random moment within it (0: never)")
	fs.IntVar(&c.sweepBatch, "sweep-batch", 100, "records or archives that one store call of the sweeper removes, claims or lists")
	fs.DurationVar(&c.deletionLease, "blob-deletion-lease", 10*time.Minute, "how long a replica's sweeper holds the archives it claimed to delete before another may retry them: longer than deleting -sweep-batch archives takes")
}

// check refuses values the Sweeper would silently replace by its defaults.
func (c sweepConfig) check() error {
	if c.sweepInterval < 0 || c.blobGrace < 0 || c.orphanAge < 0 || c.orphanInterval < 0 {
		return errors.New("-sweep-interval, -blob-grace, -orphan-age and -orphan-interval must not be negative")
	}
	if c.sweepBatch < 1 {
		return fmt.Errorf("-sweep-batch must be at least 1, not %d", c.sweepBatch)
	}
	if c.deletionLease <= 0 {
		return fmt.Errorf("-blob-deletion-lease must be positive, not %v", c.deletionLease)
	}
	return nil
}

// newSweeper returns the Sweeper that the flags describe.
func newSweeper(store jobartifacts.Store, c sweepConfig, logger *slog.Logger) *jobartifacts.Sweeper {
	orphanInterval := c.orphanInterval
	if orphanInterval == 0 {
		orphanInterval = -1 // the Sweeper's "never"; its 0 is "the default"
	}
	return jobartifacts.NewSweeper(store,
		jobartifacts.WithSweeperLogger(logger),
		jobartifacts.WithBlobGrace(c.blobGrace),
		jobartifacts.WithOrphanBlobAge(c.orphanAge),
		jobartifacts.WithOrphanInterval(orphanInterval),
		jobartifacts.WithSweeperBatchSize(c.sweepBatch),
		jobartifacts.WithBlobDeletionLease(c.deletionLease),
	)
}

// janitorInterval is how often a server on S3 aborts the multipart uploads
// that a killed process left.
const janitorInterval = time.Hour

// maintain runs the Sweeper every -sweep-interval and, on S3, the janitor
// of incomplete uploads every janitorInterval, until ctx is done. Every
// replica may run both: the store's atomic calls and claims keep them off
// each other's work, and aborting an upload twice is harmless.
func maintain(ctx context.Context, store *openedStore, c sweepConfig, logger *slog.Logger) {
	sweeper := newSweeper(store, c, logger)
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		_ = sweeper.Run(ctx, c.sweepInterval) // returns ctx's error once we stop
	}()
	defer func() { <-swept }()
	if store.abortIncompleteUploads == nil {
		return
	}
	ticker := time.NewTicker(janitorInterval)
	defer ticker.Stop()
	for {
		n, err := store.abortIncompleteUploads(ctx, c.orphanAge)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.ErrorContext(ctx, "aborting incomplete S3 uploads failed", "error", err)
		case n > 0:
			logger.InfoContext(ctx, "aborted incomplete S3 uploads", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
