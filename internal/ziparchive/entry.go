package ziparchive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Compression methods this package decompresses.
const (
	MethodStore   = 0
	MethodDeflate = 8
	MethodZstd    = 93 // zstd as APPNOTE 6.3.7 numbers it
)

// FlagEncrypted is general-purpose bit 0. Go's readers ignore it and would
// hand out ciphertext or fail half-way.
const FlagEncrypted = 0x1

// ErrEncrypted (wrapping ErrUnsupported) is an encrypted entry.
var ErrEncrypted = fmt.Errorf("%w: encrypted entry", ErrUnsupported)

// Most bytes one compressed byte can stand for: deflate's longest match
// (258 bytes) in a 2-bit code is the 1032:1 limit; a zstd RLE block of 4
// bytes yields at most 128 KiB. The slack covers headers and a last short
// block.
const (
	maxDeflateExpansion = 1032
	maxZstdExpansion    = 32 << 10
	expansionSlack      = 128 << 10
)

// Entry is one entry of an archive: what its central-directory record says.
type Entry struct {
	Name             string
	Flags            uint16
	Method           uint16
	CRC32            uint32
	CompressedSize   uint64
	UncompressedSize uint64
	ExternalAttrs    uint32
	HeaderOffset     int64 // with Directory.BaseOffset applied

	// localLen, for an entry an Index gave, is where that Index keeps the
	// length of the entry's local header once an EntryReader has read and
	// checked it (0 until then), so that the next reader of the same
	// archive needs not read it again. The Index's archive is the same
	// bytes (an Index is of one archive version), so the checks hold.
	localLen *uint32
}

// entry is the record as an Entry named name (the record's name aliases
// the walk's buffer).
func (r *Record) entry(name string) Entry {
	return Entry{
		Name: name, Flags: r.Flags, Method: r.Method, CRC32: r.CRC32,
		CompressedSize: r.CompressedSize, UncompressedSize: r.UncompressedSize,
		ExternalAttrs: r.ExternalAttrs, HeaderOffset: r.HeaderOffset,
	}
}

// IsDir reports whether the entry is a directory (its name ends with "/").
func (e *Entry) IsDir() bool { return strings.HasSuffix(e.Name, "/") }

// Check rejects what the central directory alone shows cannot be served
// from an archive of archiveSize bytes: an encrypted entry (ErrEncrypted),
// an unsupported method (ErrUnsupported), sizes no data could have
// (ErrFormat: a stored entry whose sizes differ, a compressed one expanding
// beyond its method's limit, so that a HEAD never announces what a GET
// cannot send).
func (e *Entry) Check(archiveSize int64) error {
	if e.Flags&FlagEncrypted != 0 {
		return fmt.Errorf("%w: %q", ErrEncrypted, e.Name)
	}
	switch e.Method {
	case MethodStore:
		if e.CompressedSize != e.UncompressedSize {
			return fmt.Errorf("%w: stored entry %q declares %d bytes compressed but %d uncompressed",
				ErrFormat, e.Name, e.CompressedSize, e.UncompressedSize)
		}
	case MethodDeflate, MethodZstd:
	default:
		return fmt.Errorf("%w: entry %q uses method %d", ErrUnsupported, e.Name, e.Method)
	}
	if e.UncompressedSize > math.MaxInt64 || archiveSize < 0 || e.CompressedSize > uint64(archiveSize) ||
		!plausibleUncompressedSize(e.Method, e.CompressedSize, e.UncompressedSize) {
		return fmt.Errorf("%w: entry %q declares impossible sizes (%d bytes from %d, method %d)",
			ErrFormat, e.Name, e.UncompressedSize, e.CompressedSize, e.Method)
	}
	return nil
}

// plausibleUncompressedSize reports whether compressed bytes of method
// could decompress to uncompressed bytes.
func plausibleUncompressedSize(method uint16, compressed, uncompressed uint64) bool {
	var ratio uint64
	switch method {
	case MethodStore:
		return compressed == uncompressed
	case MethodDeflate:
		ratio = maxDeflateExpansion
	case MethodZstd:
		ratio = maxZstdExpansion
	default:
		return true // refused for its method
	}
	if compressed > (math.MaxUint64-expansionSlack)/ratio {
		return true
	}
	return uncompressed <= compressed*ratio+expansionSlack
}

// DataOffset reads the entry's local header: its own name and extra
// lengths, not the central directory's, say where the data starts. Its
// errors are LocalDataOffset's, unclassified.
func (a *Archive) DataOffset(e *Entry) (int64, error) {
	return LocalDataOffset(a, e.HeaderOffset)
}

// OpenEntry returns the entry decompressed from its start, verified as
// NewVerifyingReader does (directories included, as zip.File.Open does).
// zstd entries take their decoder from zstd (nil: one of their own). Its
// errors are not classified: those of the archive's bytes wrap ErrFormat,
// ErrUnsupported or ErrChecksum, or are io.ErrUnexpectedEOF or the
// decompressor's; the others are the ReaderAt's, the context's or zstd's.
func (a *Archive) OpenEntry(ctx context.Context, e *Entry, zstd ZstdDecoders) (io.ReadCloser, error) {
	start, err := a.DataOffset(e)
	if err != nil {
		return nil, err
	}
	return a.openEntryAt(ctx, e, start, zstd)
}

// openEntryAt is OpenEntry for an entry whose data starts at start, as
// DataOffset said.
func (a *Archive) openEntryAt(ctx context.Context, e *Entry, start int64, zstd ZstdDecoders) (io.ReadCloser, error) {
	if e.IsDir() {
		// Directories carry no data; some writers leave a method or a
		// compressed size on them, which the zip reader tolerates.
		if e.UncompressedSize != 0 {
			return io.NopCloser(errorReader{ErrFormat}), nil
		}
		return io.NopCloser(errorReader{io.EOF}), nil
	}
	if e.CompressedSize > math.MaxInt64 {
		return nil, fmt.Errorf("%w: impossible compressed size", ErrFormat)
	}
	switch e.Method {
	case MethodStore, MethodDeflate, MethodZstd:
	default:
		return nil, ErrUnsupported
	}
	data, err := a.section(start, int64(e.CompressedSize))
	if err != nil {
		return nil, err
	}
	var decompressed io.ReadCloser
	switch e.Method {
	case MethodStore:
		decompressed = data
	case MethodDeflate:
		decompressed = readerWithCloser{newFlateDecompressor(data), data}
	case MethodZstd:
		// No frame needs more history than the entry holds.
		frames := clampZstdWindows(data, e.UncompressedSize)
		if zstd == nil {
			decompressed = readerWithCloser{NewZstdDecompressor(frames), data}
			break
		}
		dec, err := zstd.ZstdReader(ctx, frames, e.UncompressedSize)
		if err != nil {
			_ = data.Close()
			return nil, err
		}
		decompressed = readerWithCloser{dec, data}
	}
	v := &verifyingReader{rc: decompressed, crc32: e.CRC32, size: e.UncompressedSize}
	if e.Flags&FlagDescriptor != 0 {
		// In the reader's own allocation.
		v.descriptorSection = *io.NewSectionReader(a, start+int64(e.CompressedSize), DataDescriptorLen)
		v.descriptor = &v.descriptorSection
	}
	return v, nil
}

// readerWithCloser is a decompressor that also closes the range it reads.
type readerWithCloser struct {
	io.ReadCloser
	under io.Closer
}

func (c readerWithCloser) Close() error {
	return errors.Join(c.ReadCloser.Close(), c.under.Close())
}

type errorReader struct{ err error }

func (r errorReader) Read([]byte) (int, error) { return 0, r.err }
