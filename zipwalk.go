package jobartifacts

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"strings"

	"github.com/klauspost/compress/zip"
)

// This file streams the central directory record by record
// (walkCentralDirectory), so that a request's memory does not grow with the
// number of entries (zip.NewReader keeps every header). Finding one entry,
// validating an upload and listing a tree (ziptree.go) all use that walk.

// Zip record signatures and fixed lengths (APPNOTE 4.3).
const (
	zipLocalHeaderSignature   = 0x04034b50
	zipCentralHeaderSignature = 0x02014b50
	zipDirectoryEndSignature  = 0x06054b50
	zip64DirectoryEndSig      = 0x06064b50
	zip64LocatorSignature     = 0x07064b50
	zipDataDescriptorSig      = 0x08074b50

	zipLocalHeaderLen   = 30
	zipCentralHeaderLen = 46
	zipDirectoryEndLen  = 22
	zip64LocatorLen     = 20
	zip64DirectoryEnd   = 56
	// zipDataDescriptorLen is the classic descriptor with its signature; only
	// its CRC is read, which sits at the same place in the zip64 form.
	zipDataDescriptorLen = 16

	zipExtraZip64     = 0x0001
	zipFlagDescriptor = 0x8

	// zipEndSearchShortTail is looked at first: almost every archive has no
	// (or a short) comment.
	zipEndSearchShortTail = 1024
	// zipEndSearchTail holds the end record and the longest comment.
	zipEndSearchTail = math.MaxUint16 + zipDirectoryEndLen
	// zipWalkBufferSize holds any one name or extra field (at most 65,535
	// bytes each), so a record is parsed from the buffer without copying.
	zipWalkBufferSize = 64 << 10
	// zipWalkContextEvery is how many records pass between context checks.
	zipWalkContextEvery = 4096
)

// zipCentralDirectory is where the central directory lies and what the end
// record says about it.
type zipCentralDirectory struct {
	start, end int64 // byte range holding the records
	baseOffset int64 // added to every local header offset (prepended data)
	records    uint64
	// zip64 is set when records came from the zip64 end record; otherwise
	// only its low 16 bits are trustworthy (old writers wrap the count).
	zip64 bool
}

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

// walkCentralDirectory streams the central directory of ra, calling visit
// with each record in order, until visit says stop (then the rest, and the
// record count, go unchecked) or the records end (then their count must match
// the end record's). Its memory is bounded by its buffers (at most two of
// 64 KiB, and a copy of the longest name), whatever the number of entries.
//
// An error from visit is returned as it is; a walk failure wraps
// ErrInvalidArchive, or is the blob's own read error or the context's.
func walkCentralDirectory(ctx context.Context, ra io.ReaderAt, size int64, visit func(rec zipCentralRecord) (stop bool, err error)) error {
	return walkCentralDirectoryDir(ctx, ra, size, nil, visit)
}

// walkCentralDirectoryDir is walkCentralDirectory that first tells onDir
// (if not nil) where the directory lies and how many records it announces.
func walkCentralDirectoryDir(ctx context.Context, ra io.ReaderAt, size int64, onDir func(zipCentralDirectory), visit func(rec zipCentralRecord) (stop bool, err error)) error {
	recorder := &readErrorRecorder{ra: ra}
	walk, err := newZipCentralDirectoryWalk(recorder, size)
	if err != nil {
		return classifyArchiveError(ctx, recorder, err)
	}
	if onDir != nil {
		onDir(walk.dir)
	}
	for {
		rec, err := walk.next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return classifyArchiveError(ctx, recorder, err)
		}
		stop, err := visit(rec)
		if err != nil {
			return err
		}
		if stop {
			return nil
		}
	}
	if err := walk.checkCount(); err != nil {
		return classifyArchiveError(ctx, recorder, err)
	}
	return nil
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

// validateZipArchiveByWalk reads every central-directory record of ra with
// the same streaming parser and checks their count against the end record:
// nil, or an error wrapping ErrInvalidArchive (or the blob's read error).
func validateZipArchiveByWalk(ctx context.Context, ra io.ReaderAt, size int64) error {
	return walkCentralDirectory(ctx, ra, size, func(zipCentralRecord) (bool, error) { return false, nil })
}

// zipCentralDirectoryWalk reads central-directory records one at a time,
// parsing each in place from a window of the directory (one ReadAt per
// window, no copy of the record).
type zipCentralDirectoryWalk struct {
	dir  zipCentralDirectory
	ra   io.ReaderAt
	buf  []byte
	r, w int    // the window is buf[r:w]
	at   int64  // the archive offset of buf[w]: where the next read starts
	read uint64 // records read so far
}

func newZipCentralDirectoryWalk(ra io.ReaderAt, size int64) (*zipCentralDirectoryWalk, error) {
	dir, err := locateZipCentralDirectory(ra, size)
	if err != nil {
		return nil, err
	}
	// A small directory needs no bigger buffer; a record too long for the
	// buffer grows it (to at most a header, a name and an extra field).
	bufSize := int(min(dir.end-dir.start, zipWalkBufferSize))
	return &zipCentralDirectoryWalk{dir: dir, ra: ra, buf: make([]byte, max(bufSize, zipCentralHeaderLen)), at: dir.start}, nil
}

// fill makes the window hold at least n bytes, unless the directory ends
// first (then io.EOF).
func (w *zipCentralDirectoryWalk) fill(n int) error {
	if w.w-w.r >= n {
		return nil
	}
	copy(w.buf, w.buf[w.r:w.w])
	w.w -= w.r
	w.r = 0
	if n > len(w.buf) {
		grown := make([]byte, n)
		copy(grown, w.buf[:w.w])
		w.buf = grown
	}
	for w.w < n {
		want := min(int64(len(w.buf)-w.w), w.dir.end-w.at)
		if want <= 0 {
			return io.EOF
		}
		got, err := w.ra.ReadAt(w.buf[w.w:w.w+int(want)], w.at)
		w.w += got
		w.at += int64(got)
		if got < int(want) {
			if err == nil || errors.Is(err, io.EOF) {
				return io.EOF
			}
			return err
		}
	}
	return nil
}

// skip moves past n bytes, which may run beyond the window.
func (w *zipCentralDirectoryWalk) skip(n int) {
	if beyond := w.r + n - w.w; beyond > 0 {
		w.at += int64(beyond)
		w.r, w.w = 0, 0
		return
	}
	w.r += n
}

// next reads the next record; its nameBytes are valid until the next call.
// io.EOF means there are no more records: the directory ended or the next
// bytes are not a central-directory header (as the zip reader, which then
// relies on the count).
func (w *zipCentralDirectoryWalk) next(ctx context.Context) (rec zipCentralRecord, err error) {
	if w.read%zipWalkContextEvery == zipWalkContextEvery-1 {
		if err := ctx.Err(); err != nil {
			return rec, err
		}
	}
	if err := w.fill(4); err != nil || binary.LittleEndian.Uint32(w.buf[w.r:]) != zipCentralHeaderSignature {
		if err != nil && !errors.Is(err, io.EOF) {
			return rec, err
		}
		return rec, io.EOF
	}
	if err := w.fill(zipCentralHeaderLen); err != nil {
		return rec, w.truncated(err)
	}
	fixed := w.buf[w.r : w.r+zipCentralHeaderLen]
	rec.flags = binary.LittleEndian.Uint16(fixed[8:])
	rec.method = binary.LittleEndian.Uint16(fixed[10:])
	rec.crc32 = binary.LittleEndian.Uint32(fixed[16:])
	compressed32 := binary.LittleEndian.Uint32(fixed[20:])
	uncompressed32 := binary.LittleEndian.Uint32(fixed[24:])
	nameLen := int(binary.LittleEndian.Uint16(fixed[28:]))
	extraLen := int(binary.LittleEndian.Uint16(fixed[30:]))
	commentLen := int(binary.LittleEndian.Uint16(fixed[32:]))
	rec.externalAttrs = binary.LittleEndian.Uint32(fixed[38:])
	offset32 := binary.LittleEndian.Uint32(fixed[42:])
	rec.compressedSize, rec.uncompressedSize = uint64(compressed32), uint64(uncompressed32)
	rec.headerOffset = int64(offset32)

	// The name and the extra field must be there; the comment is skipped.
	if err := w.fill(zipCentralHeaderLen + nameLen + extraLen); err != nil {
		return rec, w.truncated(err)
	}
	nameStart := w.r + zipCentralHeaderLen
	rec.nameBytes = w.buf[nameStart : nameStart+nameLen : nameStart+nameLen]
	extra := w.buf[nameStart+nameLen : nameStart+nameLen+extraLen]
	if compressed32 == math.MaxUint32 || uncompressed32 == math.MaxUint32 || offset32 == math.MaxUint32 {
		if err := applyZip64Extra(&rec, extra, compressed32, uncompressed32, offset32); err != nil {
			return rec, fmt.Errorf("central directory record %d: %w", w.read, err)
		}
	}
	total := zipCentralHeaderLen + nameLen + extraLen + commentLen
	if int64(w.r+total-w.w) > w.dir.end-w.at {
		return rec, w.truncated(io.EOF) // the comment runs past the directory
	}
	w.skip(total)
	w.read++
	rec.headerOffset += w.dir.baseOffset
	return rec, nil
}

// truncated describes a record cut short; a storage failure stays as it is
// for classifyArchiveError to find.
func (w *zipCentralDirectoryWalk) truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: central directory record %d is truncated", zip.ErrFormat, w.read)
	}
	return err
}

// checkCount compares, once every record has been read, their number with
// the end record's.
func (w *zipCentralDirectoryWalk) checkCount() error {
	want, got := w.dir.records, w.read
	if !w.dir.zip64 {
		want, got = uint64(uint16(want)), uint64(uint16(got))
	}
	if want != got {
		return fmt.Errorf("%w: the end record declares %d entries, the central directory holds %d",
			zip.ErrFormat, w.dir.records, w.read)
	}
	return nil
}

// applyZip64Extra takes from the zip64 extra fields the 64-bit values of the
// 32-bit fields that are saturated, in the order APPNOTE 4.5.3 gives them.
func applyZip64Extra(rec *zipCentralRecord, extra []byte, compressed32, uncompressed32, offset32 uint32) error {
	for len(extra) >= 4 {
		tag := binary.LittleEndian.Uint16(extra)
		fieldLen := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if fieldLen > len(extra) {
			break // a malformed tail is ignored, as the zip reader does
		}
		field := extra[:fieldLen]
		extra = extra[fieldLen:]
		if tag != zipExtraZip64 {
			continue
		}
		take := func(dst *uint64) error {
			if len(field) < 8 {
				return fmt.Errorf("%w: zip64 extra field too short", zip.ErrFormat)
			}
			*dst = binary.LittleEndian.Uint64(field)
			field = field[8:]
			return nil
		}
		if uncompressed32 == math.MaxUint32 {
			if err := take(&rec.uncompressedSize); err != nil {
				return err
			}
		}
		if compressed32 == math.MaxUint32 {
			if err := take(&rec.compressedSize); err != nil {
				return err
			}
		}
		if offset32 == math.MaxUint32 {
			var offset uint64
			if err := take(&offset); err != nil {
				return err
			}
			rec.headerOffset = int64(offset)
		}
	}
	return nil
}

// locateZipCentralDirectory reads the end record (and the zip64 one when the
// classic fields are saturated) and checks that the directory lies inside
// the file.
func locateZipCentralDirectory(ra io.ReaderAt, size int64) (zipCentralDirectory, error) {
	var dir zipCentralDirectory
	endOffset, end, err := findZipDirectoryEnd(ra, size)
	if err != nil {
		return dir, err
	}
	dir.records = uint64(binary.LittleEndian.Uint16(end[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(end[12:]))
	dirOffset := uint64(binary.LittleEndian.Uint32(end[16:]))

	if dir.records == math.MaxUint16 || dirSize == math.MaxUint32 || dirOffset == math.MaxUint32 {
		z64Offset, found, err := findZip64DirectoryEnd(ra, endOffset)
		if err != nil {
			return dir, err
		}
		if found {
			var buf [zip64DirectoryEnd]byte
			if err := readFullAt(ra, buf[:], z64Offset); err != nil {
				return dir, err
			}
			if binary.LittleEndian.Uint32(buf[:]) != zip64DirectoryEndSig {
				return dir, fmt.Errorf("%w: bad zip64 end record signature", zip.ErrFormat)
			}
			dir.records = binary.LittleEndian.Uint64(buf[32:])
			dirSize = binary.LittleEndian.Uint64(buf[40:])
			dirOffset = binary.LittleEndian.Uint64(buf[48:])
			dir.zip64 = true
			endOffset = z64Offset
		}
	}
	if dirSize > math.MaxInt64 || dirOffset > math.MaxInt64 {
		return dir, fmt.Errorf("%w: impossible central directory size or offset", zip.ErrFormat)
	}
	// Data prepended to the archive (a self-extractor's stub) shifts every
	// offset; the zip reader infers the shift the same way.
	dir.baseOffset = endOffset - int64(dirSize) - int64(dirOffset)
	if dir.baseOffset > 0 && hasSignatureAt(ra, int64(dirOffset), zipCentralHeaderSignature) {
		dir.baseOffset = 0 // the declared size was wrong, not the offset
	}
	dir.start = dir.baseOffset + int64(dirOffset)
	dir.end = endOffset
	if dir.start < 0 || dir.start > dir.end {
		return dir, fmt.Errorf("%w: central directory offset %d outside the archive", zip.ErrFormat, dirOffset)
	}
	return dir, nil
}

// findZipDirectoryEnd returns the offset and bytes of the end-of-central-
// directory record. Searching backwards, a candidate counts only if its
// comment ends exactly at the end of the file and its directory could lie
// before it, so that signature bytes inside the archive comment are not taken
// for the record. If none does, the candidate nearest the end whose comment
// fits is taken: the zip reader and Info-ZIP accept bytes after the comment.
func findZipDirectoryEnd(ra io.ReaderAt, size int64) (int64, []byte, error) {
	fallback := -1
	var tail []byte
	var tailStart int64
	for _, tailLen := range []int64{zipEndSearchShortTail, zipEndSearchTail} {
		tailLen = min(tailLen, size)
		if tailLen < zipDirectoryEndLen {
			break
		}
		tail = make([]byte, tailLen)
		tailStart = size - tailLen
		if err := readFullAt(ra, tail, tailStart); err != nil {
			return 0, nil, err
		}
		fallback = -1
		for i := len(tail) - zipDirectoryEndLen; i >= 0; i-- {
			if binary.LittleEndian.Uint32(tail[i:]) != zipDirectoryEndSignature {
				continue
			}
			commentEnd := i + zipDirectoryEndLen + int(binary.LittleEndian.Uint16(tail[i+20:]))
			switch {
			case commentEnd == len(tail) && plausibleDirectoryEnd(tail[i:], tailStart+int64(i)):
				return tailStart + int64(i), tail[i : i+zipDirectoryEndLen], nil
			case commentEnd <= len(tail) && fallback < 0:
				fallback = i
			}
		}
		if tailLen == size {
			break
		}
	}
	if fallback >= 0 {
		return tailStart + int64(fallback), tail[fallback : fallback+zipDirectoryEndLen], nil
	}
	return 0, nil, fmt.Errorf("%w: no end of central directory record", zip.ErrFormat)
}

// plausibleDirectoryEnd reports whether the end record at offset could
// describe a directory that precedes it (saturated fields defer to zip64).
func plausibleDirectoryEnd(end []byte, offset int64) bool {
	dirSize := binary.LittleEndian.Uint32(end[12:])
	dirOffset := binary.LittleEndian.Uint32(end[16:])
	if dirSize == math.MaxUint32 || dirOffset == math.MaxUint32 || binary.LittleEndian.Uint16(end[10:]) == math.MaxUint16 {
		return true
	}
	return int64(dirSize)+int64(dirOffset) <= offset
}

// findZip64DirectoryEnd reads the zip64 locator just before the end record
// and returns the zip64 end record's offset, if there is a locator.
func findZip64DirectoryEnd(ra io.ReaderAt, endOffset int64) (int64, bool, error) {
	locatorOffset := endOffset - zip64LocatorLen
	if locatorOffset < 0 {
		return 0, false, nil
	}
	var buf [zip64LocatorLen]byte
	if err := readFullAt(ra, buf[:], locatorOffset); err != nil {
		return 0, false, err
	}
	if binary.LittleEndian.Uint32(buf[:]) != zip64LocatorSignature ||
		binary.LittleEndian.Uint32(buf[4:]) != 0 || binary.LittleEndian.Uint32(buf[16:]) != 1 {
		return 0, false, nil // not a (single-disk) zip64 archive
	}
	offset := binary.LittleEndian.Uint64(buf[8:])
	if offset > uint64(locatorOffset) || uint64(locatorOffset)-offset < zip64DirectoryEnd {
		return 0, false, fmt.Errorf("%w: zip64 end record offset %d outside the archive", zip.ErrFormat, offset)
	}
	return int64(offset), true, nil
}

// hasSignatureAt reports whether the 4 bytes at off are sig.
func hasSignatureAt(ra io.ReaderAt, off int64, sig uint32) bool {
	var buf [4]byte
	return readFullAt(ra, buf[:], off) == nil && binary.LittleEndian.Uint32(buf[:]) == sig
}

// readFullAt fills p from off; running into the end of the file is a format
// error, any other failure is the blob's.
func readFullAt(ra io.ReaderAt, p []byte, off int64) error {
	n, err := ra.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %d bytes at offset %d run past the end of the archive", zip.ErrFormat, len(p), off)
	}
	return err
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
	if e.rec.headerOffset < 0 {
		return 0, fmt.Errorf("%w: negative local header offset", zip.ErrFormat)
	}
	var buf [zipLocalHeaderLen]byte
	if err := readFullAt(e.ra, buf[:], e.rec.headerOffset); err != nil {
		return 0, err
	}
	if binary.LittleEndian.Uint32(buf[:]) != zipLocalHeaderSignature {
		return 0, fmt.Errorf("%w: bad local header signature at %d", zip.ErrFormat, e.rec.headerOffset)
	}
	nameLen := int64(binary.LittleEndian.Uint16(buf[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(buf[28:]))
	return e.rec.headerOffset + zipLocalHeaderLen + nameLen + extraLen, nil
}

// open decompresses the entry from its start behind a verifyingReader, as
// zip.File.Open does (directories included).
func (e *walkedEntry) open() (io.ReadCloser, error) {
	start, err := e.dataOffset()
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(e.rec.name, "/") {
		// Directories carry no data; some writers leave a method or a
		// compressed size on them, which the zip reader tolerates.
		if e.rec.uncompressedSize != 0 {
			return io.NopCloser(errorReader{zip.ErrFormat}), nil
		}
		return io.NopCloser(errorReader{io.EOF}), nil
	}
	if e.rec.compressedSize > math.MaxInt64 {
		return nil, fmt.Errorf("%w: impossible compressed size", zip.ErrFormat)
	}
	switch e.rec.method {
	case zipMethodStore, zipMethodDeflate, zipMethodZstd:
	default:
		return nil, zip.ErrAlgorithm
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
		decompressed = readerWithCloser{newZstdDecompressor(data), data}
	}
	v := &verifyingReader{rc: decompressed, hash: crc32.NewIEEE(), rec: &e.rec}
	if e.rec.flags&zipFlagDescriptor != 0 {
		v.descriptor = io.NewSectionReader(e.ra, start+int64(e.rec.compressedSize), zipDataDescriptorLen)
	}
	return v, nil
}

// verifyingReader checks what a decompressor yields against the central
// directory, with the zip reader's rules: more bytes than declared is
// zip.ErrFormat at once; at io.EOF, fewer is io.ErrUnexpectedEOF, and the
// CRC-32 must match (zip.ErrChecksum) — always when there is a data
// descriptor, whose CRC must match too, otherwise only when it is not 0.
type verifyingReader struct {
	rc         io.ReadCloser
	hash       hash.Hash32
	read       uint64
	rec        *zipCentralRecord
	descriptor io.Reader // where the data descriptor is, if the entry has one
	err        error     // sticky
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.hash.Write(p[:n])
	v.read += uint64(n)
	if v.read > v.rec.uncompressedSize {
		v.err = fmt.Errorf("%w: entry holds more than its declared %d bytes", zip.ErrFormat, v.rec.uncompressedSize)
		return 0, v.err
	}
	if err == nil {
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		err = v.verifyEnd()
	}
	v.err = err
	return n, err
}

// verifyEnd runs at the decompressor's io.EOF; it returns io.EOF if all holds.
func (v *verifyingReader) verifyEnd() error {
	if v.read != v.rec.uncompressedSize {
		return io.ErrUnexpectedEOF
	}
	if v.descriptor != nil {
		descriptorCRC, err := readDataDescriptorCRC(v.descriptor)
		if err != nil {
			return err
		}
		if descriptorCRC != v.rec.crc32 || v.hash.Sum32() != v.rec.crc32 {
			return zip.ErrChecksum
		}
		return io.EOF
	}
	if v.rec.crc32 != 0 && v.hash.Sum32() != v.rec.crc32 {
		return zip.ErrChecksum
	}
	return io.EOF
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// readDataDescriptorCRC reads the CRC-32 of a data descriptor, whose
// signature is optional. Its sizes are ignored: the central directory's are
// authoritative (and their width is ambiguous).
func readDataDescriptorCRC(r io.Reader) (uint32, error) {
	// Read as much as the zip reader does: CRC and both 32-bit sizes.
	var buf [zipDataDescriptorLen]byte
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return 0, descriptorReadError(err)
	}
	crcAt := 0
	if binary.LittleEndian.Uint32(buf[:]) == zipDataDescriptorSig {
		crcAt = 4
	}
	if _, err := io.ReadFull(r, buf[4:crcAt+12]); err != nil {
		return 0, descriptorReadError(err)
	}
	return binary.LittleEndian.Uint32(buf[crcAt:]), nil
}

// descriptorReadError: a descriptor cut by the end of the file is a
// truncated entry.
func descriptorReadError(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
