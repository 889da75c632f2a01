package jobartifacts

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// This file is where the zip engine (internal/ziparchive) meets the root
// package: its walks, lookups and validation, with its errors turned into
// this package's sentinels. A request's memory does not grow with the
// number of entries: the engine streams the central directory.

// archiveError turns an engine error into this package's: no such entry is
// ErrNotFound, a damaged or unservable archive ErrInvalidArchive; the
// context's and the blob's own failures stay as they are.
func archiveError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ziparchive.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, ziparchive.ErrFormat), errors.Is(err, ziparchive.ErrUnsupported), errors.Is(err, ziparchive.ErrChecksum):
		return fmt.Errorf("%w: %w", ErrInvalidArchive, err)
	}
	return err
}

// walkCentralDirectory streams the central directory of ra, calling visit
// with each record in order, until visit says stop or the records end. The
// record's Name aliases the walk's buffer: it is valid only until visit
// returns.
//
// An error from visit is returned as it is; a walk failure wraps
// ErrInvalidArchive, or is the blob's own read error or the context's.
func walkCentralDirectory(ctx context.Context, ra io.ReaderAt, size int64, visit func(rec *ziparchive.Record) (stop bool, err error)) error {
	return walkCentralDirectoryDir(ctx, ra, size, nil, visit)
}

// walkCentralDirectoryDir is walkCentralDirectory that first tells onDir
// (if not nil) where the directory lies and how many records it announces.
func walkCentralDirectoryDir(ctx context.Context, ra io.ReaderAt, size int64, onDir func(ziparchive.Directory), visit func(rec *ziparchive.Record) (stop bool, err error)) error {
	var visitErr error
	err := ziparchive.NewArchive(ra, size).Walk(ctx, onDir, func(r *ziparchive.Record) (bool, error) {
		stop, err := visit(r)
		visitErr = err
		return stop, err
	})
	if err != nil && visitErr == nil {
		return archiveError(err)
	}
	return err
}

// findZipEntryByWalk is the entryFinder that streams the central directory
// and stops at the first record named name.
func findZipEntryByWalk(ctx context.Context, ra io.ReaderAt, size int64, name string) (*ziparchive.Entry, error) {
	e, err := ziparchive.NewArchive(ra, size).Find(ctx, name)
	return e, archiveError(err)
}

// validateZipArchiveByWalk is ziparchive.Validate, the one validation of
// uploads and imports: nil, or an error wrapping ErrInvalidArchive (or the
// blob's read error, or the context's).
func validateZipArchiveByWalk(ctx context.Context, ra io.ReaderAt, size int64) error {
	return archiveError(ziparchive.NewArchive(ra, size).Validate(ctx))
}
