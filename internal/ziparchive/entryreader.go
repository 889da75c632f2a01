package ziparchive

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"sync/atomic"
)

// ErrClosed is a read of a closed EntryReader.
var ErrClosed = errors.New("ziparchive: entry reader closed")

const (
	// keepVerifiedLimit: an entry up to this size is kept in memory once
	// VerifyWhole has read it, and served from there, not decompressed a
	// second time.
	keepVerifiedLimit = 64 << 10
	// maxEntryDiscard bounds the decompressed bytes one reader may skip
	// (seeks forward, reopened in any order) before it fails.
	maxEntryDiscard = 16 << 20
	// MaxEntryReopens caps how often one reader may restart decompression
	// (backward seeks, e.g. a multi-range request in descending order), so
	// that a crafted Range header cannot make it inflate an entry hundreds
	// of times.
	MaxEntryReopens = 16
)

// EntryReader is the io.ReadSeeker an entry is served from (by
// http.ServeContent). Seek is free (it only moves the position); the next
// Read reopens the entry lazily when the position moved backwards and
// discards forward when it moved ahead (stored entries are read directly at
// the position).
//
// Its crucial duty: ServeContent copies exactly Content-Length bytes, yet a
// CRC mismatch or excess data show only on a read after the last byte. So
// before handing out the final bytes it reads once more, and if that shows
// anything but a clean io.EOF it withholds them and fails: the response
// ends short of Content-Length and Close reports the failure.
//
// A mutex guards it: ServeContent's multi-range goroutine may still be
// reading after ServeContent returned. The memory VerifyWhole keeps goes
// back to its BufferPool at Close, under that mutex: a read after Close
// fails with ErrClosed and never sees it.
type EntryReader struct {
	ctx     context.Context // this reader's reads are this request's
	archive *Archive
	entry   *Entry
	size    int64
	zstd    ZstdDecoders
	buffers *BufferPool
	start   int64 // where the entry's data starts (its local header read once)
	// localHeader is where NewEntryReader reads it (a local array would
	// escape to the ReaderAt: one allocation more).
	localHeader [LocalHeaderLen]byte

	mu      sync.Mutex
	pos     int64 // where the next Read starts
	stream  io.Reader
	closer  io.Closer // the decompressor behind stream, if any
	at      int64     // position of stream; valid while stream != nil
	reopens int
	// discarded counts the decompressed bytes skipped to reach positions
	// (maxEntryDiscard).
	discarded int64
	failed    error // sticky data failure
	closed    bool
	// head caches the entry's first bytes once read by Head or VerifyWhole,
	// so that the response starts without decompressing them again.
	head []byte
	// kept is the pooled buffer head is in after VerifyWhole, given back
	// at Close.
	kept *[]byte
}

// NewEntryReader opens e (found in a) for reading under ctx, which governs
// all its reads; zstd lends zstd entries their decoder (nil: their own),
// buffers the memory of VerifyWhole and CopyN (nil: their own).
// Its errors are classified (see Archive); an entry whose data would lie
// past the end of the archive, or whose local header is bad, fails here.
func (a *Archive) NewEntryReader(ctx context.Context, e *Entry, zstd ZstdDecoders, buffers *BufferPool) (*EntryReader, error) {
	er := &EntryReader{ctx: ctx, archive: a, entry: e, size: int64(e.UncompressedSize), zstd: zstd, buffers: buffers}
	start, err := er.dataOffset()
	if err != nil {
		return nil, a.classify(ctx, fmt.Errorf("entry %q: %w", e.Name, err))
	}
	// The data must lie inside the archive.
	if !e.IsDir() && (start > a.size || e.CompressedSize > uint64(a.size-start)) {
		return nil, fmt.Errorf("%w: entry %q: data runs past the end of the archive", ErrFormat, e.Name)
	}
	er.start = start
	if er.readsInPlace() {
		return er, nil // VerifyWhole reads it; a Read before opens it
	}
	// Open once now so that a failure to open the data (the storage's,
	// a decoder's) is an error before headers.
	if err := er.openAt(0); err != nil {
		return nil, err
	}
	er.reopens = 0
	return er, nil
}

// readsInPlace: a small stored entry is read by VerifyWhole straight into
// the memory that keeps it, with one ReadAt (one request on object storage,
// as a range read), and checked there: no stream, no decoder.
func (er *EntryReader) readsInPlace() bool {
	e := er.entry
	return e.Method == MethodStore && !e.IsDir() && er.size <= keepVerifiedLimit && e.CompressedSize == e.UncompressedSize
}

// dataOffset is where the entry's data starts: from its local header, read
// and checked here or, for an entry from an Index, by an earlier reader.
func (er *EntryReader) dataOffset() (int64, error) {
	e := er.entry
	if e.localLen != nil {
		if n := atomic.LoadUint32(e.localLen); n != 0 {
			return e.HeaderOffset + int64(n), nil
		}
	}
	start, err := localDataOffset(er.archive, e.HeaderOffset, &er.localHeader)
	if err == nil && e.localLen != nil {
		atomic.StoreUint32(e.localLen, uint32(start-e.HeaderOffset))
	}
	return start, err
}

// Size is the entry's declared uncompressed size.
func (er *EntryReader) Size() int64 { return er.size }

// openAt positions a fresh stream at off: directly for stored entries when
// off > 0, else by decompressing from the start (discarding happens in Read).
func (er *EntryReader) openAt(off int64) error {
	er.closeStream()
	if er.entry.Method != MethodStore {
		// Only restarting decompression costs; stored data is read in place.
		if er.reopens >= MaxEntryReopens {
			return fmt.Errorf("ziparchive: entry %q reopened more than %d times", er.entry.Name, MaxEntryReopens)
		}
		er.reopens++
	}
	if er.entry.Method == MethodStore && off > 0 {
		data, err := er.archive.section(er.start+off, er.size-off)
		if err != nil {
			return er.archive.classify(er.ctx, fmt.Errorf("entry %q: %w", er.entry.Name, err))
		}
		er.stream, er.closer, er.at = data, data, off
		return nil
	}
	rc, err := er.archive.openEntryAt(er.ctx, er.entry, er.start, er.zstd)
	if err != nil {
		return er.archive.classify(er.ctx, fmt.Errorf("entry %q: %w", er.entry.Name, err))
	}
	er.stream, er.closer, er.at = rc, rc, 0
	return nil
}

func (er *EntryReader) closeStream() {
	if er.closer != nil {
		_ = er.closer.Close()
	}
	er.stream, er.closer, er.at = nil, nil, 0
}

// Seek moves the position; it never reads. SeekEnd answers the declared
// size, which is how ServeContent learns Content-Length.
func (er *EntryReader) Seek(offset int64, whence int) (int64, error) {
	er.mu.Lock()
	defer er.mu.Unlock()
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = er.pos + offset
	case io.SeekEnd:
		abs = er.size + offset
	default:
		return 0, errors.New("ziparchive: entry reader: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("ziparchive: entry reader: negative position")
	}
	er.pos = abs
	return abs, nil
}

// Read reads at the current position; see the type's comment for how the
// final bytes are withheld until the entry's end has been verified.
func (er *EntryReader) Read(p []byte) (int, error) {
	er.mu.Lock()
	defer er.mu.Unlock()
	if er.closed {
		return 0, ErrClosed
	}
	if er.failed != nil {
		return 0, er.failed
	}
	if er.pos >= er.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if er.pos < int64(len(er.head)) {
		// The head was read (and, if it is the whole entry, verified)
		// before.
		n := copy(p, er.head[er.pos:])
		er.pos += int64(n)
		return n, nil
	}
	if err := er.ctx.Err(); err != nil {
		return 0, er.fail(err)
	}
	if err := er.seekStream(); err != nil {
		return 0, er.fail(err)
	}
	if remaining := er.size - er.pos; int64(len(p)) > remaining {
		p = p[:remaining]
	}
	n, err := er.stream.Read(p)
	er.at += int64(n)
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		return 0, er.fail(err) // withhold n: they may be the damaged bytes
	case errors.Is(err, io.EOF) && er.at < er.size:
		return 0, er.fail(io.ErrUnexpectedEOF)
	case er.at == er.size && err == nil:
		// These are the final bytes: hand them out only once the stream has
		// ended cleanly, which is when CRC and size get checked.
		if err := er.expectEnd(); err != nil {
			return 0, er.fail(err)
		}
	}
	er.pos = er.at
	return n, nil
}

// seekStream makes the stream's position equal er.pos: reopening when it is
// behind, discarding decompressed bytes when it is ahead.
func (er *EntryReader) seekStream() error {
	if er.stream == nil || er.at > er.pos || (er.entry.Method == MethodStore && er.at != er.pos) {
		if err := er.openAt(er.pos); err != nil {
			return err
		}
	}
	if skip := er.pos - er.at; skip > 0 {
		if er.discarded += skip; er.discarded > maxEntryDiscard {
			return fmt.Errorf("ziparchive: entry %q: ranges would skip more than %d decompressed bytes", er.entry.Name, maxEntryDiscard)
		}
		n, err := io.CopyN(io.Discard, er.stream, skip)
		er.at += n
		if err != nil {
			return fmt.Errorf("ziparchive: skipping to %d in entry %q: %w", er.pos, er.entry.Name, err)
		}
	}
	return nil
}

// expectEnd reads past the declared end; only (0, io.EOF) is a clean end.
func (er *EntryReader) expectEnd() error {
	var probe [1]byte
	for range 100 {
		n, err := er.stream.Read(probe[:])
		switch {
		case n > 0:
			return fmt.Errorf("%w: entry %q holds more data than its declared %d bytes", ErrFormat, er.entry.Name, er.size)
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// VerifyWhole reads the whole entry, which checks its CRC, its size and its
// data; a small entry is kept for the reads that follow (in memory of the
// reader's BufferPool until Close), a larger one is decompressed again as
// it is read. Its errors are classified.
func (er *EntryReader) VerifyWhole() error {
	er.mu.Lock()
	defer er.mu.Unlock()
	if er.closed {
		return ErrClosed
	}
	er.releaseKept()
	var kept *[]byte
	var err error
	if er.size <= keepVerifiedLimit {
		inPlace := er.readsInPlace()
		var p []byte
		if n := er.size + er.inPlaceTail(); n > 0 {
			kept = er.buffers.get(int(n))
			p = *kept
		}
		if inPlace {
			err = er.readInPlace(p)
		} else {
			err = er.readKept(p)
		}
	} else if err = er.seekStream(); err == nil {
		var n int64
		n, err = io.Copy(io.Discard, er.stream)
		if err == nil && n != er.size {
			err = io.ErrUnexpectedEOF
		}
	}
	// The next Read starts afresh (it does not count as a reopen).
	er.closeStream()
	er.reopens = 0
	if err != nil {
		er.buffers.put(kept)
		return er.archive.classify(er.ctx, fmt.Errorf("entry %q: %w", er.entry.Name, err))
	}
	if kept != nil {
		er.head, er.kept = (*kept)[:er.size], kept
	}
	return nil
}

// readKept reads the whole entry, exactly len(p) bytes, into p and sees its
// clean end (which checks CRC and size).
func (er *EntryReader) readKept(p []byte) error {
	if err := er.seekStream(); err != nil {
		return err
	}
	if _, err := io.ReadFull(er.stream, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // a non-empty entry with no data
		}
		return err
	}
	return er.expectEnd()
}

// inPlaceTail is how many bytes past its data VerifyWhole reads of an
// entry read in place: its data descriptor, in the same ReadAt.
func (er *EntryReader) inPlaceTail() int64 {
	if er.readsInPlace() && er.entry.Flags&FlagDescriptor != 0 {
		return DataDescriptorLen
	}
	return 0
}

// readInPlace reads a stored entry (readsInPlace) into p, its data and
// then its data descriptor if it has one (inPlaceTail), with one ReadAt,
// and checks it as the stream's verifyingReader would at its end.
func (er *EntryReader) readInPlace(p []byte) error {
	if err := er.ctx.Err(); err != nil {
		return err
	}
	n, err := er.archive.ReadAt(p, er.start)
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		return err
	case n < int(er.size):
		return io.ErrUnexpectedEOF
	}
	// A descriptor may be shorter than DataDescriptorLen, and the archive
	// end (io.EOF) right after it.
	e := er.entry
	sum := crc32.ChecksumIEEE(p[:er.size])
	hasDescriptor := e.Flags&FlagDescriptor != 0
	var descriptorCRC uint32
	if hasDescriptor {
		if descriptorCRC, err = parseDataDescriptorCRC(p[er.size:n]); err != nil {
			return err
		}
	}
	return checkSum(sum, e.CRC32, hasDescriptor, descriptorCRC)
}

// releaseKept gives the kept entry back to the pool. er.mu must be held.
func (er *EntryReader) releaseKept() {
	if er.kept == nil {
		return
	}
	er.head = nil
	er.buffers.put(er.kept)
	er.kept = nil
}

// Head reads up to n bytes from the start and keeps them for the reads
// that follow (what content sniffing looks at). The bytes are valid until
// Close (they may be VerifyWhole's, which Close gives back). Its errors are
// classified.
func (er *EntryReader) Head(n int64) ([]byte, error) {
	want := min(er.size, n)
	if int64(len(er.head)) >= want {
		return er.head[:want], nil // verified and kept already
	}
	buf := make([]byte, want)
	got, err := io.ReadFull(er, buf)
	if err != nil {
		er.mu.Lock()
		defer er.mu.Unlock()
		if er.failed != nil {
			err = er.failed
		}
		return nil, er.archive.classify(er.ctx, fmt.Errorf("entry %q: %w", er.entry.Name, err))
	}
	er.mu.Lock()
	defer er.mu.Unlock()
	er.head = buf[:got]
	er.pos = 0
	return er.head, nil
}

// CopyN copies n bytes from the position to w and returns what
// io.CopyN(w, er, n) would (io.EOF when the entry ends first). What
// VerifyWhole or Head keeps goes to w straight from memory, under the
// reader's mutex; the rest is Read through a buffer of the reader's
// BufferPool, so that its final bytes are withheld as Read withholds them.
func (er *EntryReader) CopyN(w io.Writer, n int64) (int64, error) {
	written, err := er.copyHead(w, n)
	if err != nil || written == n {
		return written, err
	}
	buf := er.buffers.get(int(min(n-written, copyBufferSize)))
	defer er.buffers.put(buf)
	for written < n {
		p := (*buf)[:min(int64(len(*buf)), n-written)]
		nr, rerr := er.Read(p)
		if nr > 0 {
			nw, werr := w.Write(p[:nr])
			written += int64(nw)
			if werr == nil && nw < nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return written, werr
			}
		}
		if rerr != nil {
			return written, rerr
		}
	}
	return written, nil
}

// copyHead writes to w what of the next n bytes the reader holds in head.
func (er *EntryReader) copyHead(w io.Writer, n int64) (int64, error) {
	er.mu.Lock()
	defer er.mu.Unlock()
	switch {
	case n <= 0:
		return 0, nil
	case er.closed:
		return 0, ErrClosed
	case er.failed != nil:
		return 0, er.failed
	case er.pos >= er.size:
		return 0, io.EOF
	case er.pos >= int64(len(er.head)):
		return 0, nil
	}
	p := er.head[er.pos:]
	if int64(len(p)) > n {
		p = p[:n]
	}
	nw, err := w.Write(p)
	er.pos += int64(nw)
	if err == nil && nw < len(p) {
		err = io.ErrShortWrite
	}
	return int64(nw), err
}

func (er *EntryReader) fail(err error) error {
	er.failed = err
	er.closeStream()
	return err
}

// Close releases the stream and reports the data failure, if any, seen
// while reading. It may be called more than once.
func (er *EntryReader) Close() error {
	er.mu.Lock()
	defer er.mu.Unlock()
	er.closed = true
	er.closeStream()
	er.releaseKept()
	return er.failed
}
