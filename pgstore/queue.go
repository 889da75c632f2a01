package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ciartifacts/jobartifacts"
)

// QueueBlobDeletions adds keys to the blob deletion queue, stamped with the
// database's clock; a key queued already keeps its place.
func (s *Store) QueueBlobDeletions(ctx context.Context, keys ...jobartifacts.BlobKey) error {
	if len(keys) == 0 {
		return nil
	}
	if err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, s.q.queue, keyStrings(keys))
		return err
	}); err != nil {
		return wrap(err, "queue %d blob deletions", len(keys))
	}
	return nil
}

// ClaimBlobDeletions returns up to limit keys queued at least grace ago (by
// the database's clock) that no unexpired claim holds, and claims them until
// lease has passed: one UPDATE over a FOR UPDATE SKIP LOCKED selection, so
// concurrent claimers on any replicas get disjoint keys.
func (s *Store) ClaimBlobDeletions(ctx context.Context, grace, lease time.Duration, limit int) ([]jobartifacts.BlobKey, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pgstore: claim limit %d must be positive", limit)
	}
	var keys []jobartifacts.BlobKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, s.q.claim, grace.Microseconds(), lease.Microseconds(), limit)
		var err error
		keys, err = pgx.CollectRows(rows, pgx.RowTo[jobartifacts.BlobKey])
		return err
	})
	if err != nil {
		return nil, wrap(err, "claim blob deletions")
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return keys, nil
}

// FinishBlobDeletions removes keys from the queue; keys not in it are
// ignored.
func (s *Store) FinishBlobDeletions(ctx context.Context, keys ...jobartifacts.BlobKey) error {
	if len(keys) == 0 {
		return nil
	}
	if err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, s.q.finish, keyStrings(keys))
		return err
	}); err != nil {
		return wrap(err, "finish %d blob deletions", len(keys))
	}
	return nil
}

func keyStrings(keys []jobartifacts.BlobKey) []string {
	ss := make([]string, len(keys))
	for i, k := range keys {
		ss[i] = string(k)
	}
	return ss
}
