package ziparchive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrNotExist is a lookup of a name no entry has.
var ErrNotExist = errors.New("ziparchive: no such entry")

// RangeReader is the streaming read of a ReaderAt that has one (a store's
// blob): an Archive reads entry data through it, one request per entry on
// object storage instead of one per buffer.
type RangeReader interface {
	NewRangeReader(offset, length int64) (io.ReadCloser, error)
}

// Archive is the zip archive in the size bytes of an io.ReaderAt. It
// remembers the first failure of that ReaderAt, so that its methods can
// tell a damaged archive from failing storage: a failure of the ReaderAt,
// or of the context, is returned wrapped as it is; anything else is the
// archive's and wraps ErrFormat (ErrChecksum and ErrUnsupported too, where
// they apply). It is safe for concurrent use.
type Archive struct {
	ra   io.ReaderAt
	size int64

	mu  sync.Mutex
	err error // the ReaderAt's first failure other than io.EOF
}

// NewArchive reads nothing: each method reads what it needs.
func NewArchive(ra io.ReaderAt, size int64) *Archive {
	return &Archive{ra: ra, size: size}
}

// Size is the archive's size in bytes.
func (a *Archive) Size() int64 { return a.size }

// ReadAt reads from the underlying ReaderAt, recording its failures. An
// io.EOF is not one: a truncated archive reads past its end, which is the
// archive's fault.
func (a *Archive) ReadAt(p []byte, off int64) (int, error) {
	n, err := a.ra.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) && off >= 0 {
		a.record(err)
	}
	return n, err
}

func (a *Archive) record(err error) {
	a.mu.Lock()
	if a.err == nil {
		a.err = err
	}
	a.mu.Unlock()
}

// ReadFailure is the first failure of the underlying ReaderAt (or of a
// range read of it), or nil.
func (a *Archive) ReadFailure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// classify says whose fault err is: the context's, the storage's (both
// returned wrapped) or the archive's (wrapping ErrFormat).
func (a *Archive) classify(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("ziparchive: reading archive: %w", ctxErr)
	}
	if readErr := a.ReadFailure(); readErr != nil {
		return fmt.Errorf("ziparchive: reading archive: %w", readErr)
	}
	if errors.Is(err, ErrFormat) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrFormat, err)
}

// section returns the n bytes from off as a stream: one range read when the
// ReaderAt has one, else a section reader. A section running past the end
// of the archive is cut there, as a section reader's is, so that a bad
// offset reads short (the archive's fault) instead of failing in the store
// (the storage's).
func (a *Archive) section(off, n int64) (io.ReadCloser, error) {
	src, ok := a.ra.(RangeReader)
	if !ok || off < 0 || off >= a.size || n <= 0 {
		return io.NopCloser(io.NewSectionReader(a, off, n)), nil
	}
	rc, err := src.NewRangeReader(off, min(n, a.size-off))
	if err != nil {
		a.record(err)
		return nil, err
	}
	return &recordingReadCloser{ReadCloser: rc, a: a}, nil
}

// recordingReadCloser records a range read's failures in its Archive.
type recordingReadCloser struct {
	io.ReadCloser
	a *Archive
}

func (c *recordingReadCloser) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		c.a.record(err)
	}
	return n, err
}

// Walk is the package's Walk over this archive: visit's errors are returned
// as they are, the walk's are classified.
func (a *Archive) Walk(ctx context.Context, onDir func(Directory), visit func(*Record) (stop bool, err error)) error {
	var visitErr error
	err := Walk(ctx, a, a.size, onDir, func(r *Record) (bool, error) {
		stop, err := visit(r)
		visitErr = err
		return stop, err
	})
	if err != nil && visitErr == nil {
		return a.classify(ctx, err)
	}
	return err
}

// Validate is the package's Validate over this archive, its errors
// classified.
func (a *Archive) Validate(ctx context.Context) error {
	if err := Validate(ctx, a, a.size); err != nil {
		return a.classify(ctx, err)
	}
	return nil
}

// Find streams the central directory to the first entry named name (exact
// bytes, central-directory order) and stops there; no such entry is
// ErrNotExist (the records before it only are checked).
func (a *Archive) Find(ctx context.Context, name string) (*Entry, error) {
	var found *Entry
	err := a.Walk(ctx, nil, func(r *Record) (bool, error) {
		// The conversion in a comparison does not allocate.
		if string(r.Name) != name {
			return false, nil
		}
		e := r.entry(name)
		found = &e
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotExist, name)
	}
	return found, nil
}
