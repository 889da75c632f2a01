package jobartifacts

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zip"
)

// The reference finder: klauspost/compress/zip.NewReader (archive/zip's
// rules), which the tests compare the walk, the index and the listing with.

// findZipEntry is the entryFinder over klauspost/compress/zip.NewReader: it
// reads the whole central directory through ra and scans it in order. The
// default is findZipEntryByWalk (zipwalk.go); this one is the reference the
// tests compare it with.
func findZipEntry(ctx context.Context, ra io.ReaderAt, size int64, name string) (*archiveEntry, error) {
	zr, err := openZipReader(ctx, ra, size)
	if err != nil {
		return nil, err
	}
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		return &archiveEntry{
			name:             f.Name,
			method:           f.Method,
			flags:            f.Flags,
			compressedSize:   f.CompressedSize64,
			uncompressedSize: f.UncompressedSize64,
			dataOffset:       f.DataOffset,
			open:             func(context.Context, *zstdDecoderPool) (io.ReadCloser, error) { return f.Open() },
		}, nil
	}
	return nil, fmt.Errorf("%w: no entry %q in archive", ErrNotFound, name)
}

// openZipReader reads the archive's central directory, with the decompressors
// this package supports registered on this reader only. A failure is
// ErrInvalidArchive unless the blob itself failed to read (then that error,
// so that a storage outage is not blamed on the archive).
func openZipReader(ctx context.Context, ra io.ReaderAt, size int64) (*zip.Reader, error) {
	rec := &readErrorRecorder{ra: ra}
	zr, err := zip.NewReader(rec, size)
	if errors.Is(err, zip.ErrInsecurePath) && zr != nil {
		// Only under GODEBUG=zipinsecurepath=0; names are matched exactly
		// and never used as file paths here, so "../x" is just a name.
		err = nil
	}
	if err != nil {
		return nil, classifyArchiveError(ctx, rec, err)
	}
	zr.RegisterDecompressor(zipMethodDeflate, newFlateDecompressor)
	zr.RegisterDecompressor(zipMethodZstd, newZstdDecompressor)
	return zr, nil
}
