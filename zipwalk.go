package jobartifacts

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// This file streams the central directory record by record
// (walkCentralDirectory), so that a request's memory does not grow with the
// number of entries (zip.NewReader keeps every header). Finding one entry,
// validating an upload and listing a tree (ziptree.go) all use that walk.

// zipCentralRecord is one central-directory record as the walk reads it.
type zipCentralRecord struct {
	// nameBytes is the entry's name, raw. It aliases the walk's buffer, so it
	// is valid only until the visitor returns; keep a copy (name) instead.
	nameBytes        []byte
	name             string // set by whoever keeps the record
	flags            uint16
	method           uint16
	crc32            uint32
	compressedSize   uint64
	uncompressedSize uint64
	externalAttrs    uint32
	headerOffset     int64
}

// walkCentralDirectory streams the central directory of ra
// (ziparchive.Walk), calling visit with each record in order, until visit
// says stop or the records end. Its memory is bounded by the walk's window,
// whatever the number of entries.
//
// An error from visit is returned as it is; a walk failure wraps
// ErrInvalidArchive, or is the blob's own read error or the context's.
func walkCentralDirectory(ctx context.Context, ra io.ReaderAt, size int64, visit func(rec zipCentralRecord) (stop bool, err error)) error {
	return walkCentralDirectoryDir(ctx, ra, size, nil, visit)
}

// walkCentralDirectoryDir is walkCentralDirectory that first tells onDir
// (if not nil) where the directory lies and how many records it announces.
func walkCentralDirectoryDir(ctx context.Context, ra io.ReaderAt, size int64, onDir func(ziparchive.Directory), visit func(rec zipCentralRecord) (stop bool, err error)) error {
	recorder := &readErrorRecorder{ra: ra}
	var visitErr error
	err := ziparchive.Walk(ctx, recorder, size, onDir, func(r *ziparchive.Record) (bool, error) {
		stop, err := visit(zipCentralRecord{
			nameBytes:        r.Name,
			flags:            r.Flags,
			method:           r.Method,
			crc32:            r.CRC32,
			compressedSize:   r.CompressedSize,
			uncompressedSize: r.UncompressedSize,
			externalAttrs:    r.ExternalAttrs,
			headerOffset:     r.HeaderOffset,
		})
		visitErr = err
		return stop, err
	})
	if err != nil && visitErr == nil {
		return classifyArchiveError(ctx, recorder, err)
	}
	return err
}

// findZipEntryByWalk is the entryFinder that streams the central directory
// and stops at the first record named name.
func findZipEntryByWalk(ctx context.Context, ra io.ReaderAt, size int64, name string) (*archiveEntry, error) {
	var found *archiveEntry
	err := walkCentralDirectory(ctx, ra, size, func(rec zipCentralRecord) (bool, error) {
		// The conversion in a comparison does not allocate.
		if string(rec.nameBytes) != name {
			return false, nil
		}
		rec.nameBytes, rec.name = nil, name
		found = newWalkedArchiveEntry(ra, rec)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no entry %q in archive", ErrNotFound, name)
	}
	return found, nil
}

// validateZipArchiveByWalk is ziparchive.Validate, the one validation of
// uploads and imports: nil, or an error wrapping ErrInvalidArchive (or the
// blob's read error, or the context's).
func validateZipArchiveByWalk(ctx context.Context, ra io.ReaderAt, size int64) error {
	recorder := &readErrorRecorder{ra: ra}
	if err := ziparchive.Validate(ctx, recorder, size); err != nil {
		return classifyArchiveError(ctx, recorder, err)
	}
	return nil
}

// walkedEntry is an entry found by the walk: enough to find and check its
// data, as zip.File keeps it.
type walkedEntry struct {
	ra  io.ReaderAt
	rec zipCentralRecord
}

func newWalkedArchiveEntry(ra io.ReaderAt, rec zipCentralRecord) *archiveEntry {
	e := &walkedEntry{ra: ra, rec: rec}
	return &archiveEntry{
		name:             rec.name,
		method:           rec.method,
		flags:            rec.flags,
		compressedSize:   rec.compressedSize,
		uncompressedSize: rec.uncompressedSize,
		dataOffset:       e.dataOffset,
		open:             e.open,
	}
}

// dataOffset reads the local header: its own name and extra lengths, not the
// central directory's, say where the data starts.
func (e *walkedEntry) dataOffset() (int64, error) {
	return ziparchive.LocalDataOffset(e.ra, e.rec.headerOffset)
}

// open decompresses the entry from its start behind a verifyingReader, as
// zip.File.Open does (directories included).
func (e *walkedEntry) open(ctx context.Context, pool *zstdDecoderPool) (io.ReadCloser, error) {
	start, err := e.dataOffset()
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(e.rec.name, "/") {
		// Directories carry no data; some writers leave a method or a
		// compressed size on them, which the zip reader tolerates.
		if e.rec.uncompressedSize != 0 {
			return io.NopCloser(errorReader{ziparchive.ErrFormat}), nil
		}
		return io.NopCloser(errorReader{io.EOF}), nil
	}
	if e.rec.compressedSize > math.MaxInt64 {
		return nil, fmt.Errorf("%w: impossible compressed size", ziparchive.ErrFormat)
	}
	switch e.rec.method {
	case zipMethodStore, zipMethodDeflate, zipMethodZstd:
	default:
		return nil, ziparchive.ErrUnsupported
	}
	data, err := openSection(e.ra, start, int64(e.rec.compressedSize))
	if err != nil {
		return nil, err
	}
	var decompressed io.ReadCloser
	switch e.rec.method {
	case zipMethodStore:
		decompressed = data
	case zipMethodDeflate:
		decompressed = readerWithCloser{newFlateDecompressor(data), data}
	case zipMethodZstd:
		if pool == nil {
			decompressed = readerWithCloser{newZstdDecompressor(data), data}
			break
		}
		dec, err := pool.get(ctx, data)
		if err != nil {
			_ = data.Close()
			return nil, err
		}
		decompressed = readerWithCloser{dec, data}
	}
	var descriptor io.Reader
	if e.rec.flags&ziparchive.FlagDescriptor != 0 {
		descriptor = io.NewSectionReader(e.ra, start+int64(e.rec.compressedSize), ziparchive.DataDescriptorLen)
	}
	return ziparchive.NewVerifyingReader(decompressed, e.rec.crc32, e.rec.uncompressedSize, descriptor), nil
}
