package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// queueEntry is the content of deleted-blobs/<name>.json, an entry of the
// blob deletion queue, written once. The file's modification time is when
// the entry's last claim ends (its queued_at until it is first claimed):
// a claim sets it with utimensat(2), which is atomic and needs no space on
// a full file system.
type queueEntry struct {
	Key      jobartifacts.BlobKey `json:"key"`
	QueuedAt time.Time            `json:"queued_at"`
}

// queueBlobs adds keys to the deletion queue, stamped with the store's
// clock; a key queued already keeps its entry, and an empty key (a record
// without a blob) is skipped. Any key is queued, not only the ones this
// store's blob half accepts: the metadata half may be paired with another
// blob store. The caller holds meta.lock exclusively.
func (s *Store) queueBlobs(keys ...jobartifacts.BlobKey) error {
	var now time.Time
	for _, key := range keys {
		if key == "" {
			continue
		}
		path := s.queueFile(key)
		switch _, err := os.Lstat(path); {
		case err == nil:
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("fsstore: queue blob %q: %w", key, err)
		}
		if now.IsZero() {
			now = s.now().UTC()
		}
		if err := s.writeJSON(path, queueEntry{Key: key, QueuedAt: now}); err != nil {
			return fmt.Errorf("fsstore: queue blob %q: %w", key, err)
		}
		if err := os.Chtimes(path, now, now); err != nil {
			return fmt.Errorf("fsstore: queue blob %q: %w", key, err)
		}
	}
	return nil
}

// QueueBlobDeletions adds keys to the blob deletion queue, stamped with the
// store's clock; a key queued already keeps its place. It works on a full
// file system.
func (s *Store) QueueBlobDeletions(ctx context.Context, keys ...jobartifacts.BlobKey) error {
	return s.writeFreeing(ctx, func() error { return s.queueBlobs(keys...) })
}

// ClaimBlobDeletions returns up to limit keys queued at least grace ago (by
// the store's clock) whose last claim, if any, has ended, and claims them
// until lease from now, under one lock. It goes through the queue in the
// order of its file names (the escaped keys): an entry under claim costs a
// stat, one past it a read, and a claim sets the entry's modification time,
// so claiming writes no data and works on a full file system.
func (s *Store) ClaimBlobDeletions(ctx context.Context, grace, lease time.Duration, limit int) ([]jobartifacts.BlobKey, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("fsstore: claim limit %d: %w", limit, errBadLimit)
	}
	var claimed []jobartifacts.BlobKey
	err := s.write(ctx, func() error {
		now := s.now().UTC()
		entries, err := os.ReadDir(s.queueDir())
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("fsstore: %w", err)
		}
		for _, e := range entries {
			if len(claimed) == limit {
				return nil
			}
			if isTemp(e.Name()) || !strings.HasSuffix(e.Name(), ".json") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				return fmt.Errorf("fsstore: %w", err)
			}
			if fi.ModTime().After(now) {
				continue // claimed, and the claim holds
			}
			path := filepath.Join(s.queueDir(), e.Name())
			var q queueEntry
			if err := readJSON(path, "queued blob deletion", &q); err != nil {
				return err
			}
			if q.QueuedAt.Add(grace).After(now) {
				continue
			}
			leaseUntil := now.Add(lease)
			if err := os.Chtimes(path, leaseUntil, leaseUntil); err != nil {
				return fmt.Errorf("fsstore: claim blob deletion %q: %w", q.Key, err)
			}
			claimed = append(claimed, q.Key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// FinishBlobDeletions removes keys from the queue; keys not in it are
// ignored. Removing needs no space, so it works on a full file system.
func (s *Store) FinishBlobDeletions(ctx context.Context, keys ...jobartifacts.BlobKey) error {
	return s.write(ctx, func() error {
		removed := false
		for _, key := range keys {
			switch err := os.Remove(s.queueFile(key)); {
			case err == nil:
				removed = true
			case !errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("fsstore: finish blob deletion %q: %w", key, err)
			}
		}
		if removed {
			return s.syncDir(s.queueDir())
		}
		return nil
	})
}
