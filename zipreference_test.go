package jobartifacts

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// The reference finder: archive/zip.NewReader, the reader GitLab's Workhorse
// opens artifacts with, which the tests compare the walk, the index and the
// listing with.

// foundEntry is what a finder under comparison found: the entry as its
// central directory describes it, and how that finder reads it.
type foundEntry struct {
	ziparchive.Entry
	dataOffset func() (int64, error)
	open       func() (io.ReadCloser, error)
}

// testFinder is a finder under comparison: the walk or the reference.
type testFinder func(ctx context.Context, ra io.ReaderAt, size int64, name string) (*foundEntry, error)

// walkFinder is findZipEntryByWalk, reading with the engine.
func walkFinder(ctx context.Context, ra io.ReaderAt, size int64, name string) (*foundEntry, error) {
	e, err := findZipEntryByWalk(ctx, ra, size, name)
	if err != nil {
		return nil, err
	}
	a := ziparchive.NewArchive(ra, size)
	return &foundEntry{
		Entry:      *e,
		dataOffset: func() (int64, error) { return a.DataOffset(e) },
		open:       func() (io.ReadCloser, error) { return a.OpenEntry(ctx, e, nil) },
	}, nil
}

// findZipEntry is the testFinder over archive/zip.NewReader: it
// reads the whole central directory through ra and scans it in order. The
// default is findZipEntryByWalk (zipwalk.go); this one is the reference the
// tests compare it with.
func findZipEntry(ctx context.Context, ra io.ReaderAt, size int64, name string) (*foundEntry, error) {
	zr, err := openZipReader(ctx, ra, size)
	if err != nil {
		return nil, err
	}
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		return &foundEntry{
			Entry: ziparchive.Entry{
				Name:             f.Name,
				Method:           f.Method,
				Flags:            f.Flags,
				CompressedSize:   f.CompressedSize64,
				UncompressedSize: f.UncompressedSize64,
			},
			dataOffset: f.DataOffset,
			open:       f.Open,
		}, nil
	}
	return nil, fmt.Errorf("%w: no entry %q in archive", ErrNotFound, name)
}

// openZipReader reads the archive's central directory, with the decompressors
// this package supports registered on this reader only. A failure is
// ErrInvalidArchive unless the blob itself failed to read (then that error,
// so that a storage outage is not blamed on the archive).
func openZipReader(ctx context.Context, ra io.ReaderAt, size int64) (*zip.Reader, error) {
	archive := ziparchive.NewArchive(ra, size)
	zr, err := zip.NewReader(archive, size)
	if errors.Is(err, zip.ErrInsecurePath) && zr != nil {
		// Only under GODEBUG=zipinsecurepath=0; names are matched exactly
		// and never used as file paths here, so "../x" is just a name.
		err = nil
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, fmt.Errorf("reading archive: %w", ctx.Err())
	case archive.ReadFailure() != nil:
		return nil, fmt.Errorf("reading archive: %w", archive.ReadFailure())
	default:
		return nil, fmt.Errorf("%w: %w", ErrInvalidArchive, err)
	}
	zr.RegisterDecompressor(ziparchive.MethodDeflate, ziparchive.NewFlateDecompressor)
	zr.RegisterDecompressor(ziparchive.MethodZstd, ziparchive.NewZstdDecompressor)
	return zr, nil
}
