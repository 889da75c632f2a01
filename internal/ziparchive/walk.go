// Package ziparchive reads zip archives through an io.ReaderAt without
// holding their central directory: Walk streams its records, Validate reads
// them all, LocalDataOffset finds an entry's data. An Archive adds the
// lookup (Find), the servability check (Entry.Check), the verified entry
// stream (OpenEntry) and the seekable reader an entry is served from
// (EntryReader); zstd decoders come from a ZstdDecoders the caller lends.
// Errors about the bytes wrap ErrFormat (or ErrChecksum, ErrUnsupported); a
// failing ReaderAt's errors and the context's are returned as they are.
package ziparchive

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrFormat is what a malformed archive's errors wrap.
var ErrFormat = errors.New("ziparchive: not a valid zip archive")

// ErrTruncatedRecord (wrapping ErrFormat) is a central-directory record
// that runs past the end of the directory, into the end record or beyond.
// The zip reader reads on to the end of the file and may accept it, with
// end-record bytes in the record's name or extra field; the walk refuses it
// (FuzzWalk pins the difference).
var ErrTruncatedRecord = fmt.Errorf("%w: truncated central directory record", ErrFormat)

// Zip record signatures and fixed lengths (APPNOTE 4.3).
const (
	localHeaderSignature    = 0x04034b50
	CentralHeaderSignature  = 0x02014b50
	directoryEndSignature   = 0x06054b50
	zip64DirectoryEndSig    = 0x06064b50
	zip64LocatorSignature   = 0x07064b50
	DataDescriptorSignature = 0x08074b50

	LocalHeaderLen    = 30
	CentralHeaderLen  = 46
	directoryEndLen   = 22
	zip64LocatorLen   = 20
	zip64DirectoryEnd = 56
	// DataDescriptorLen is the classic descriptor with its signature; only
	// its CRC is read, which sits at the same place in the zip64 form.
	DataDescriptorLen = 16

	ExtraZip64     = 0x0001
	FlagDescriptor = 0x8

	// endSearchShortTail is looked at first: almost every archive has no
	// (or a short) comment.
	endSearchShortTail = 1024
	// endSearchTail holds the end record and the longest comment.
	endSearchTail = math.MaxUint16 + directoryEndLen
	// WalkBufferSize holds any one name or extra field (at most 65,535
	// bytes each), so a record is parsed from the buffer without copying.
	WalkBufferSize = 64 << 10
	// walkContextEvery is how many records pass between context checks.
	walkContextEvery = 4096
)

// Directory is where the central directory lies and what the end
// record says about it.
type Directory struct {
	Start, End int64  // byte range holding the records
	BaseOffset int64  // added to every local header offset (prepended data)
	Records    uint64 // how many records the end record says there are
	// Zip64 is set when Records came from the zip64 end record; otherwise
	// only its low 16 bits are trustworthy (old writers wrap the count).
	Zip64 bool
}

// directoryWalk reads central-directory records one at a time,
// parsing each in place from a window of the directory (one ReadAt per
// window, no copy of the record).
type directoryWalk struct {
	dir  Directory
	ra   io.ReaderAt
	buf  []byte
	r, w int    // the window is buf[r:w]
	at   int64  // the archive offset of buf[w]: where the next read starts
	read uint64 // records read so far
	rec  Record
	// unparsed is why the record after the last one read could not be
	// parsed, if that ended the records (see next).
	unparsed error
}

func newDirectoryWalk(ra io.ReaderAt, size int64) (*directoryWalk, error) {
	dir, err := LocateDirectory(ra, size)
	if err != nil {
		return nil, err
	}
	// A small directory needs no bigger buffer; a record too long for the
	// buffer grows it (to at most a header, a name and an extra field).
	bufSize := int(min(dir.End-dir.Start, WalkBufferSize))
	return &directoryWalk{dir: dir, ra: ra, buf: make([]byte, max(bufSize, CentralHeaderLen)), at: dir.Start}, nil
}

// fill makes the window hold at least n bytes, unless the directory ends
// first (then io.EOF).
func (w *directoryWalk) fill(n int) error {
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
		want := min(int64(len(w.buf)-w.w), w.dir.End-w.at)
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
func (w *directoryWalk) skip(n int) {
	if beyond := w.r + n - w.w; beyond > 0 {
		w.at += int64(beyond)
		w.r, w.w = 0, 0
		return
	}
	w.r += n
}

// next reads the next record; its nameBytes are valid until the next call.
// io.EOF means there are no more records: the directory ended, the next
// bytes are not a central-directory header, or they are one that cannot be
// parsed (see applyZip64Extra): as the zip reader, which then relies on
// the count; checkCount reports why if the count disagrees.
func (w *directoryWalk) next(ctx context.Context) (rec Record, err error) {
	if w.read%walkContextEvery == walkContextEvery-1 {
		if err := ctx.Err(); err != nil {
			return rec, err
		}
	}
	if err := w.fill(4); err != nil || binary.LittleEndian.Uint32(w.buf[w.r:]) != CentralHeaderSignature {
		if err != nil && !errors.Is(err, io.EOF) {
			return rec, err
		}
		return rec, io.EOF
	}
	if err := w.fill(CentralHeaderLen); err != nil {
		return rec, w.truncated(err)
	}
	fixed := w.buf[w.r : w.r+CentralHeaderLen]
	rec.Flags = binary.LittleEndian.Uint16(fixed[8:])
	rec.Method = binary.LittleEndian.Uint16(fixed[10:])
	rec.CRC32 = binary.LittleEndian.Uint32(fixed[16:])
	compressed32 := binary.LittleEndian.Uint32(fixed[20:])
	uncompressed32 := binary.LittleEndian.Uint32(fixed[24:])
	nameLen := int(binary.LittleEndian.Uint16(fixed[28:]))
	extraLen := int(binary.LittleEndian.Uint16(fixed[30:]))
	commentLen := int(binary.LittleEndian.Uint16(fixed[32:]))
	rec.ExternalAttrs = binary.LittleEndian.Uint32(fixed[38:])
	offset32 := binary.LittleEndian.Uint32(fixed[42:])
	rec.CompressedSize, rec.UncompressedSize = uint64(compressed32), uint64(uncompressed32)
	rec.HeaderOffset = int64(offset32)

	// The name and the extra field must be there; the comment is skipped.
	if err := w.fill(CentralHeaderLen + nameLen + extraLen); err != nil {
		return rec, w.truncated(err)
	}
	nameStart := w.r + CentralHeaderLen
	rec.Name = w.buf[nameStart : nameStart+nameLen : nameStart+nameLen]
	extra := w.buf[nameStart+nameLen : nameStart+nameLen+extraLen]
	if compressed32 == math.MaxUint32 || uncompressed32 == math.MaxUint32 || offset32 == math.MaxUint32 {
		if err := applyZip64Extra(&rec, extra, compressed32, uncompressed32, offset32); err != nil {
			w.unparsed = fmt.Errorf("central directory record %d: %w", w.read, err)
			return rec, io.EOF
		}
	}
	total := CentralHeaderLen + nameLen + extraLen + commentLen
	if int64(w.r+total-w.w) > w.dir.End-w.at {
		return rec, w.truncated(io.EOF) // the comment runs past the directory
	}
	w.skip(total)
	w.read++
	rec.HeaderOffset += w.dir.BaseOffset
	return rec, nil
}

// truncated describes a record cut short; a storage failure stays as it is
// for Archive.classify to find.
func (w *directoryWalk) truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: central directory record %d", ErrTruncatedRecord, w.read)
	}
	return err
}

// checkCount compares, once every record has been read, their number with
// the end record's.
func (w *directoryWalk) checkCount() error {
	want, got := w.dir.Records, w.read
	if !w.dir.Zip64 {
		want, got = uint64(uint16(want)), uint64(uint16(got))
	}
	if want != got {
		if w.unparsed != nil {
			return w.unparsed
		}
		return fmt.Errorf("%w: the end record declares %d entries, the central directory holds %d",
			ErrFormat, w.dir.Records, w.read)
	}
	return nil
}

// applyZip64Extra takes from the zip64 extra fields the 64-bit values of the
// 32-bit fields that are saturated, in the order APPNOTE 4.5.3 gives them,
// each from the first zip64 field, as archive/zip (and so GitLab's
// Workhorse) does. A saturated compressed size or local-header offset that
// no zip64 field replaces makes the record unparsable, as there; a
// saturated uncompressed size may be real (an old writer's 4 GiB − 1
// entry) and stays.
func applyZip64Extra(rec *Record, extra []byte, compressed32, uncompressed32, offset32 uint32) error {
	needUncompressed := uncompressed32 == math.MaxUint32
	needCompressed := compressed32 == math.MaxUint32
	needOffset := offset32 == math.MaxUint32
	for len(extra) >= 4 {
		tag := binary.LittleEndian.Uint16(extra)
		fieldLen := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if fieldLen > len(extra) {
			break // a malformed tail is ignored, as the zip reader does
		}
		field := extra[:fieldLen]
		extra = extra[fieldLen:]
		if tag != ExtraZip64 {
			continue
		}
		take := func(need *bool) (uint64, error) {
			*need = false
			if len(field) < 8 {
				return 0, fmt.Errorf("%w: zip64 extra field too short", ErrFormat)
			}
			v := binary.LittleEndian.Uint64(field)
			field = field[8:]
			return v, nil
		}
		var err error
		if needUncompressed {
			if rec.UncompressedSize, err = take(&needUncompressed); err != nil {
				return err
			}
		}
		if needCompressed {
			if rec.CompressedSize, err = take(&needCompressed); err != nil {
				return err
			}
		}
		if needOffset {
			var offset uint64
			if offset, err = take(&needOffset); err != nil {
				return err
			}
			rec.HeaderOffset = int64(offset)
		}
	}
	if needCompressed || needOffset {
		return fmt.Errorf("%w: a saturated compressed size or local header offset without a zip64 extra field", ErrFormat)
	}
	return nil
}

// LocateDirectory reads the end record (and the zip64 one when the
// classic fields are saturated) and checks that the directory lies inside
// the file.
func LocateDirectory(ra io.ReaderAt, size int64) (Directory, error) {
	var dir Directory
	endOffset, end, err := findDirectoryEnd(ra, size)
	if err != nil {
		return dir, err
	}
	dir.Records = uint64(binary.LittleEndian.Uint16(end[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(end[12:]))
	dirOffset := uint64(binary.LittleEndian.Uint32(end[16:]))

	if dir.Records == math.MaxUint16 || dirSize == math.MaxUint32 || dirOffset == math.MaxUint32 {
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
				return dir, fmt.Errorf("%w: bad zip64 end record signature", ErrFormat)
			}
			dir.Records = binary.LittleEndian.Uint64(buf[32:])
			dirSize = binary.LittleEndian.Uint64(buf[40:])
			dirOffset = binary.LittleEndian.Uint64(buf[48:])
			dir.Zip64 = true
			endOffset = z64Offset
		}
	}
	if dirSize > math.MaxInt64 || dirOffset > math.MaxInt64 {
		return dir, fmt.Errorf("%w: impossible central directory size or offset", ErrFormat)
	}
	// Data prepended to the archive (a self-extractor's stub) shifts every
	// offset; the zip reader infers the shift the same way.
	dir.BaseOffset = endOffset - int64(dirSize) - int64(dirOffset)
	if dir.BaseOffset > 0 && hasSignatureAt(ra, int64(dirOffset), CentralHeaderSignature) {
		dir.BaseOffset = 0 // the declared size was wrong, not the offset
	}
	dir.Start = dir.BaseOffset + int64(dirOffset)
	dir.End = endOffset
	if dir.Start < 0 || dir.Start > dir.End {
		return dir, fmt.Errorf("%w: central directory offset %d outside the archive", ErrFormat, dirOffset)
	}
	return dir, nil
}

// findDirectoryEnd returns the offset and bytes of the end-of-central-
// directory record. Searching backwards, a candidate counts only if its
// comment ends exactly at the end of the file and its directory could lie
// before it, so that signature bytes inside the archive comment are not taken
// for the record. If none does, the candidate nearest the end whose comment
// fits is taken: the zip reader and Info-ZIP accept bytes after the comment.
// But the fallback is only taken when the candidate nearest the end has a
// comment that fits: the zip reader (and so GitLab Workhorse) stops at that
// candidate and refuses the archive otherwise, and a guess that the reader
// would not make is no archive. (A record whose comment ends exactly at the
// end of the file is taken whatever lies after it, in its comment.)
func findDirectoryEnd(ra io.ReaderAt, size int64) (int64, []byte, error) {
	fallback := -1
	nearestOverruns := false
	var tail []byte
	var tailStart int64
	for _, tailLen := range []int64{endSearchShortTail, endSearchTail} {
		tailLen = min(tailLen, size)
		if tailLen < directoryEndLen {
			break
		}
		tail = make([]byte, tailLen)
		tailStart = size - tailLen
		if err := readFullAt(ra, tail, tailStart); err != nil {
			return 0, nil, err
		}
		fallback, nearestOverruns = -1, false
		seen := false
		for i := len(tail) - directoryEndLen; i >= 0; i-- {
			if binary.LittleEndian.Uint32(tail[i:]) != directoryEndSignature {
				continue
			}
			commentEnd := i + directoryEndLen + int(binary.LittleEndian.Uint16(tail[i+20:]))
			if !seen {
				nearestOverruns, seen = commentEnd > len(tail), true
			}
			switch {
			case commentEnd == len(tail) && plausibleDirectoryEnd(tail[i:], tailStart+int64(i)):
				return tailStart + int64(i), tail[i : i+directoryEndLen], nil
			case commentEnd <= len(tail) && fallback < 0:
				fallback = i
			}
		}
		if tailLen == size {
			break
		}
	}
	if fallback >= 0 && !nearestOverruns {
		return tailStart + int64(fallback), tail[fallback : fallback+directoryEndLen], nil
	}
	return 0, nil, fmt.Errorf("%w: no end of central directory record", ErrFormat)
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
		return 0, false, fmt.Errorf("%w: zip64 end record offset %d outside the archive", ErrFormat, offset)
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
		return fmt.Errorf("%w: %d bytes at offset %d run past the end of the archive", ErrFormat, len(p), off)
	}
	return err
}

// Record is one central-directory record as the walk reads it.
type Record struct {
	// Name is the entry's name, raw. It aliases the walk's buffer: it is
	// valid only until the visitor returns.
	Name             []byte
	Flags            uint16
	Method           uint16
	CRC32            uint32
	CompressedSize   uint64
	UncompressedSize uint64
	ExternalAttrs    uint32
	HeaderOffset     int64 // with Directory.BaseOffset applied
}

// Walk streams the central directory of the size bytes of ra: onDir (if
// not nil) learns where it lies, then visit sees each record in order,
// until visit says stop (the rest, and the record count, go unchecked) or
// the records end (their count must then match the end record's). Its
// memory is bounded by its window (64 KiB, more for a record longer than
// that), whatever the number of entries. visit's errors are returned as
// they are.
func Walk(ctx context.Context, ra io.ReaderAt, size int64, onDir func(Directory), visit func(*Record) (stop bool, err error)) error {
	walk, err := newDirectoryWalk(ra, size)
	if err != nil {
		return err
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
			return err
		}
		walk.rec = rec // visited in place: a pointer to a local would escape
		stop, err := visit(&walk.rec)
		if err != nil || stop {
			return err
		}
	}
	return walk.checkCount()
}

// Validate reads every record of the central directory and checks their
// count: nil, or an error wrapping ErrFormat, or the ReaderAt's or the
// context's. It never reads entry data, so an archive of overlapping
// entries (a zip bomb) costs what its directory costs.
func Validate(ctx context.Context, ra io.ReaderAt, size int64) error {
	return Walk(ctx, ra, size, nil, func(*Record) (bool, error) { return false, nil })
}

// LocalDataOffset reads the local header at headerOffset: its own name and
// extra lengths, not the central directory's, say where the data starts.
func LocalDataOffset(ra io.ReaderAt, headerOffset int64) (int64, error) {
	var buf [LocalHeaderLen]byte
	return localDataOffset(ra, headerOffset, &buf)
}

// localDataOffset is LocalDataOffset reading into buf, which a caller that
// lives on the heap anyway holds (a local one escapes to the ReaderAt).
func localDataOffset(ra io.ReaderAt, headerOffset int64, buf *[LocalHeaderLen]byte) (int64, error) {
	if headerOffset < 0 {
		return 0, fmt.Errorf("%w: negative local header offset", ErrFormat)
	}
	if err := readFullAt(ra, buf[:], headerOffset); err != nil {
		return 0, err
	}
	if binary.LittleEndian.Uint32(buf[:]) != localHeaderSignature {
		return 0, fmt.Errorf("%w: bad local header signature at %d", ErrFormat, headerOffset)
	}
	nameLen := int64(binary.LittleEndian.Uint16(buf[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(buf[28:]))
	return headerOffset + LocalHeaderLen + nameLen + extraLen, nil
}
