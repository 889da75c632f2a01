package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// errBadLimit answers a limit that is not positive.
var errBadLimit = errors.New("memstore: limit must be positive")

// queuedDeletion is an entry of the blob deletion queue.
type queuedDeletion struct {
	queuedAt time.Time
	// leaseUntil is when the last claim ends; zero if never claimed.
	leaseUntil time.Time
}

// queueDeletions queues keys, stamped with the store's clock; a key queued
// already keeps its place, and an empty key (a record without a blob) is
// skipped. st.mu must be held for writing.
func (st *state) queueDeletions(keys ...jobartifacts.BlobKey) {
	var now time.Time
	for _, key := range keys {
		if key == "" {
			continue
		}
		if _, ok := st.deletions[key]; ok {
			continue
		}
		if now.IsZero() {
			now = st.now()
		}
		st.deletions[key] = &queuedDeletion{queuedAt: now}
	}
}

// QueueBlobDeletions adds keys to the blob deletion queue, stamped with the
// store's clock; a key queued already keeps its place.
func (s *Store) QueueBlobDeletions(ctx context.Context, keys ...jobartifacts.BlobKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.queueDeletions(keys...)
	return nil
}

// ClaimBlobDeletions returns up to limit keys queued at least grace ago
// (by the store's clock) whose last claim, if any, has ended, oldest first,
// and claims them until lease from now.
func (s *Store) ClaimBlobDeletions(ctx context.Context, grace, lease time.Duration, limit int) ([]jobartifacts.BlobKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memstore: claim limit %d: %w", limit, errBadLimit)
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	var due []jobartifacts.BlobKey
	for key, d := range st.deletions {
		if !d.queuedAt.Add(grace).After(now) && !d.leaseUntil.After(now) {
			due = append(due, key)
		}
	}
	slices.SortFunc(due, func(a, b jobartifacts.BlobKey) int {
		return cmp.Or(st.deletions[a].queuedAt.Compare(st.deletions[b].queuedAt), cmp.Compare(a, b))
	})
	if len(due) > limit {
		due = due[:limit]
	}
	for _, key := range due {
		st.deletions[key].leaseUntil = now.Add(lease)
	}
	return due, nil
}

// FinishBlobDeletions removes keys from the queue; keys not in it are
// ignored.
func (s *Store) FinishBlobDeletions(ctx context.Context, keys ...jobartifacts.BlobKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, key := range keys {
		delete(st.deletions, key)
	}
	return nil
}
