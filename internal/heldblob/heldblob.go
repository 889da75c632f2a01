// Package heldblob is a store for the tests of work that outlives a
// request: the archive index build that an entry lookup starts reopens the
// archive, and this store holds that reopened blob's reads until the build
// is cancelled.
package heldblob

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/ciartifacts/jobartifacts"
)

// Store is a jobartifacts.Store whose second blob open (an entry lookup's
// index build, after the request's own open) reads nothing until the
// context it was opened with ends, then fails with its error, as a store's
// reads may (BlobStore.OpenBlob).
type Store struct {
	jobartifacts.Store
	opens   atomic.Int64
	reading chan struct{}
	once    sync.Once
	closed  atomic.Bool
}

// New returns s with its second blob open held.
func New(s jobartifacts.Store) *Store {
	return &Store{Store: s, reading: make(chan struct{})}
}

// OpenBlob opens the blob as the wrapped store does; the second blob
// opened is held (see Store).
func (s *Store) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	b, err := s.Store.OpenBlob(ctx, key)
	if err != nil || s.opens.Add(1) != 2 {
		return b, err
	}
	return &heldBlob{Blob: b, ctx: ctx, store: s}, nil
}

// Reading is closed when the held blob is first read.
func (s *Store) Reading() <-chan struct{} { return s.reading }

// Closed reports whether the held blob was closed.
func (s *Store) Closed() bool { return s.closed.Load() }

// Opens is how many blobs have been opened.
func (s *Store) Opens() int64 { return s.opens.Load() }

// heldBlob is the held blob; ctx is the context it was opened with, which
// governs its reads.
type heldBlob struct {
	jobartifacts.Blob
	ctx   context.Context
	store *Store
}

func (b *heldBlob) ReadAt(p []byte, off int64) (int, error) {
	b.store.once.Do(func() { close(b.store.reading) })
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *heldBlob) Close() error {
	b.store.closed.Store(true)
	return b.Blob.Close()
}
