package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ciartifacts/jobartifacts"
)

// ListBlobs returns, in key order, up to limit blobs whose key starts with
// prefix and sorts after pageToken, and the next page's token ("" after the
// last page). It walks blobs/ in key order, skipping the directories that
// cannot hold a key of the page, so a page costs about limit files plus the
// directories on the way, however many blobs there are.
func (s *Store) ListBlobs(ctx context.Context, prefix, pageToken string, limit int) ([]jobartifacts.BlobAttributes, string, error) {
	if err := s.checkOpen(ctx); err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		return nil, "", fmt.Errorf("fsstore: list limit %d: %w", limit, errBadLimit)
	}
	l := blobLister{ctx: ctx, prefix: prefix, after: pageToken, want: limit + 1}
	if err := l.walk(filepath.Join(s.dir, "blobs"), ""); err != nil && !errors.Is(err, errPageFull) {
		return nil, "", err
	}
	next := ""
	if len(l.page) > limit {
		l.page = l.page[:limit]
		next = string(l.page[limit-1].Key)
	}
	return l.page, next, nil
}

// errPageFull stops a walk that has found enough.
var errPageFull = errors.New("fsstore: page full")

type blobLister struct {
	ctx    context.Context
	prefix string
	after  string
	want   int
	page   []jobartifacts.BlobAttributes
}

// walk lists the keys under dir, whose keys start with base, in key order.
//
// Every key under a subdirectory d starts with base+d+"/", and no other
// entry's name contains '/', so sorting entries by their name, with "/"
// appended for directories, sorts the keys beneath them in key order.
func (l *blobLister) walk(dir, base string) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never made, or emptied and removed by a delete
	}
	if err != nil {
		return fmt.Errorf("fsstore: list blobs: %w", err)
	}
	type item struct {
		name string // base + the entry's name, plus "/" for a directory
		dir  bool
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		if isTemp(e.Name()) {
			continue
		}
		it := item{name: base + e.Name(), dir: e.IsDir()}
		if it.dir {
			it.name += "/"
		}
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.name, b.name) })
	for _, it := range items {
		path := filepath.Join(dir, filepath.Base(it.name))
		if it.dir {
			if !l.mayHold(it.name) {
				continue
			}
			if err := l.walk(path, it.name); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(it.name, l.prefix) || it.name <= l.after {
			continue
		}
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("fsstore: list blobs: %w", err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		l.page = append(l.page, jobartifacts.BlobAttributes{Key: jobartifacts.BlobKey(it.name), Size: fi.Size(), ModTime: fi.ModTime().UTC()})
		if len(l.page) == l.want {
			return errPageFull
		}
	}
	return nil
}

// mayHold reports whether a directory whose keys all start with dirPrefix
// may hold a key of the page: one that starts with the prefix and sorts
// after the token.
func (l *blobLister) mayHold(dirPrefix string) bool {
	if !strings.HasPrefix(dirPrefix, l.prefix) && !strings.HasPrefix(l.prefix, dirPrefix) {
		return false
	}
	// Every key under it is greater than the token unless the token is
	// past dirPrefix without starting with it.
	return l.after < dirPrefix || strings.HasPrefix(l.after, dirPrefix)
}
