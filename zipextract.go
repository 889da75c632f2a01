package jobartifacts

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// contentTypeRule says how a route picks a single file's Content-Type, as
// GitLab's Workhorse does for each single-file route.
type contentTypeRule int

const (
	// contentTypeByExtension (route 3): mime.TypeByExtension, falling back to
	// application/octet-stream.
	contentTypeByExtension contentTypeRule = iota
	// contentTypeSniffed (route 4): http.DetectContentType of the first 512
	// bytes; any text/* becomes "text/plain; charset=utf-8"; SVG is
	// "image/svg+xml".
	contentTypeSniffed
)

// entryOptions tunes serveArchiveEntry.
type entryOptions struct {
	contentType contentTypeRule
	// maxEntrySize refuses entries whose uncompressed size is larger, with
	// ErrTooLarge before any header. 0 = no limit.
	maxEntrySize int64
	// index, if not nil, finds entries by the archive's cached index, under
	// indexKey (archiveCacheKey).
	index    *archiveIndexCache
	indexKey string
	// zstd, if not nil, lends zstd entries their decoders.
	zstd *zstdDecoderPool
}

// errStreamAborted reports that an entry's data proved bad (CRC mismatch,
// more or less data than declared, corrupt compressed data, request done)
// after response headers may have been sent. The caller must abort the
// response (panic(http.ErrAbortHandler)) so the client sees a cut transfer.
var errStreamAborted = errors.New("jobartifacts: archive entry stream aborted")

// Zip compression methods served; everything else is ErrInvalidArchive.
const (
	zipMethodStore   = 0
	zipMethodDeflate = 8
	zipMethodZstd    = 93 // zstd as APPNOTE 6.3.7 numbers it
)

const (
	// zipFlagEncrypted is general-purpose bit 0. Go's readers ignore it and
	// would hand out ciphertext or fail half-way.
	zipFlagEncrypted = 0x1
	// flateInputBufferSize feeds klauspost flate a *bufio.Reader (its fast
	// path) and makes each blob ReadAt a reasonable size for object storage.
	flateInputBufferSize = 64 << 10
	// zstdMaxWindow bounds the memory a zstd entry can make us allocate; 32 MiB
	// covers every zstd level short of --long/--ultra.
	zstdMaxWindow = 32 << 20
	// sniffLen is how much http.DetectContentType looks at.
	sniffLen = 512
	// verifyBeforeHeadersLimit: an entry up to this size is read and
	// checked (CRC, sizes, data) before any header, so that a damaged one is
	// a clean 422, never a cut transfer. Larger ones are checked as they
	// stream (see entryReader and unverifiedEntryWriter).
	verifyBeforeHeadersLimit = 4 << 20
	// keepVerifiedLimit: an entry up to this size is kept in memory once
	// verified and served from there, not decompressed a second time.
	keepVerifiedLimit = 64 << 10
	// Most bytes one compressed byte can stand for: deflate's longest match
	// (258 bytes) in a 2-bit code is the 1032:1 limit; a zstd RLE block of
	// 4 bytes yields at most 128 KiB. The slack covers headers and a last
	// short block.
	maxDeflateExpansion = 1032
	maxZstdExpansion    = 32 << 10
	expansionSlack      = 128 << 10
	// maxCompressedRangeEntry: Range is honoured on a compressed entry up to
	// this size; a larger one is always sent whole (200, Accept-Ranges:
	// none), as RFC 9110 allows and as GitLab does for every entry, so that
	// a request never makes us inflate much more than it is sent (a range
	// at the end of a 1 GiB entry of zeros would inflate it all for one
	// byte). Stored entries are read in place: any range is cheap.
	maxCompressedRangeEntry = 8 << 20
	// maxEntryDiscard bounds the decompressed bytes one request may make us
	// skip (ranges, reopened in any order) before it is cut.
	maxEntryDiscard = 2 * maxCompressedRangeEntry
	// maxEntryReopens caps how often one request may restart decompression
	// (backward seeks, e.g. a multi-range request in descending order), so a
	// crafted Range header cannot make us inflate an entry hundreds of times.
	maxEntryReopens = 16
)

// archiveEntry is an entry found by an entryFinder: what serveArchiveEntry
// needs to check it and stream it, independent of how it was found.
type archiveEntry struct {
	name             string
	method           uint16
	flags            uint16
	compressedSize   uint64
	uncompressedSize uint64
	// dataOffset locates the compressed data; found lazily by some finders.
	dataOffset func() (int64, error)
	// open returns the decompressed stream from its start. It verifies the
	// CRC and the declared size when it reaches the end (on the read that
	// returns io.EOF, or the one asking for more than declared).
	// zstd entries take a decoder from pool (nil: a decoder of their own),
	// waiting under ctx when all are in use.
	open func(ctx context.Context, pool *zstdDecoderPool) (io.ReadCloser, error)
}

// entryFinder finds the entry named name (exact bytes; the first in
// central-directory order wins) in the zip archive of ra, or returns an error
// wrapping ErrNotFound or ErrInvalidArchive. It is the one seam between "find
// entry N in archive A" and serving it, so that a cached name index or a lean
// central-directory walk can replace findZipEntry without touching callers.
type entryFinder func(ctx context.Context, ra io.ReaderAt, size int64, name string) (*archiveEntry, error)

// serveArchiveEntry serves the entry whose name equals name byte-for-byte, of
// the zip archive in blob.
//
// Before writing anything it returns an error for the caller to answer:
// wrapping ErrNotFound (no such entry), ErrInvalidArchive (archive unreadable,
// entry encrypted, unsupported method, inconsistent sizes) or ErrTooLarge
// (over opts.maxEntrySize); other errors come from the blob. Once headers may
// have been sent it returns an error wrapping errStreamAborted if the data
// proved bad; the caller must then abort the response. Otherwise nil.
func serveArchiveEntry(w http.ResponseWriter, r *http.Request, blob Blob, name string, opts entryOptions) error {
	if opts.index == nil {
		return serveArchiveEntryWith(w, r, blob, name, opts, findZipEntryByWalk)
	}
	// The index build started by this lookup reads the blob until it ends.
	var wait func()
	defer func() {
		if wait != nil {
			wait()
		}
	}()
	return serveArchiveEntryWith(w, r, blob, name, opts, func(ctx context.Context, ra io.ReaderAt, size int64, name string) (*archiveEntry, error) {
		e, waitBuild, err := opts.index.findEntry(ctx, opts.indexKey, ra, size, name)
		wait = waitBuild
		return e, err
	})
}

func serveArchiveEntryWith(w http.ResponseWriter, r *http.Request, blob Blob, name string, opts entryOptions, find entryFinder) error {
	ctx := r.Context()
	info := blob.Info()
	// Reads go through a recorder, so that a failure to open the entry is
	// blamed on storage when the blob failed, on the archive otherwise.
	reads := &readErrorRecorder{ra: blob, size: info.Size}
	entry, err := find(ctx, reads, info.Size, name)
	if err != nil {
		return err
	}
	if err := checkEntryServable(entry, info.Size, opts); err != nil {
		return err
	}
	content, err := newEntryReader(ctx, reads, entry, opts.zstd)
	if err != nil {
		return err
	}
	defer content.Close()

	// A small entry is proven whole before the first header (an empty one
	// too: ServeContent never reads it).
	if content.size <= verifyBeforeHeadersLimit {
		if err := content.verifyWhole(); err != nil {
			return err
		}
	}
	contentType, err := entryContentType(content, entry.name, opts.contentType)
	if err != nil {
		return err
	}

	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", entryDisposition(entryBaseName(entry.name)))
	h.Set("X-Content-Type-Options", "nosniff")
	if etag := entryETag(info.ETag, entry.name); etag != "" {
		h.Set("ETag", etag)
	}
	ew := &entryResponseWriter{ResponseWriter: w, r: r,
		// Not verified before the headers: see entryResponseWriter.
		chunked:  content.size > verifyBeforeHeadersLimit,
		noRanges: entry.method != zipMethodStore && content.size > maxCompressedRangeEntry,
	}
	if ew.noRanges && (r.Header.Get("Range") != "" || r.Header.Get("If-Range") != "") {
		r = r.Clone(ctx)
		r.Header.Del("Range")
		r.Header.Del("If-Range")
		ew.r = r
	}
	http.ServeContent(ew, r, "", info.ModTime, content)

	if err := content.Close(); err != nil {
		return fmt.Errorf("%w: %q: %w", errStreamAborted, entry.name, err)
	}
	return nil
}

// entryResponseWriter adjusts ServeContent's headers for an entry.
//
// chunked: a whole entry that could not be verified before the headers goes
// without Content-Length, so that HTTP/1.1 frames it in chunks: if the entry
// proves bad at its end, the response is cut and lacks its last chunk,
// which every HTTP/1.1 client takes for an error. A short body under a
// Content-Length is not enough: urllib3 1.26 (python-gitlab 3.12) does not
// check it and saves the truncated bytes as the file. HEAD and ranges keep
// their Content-Length.
//
// noRanges: the entry is served whole whatever the Range header said (see
// maxCompressedRangeEntry), and says so.
type entryResponseWriter struct {
	http.ResponseWriter
	r                 *http.Request
	chunked, noRanges bool
	wroteHeader       bool
}

func (u *entryResponseWriter) WriteHeader(code int) {
	if !u.wroteHeader {
		if u.chunked && code == http.StatusOK && u.r.Method != http.MethodHead {
			u.Header().Del("Content-Length")
		}
		if u.noRanges && code == http.StatusOK {
			u.Header().Set("Accept-Ranges", "none")
		}
	}
	u.wroteHeader = true
	u.ResponseWriter.WriteHeader(code)
}

func (u *entryResponseWriter) Write(p []byte) (int, error) {
	if !u.wroteHeader {
		u.WriteHeader(http.StatusOK)
	}
	return u.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (u *entryResponseWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// checkEntryServable rejects, before any header, what can be known bad from
// the central directory alone.
func checkEntryServable(e *archiveEntry, blobSize int64, opts entryOptions) error {
	if e.flags&zipFlagEncrypted != 0 {
		return fmt.Errorf("%w: entry %q is encrypted", ErrInvalidArchive, e.name)
	}
	switch e.method {
	case zipMethodStore:
		if e.compressedSize != e.uncompressedSize {
			return fmt.Errorf("%w: stored entry %q declares %d bytes compressed but %d uncompressed",
				ErrInvalidArchive, e.name, e.compressedSize, e.uncompressedSize)
		}
	case zipMethodDeflate, zipMethodZstd:
	default:
		return fmt.Errorf("%w: entry %q uses unsupported compression method %d", ErrInvalidArchive, e.name, e.method)
	}
	if e.uncompressedSize > math.MaxInt64 || e.compressedSize > uint64(blobSize) ||
		!plausibleUncompressedSize(e.method, e.compressedSize, e.uncompressedSize) {
		return fmt.Errorf("%w: entry %q declares impossible sizes (%d bytes from %d, method %d)",
			ErrInvalidArchive, e.name, e.uncompressedSize, e.compressedSize, e.method)
	}
	if opts.maxEntrySize > 0 && int64(e.uncompressedSize) > opts.maxEntrySize {
		return fmt.Errorf("%w: entry %q is %d bytes, limit %d", ErrTooLarge, e.name, e.uncompressedSize, opts.maxEntrySize)
	}
	return nil
}

// plausibleUncompressedSize reports whether compressed bytes of method
// could decompress to uncompressed bytes: a stored entry's sizes are equal,
// a compressed one cannot expand beyond its method's limit. An archive that
// declares more lies, and a HEAD must not announce what a GET cannot send.
func plausibleUncompressedSize(method uint16, compressed, uncompressed uint64) bool {
	var ratio uint64
	switch method {
	case zipMethodStore:
		return compressed == uncompressed
	case zipMethodDeflate:
		ratio = maxDeflateExpansion
	case zipMethodZstd:
		ratio = maxZstdExpansion
	default:
		return true // refused for its method
	}
	if compressed > (math.MaxUint64-expansionSlack)/ratio {
		return true
	}
	return uncompressed <= compressed*ratio+expansionSlack
}

// classifyArchiveError turns a zip-reading failure into ErrInvalidArchive,
// unless it came from the context or from the blob's ReadAt.
func classifyArchiveError(ctx context.Context, rec *readErrorRecorder, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("jobartifacts: reading archive: %w", ctxErr)
	}
	if readErr := rec.failure(); readErr != nil {
		return fmt.Errorf("jobartifacts: reading archive: %w", readErr)
	}
	return fmt.Errorf("%w: %w", ErrInvalidArchive, err)
}

// readErrorRecorder remembers the first ReadAt error other than io.EOF (a
// truncated archive makes the zip reader read past the end, which is a
// format problem, not a storage one). Over a Blob it also opens the ranges
// that entry data streams from (openSection), recording their failures too.
type readErrorRecorder struct {
	ra   io.ReaderAt
	size int64 // the blob's size, where ra is a Blob; else unused
	mu   sync.Mutex
	err  error
}

func (r *readErrorRecorder) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.ra.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) && off >= 0 {
		r.record(err)
	}
	return n, err
}

func (r *readErrorRecorder) record(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// rangeReader is a Blob's streaming read.
type rangeReader interface {
	NewRangeReader(offset, length int64) (io.ReadCloser, error)
}

// openSection returns the n bytes of ra from off as a stream: over a Blob,
// one range read (one request on object storage, where a ReadAt per buffer
// would be one request each); over anything else, a section reader. A
// section that runs past the end of the blob is cut there, as a section
// reader's is, so that a bad offset in an archive reads short (a format
// error) instead of failing in the store (a storage error).
func openSection(ra io.ReaderAt, off, n int64) (io.ReadCloser, error) {
	r, ok := ra.(*readErrorRecorder)
	if !ok {
		return io.NopCloser(io.NewSectionReader(ra, off, n)), nil
	}
	src, ok := r.ra.(rangeReader)
	if !ok || off < 0 || off >= r.size || n <= 0 {
		return io.NopCloser(io.NewSectionReader(r, off, n)), nil
	}
	rc, err := src.NewRangeReader(off, min(n, r.size-off))
	if err != nil {
		r.record(err)
		return nil, err
	}
	return &recordingReadCloser{ReadCloser: rc, rec: r}, nil
}

// recordingReadCloser records a range read's failures in its recorder.
type recordingReadCloser struct {
	io.ReadCloser
	rec *readErrorRecorder
}

func (c *recordingReadCloser) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		c.rec.record(err)
	}
	return n, err
}

// readerWithCloser is a decompressor that also closes the range it reads.
type readerWithCloser struct {
	io.ReadCloser
	under io.Closer
}

func (c readerWithCloser) Close() error {
	return errors.Join(c.ReadCloser.Close(), c.under.Close())
}

func (r *readErrorRecorder) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// newFlateDecompressor gives klauspost flate the *bufio.Reader its fast path
// needs.
func newFlateDecompressor(r io.Reader) io.ReadCloser {
	return flate.NewReader(bufio.NewReaderSize(r, flateInputBufferSize))
}

// newZstdDecompressor decodes one zstd (method 93) entry synchronously (no
// decoder goroutines) with bounded memory; Close releases the decoder.
func newZstdDecompressor(r io.Reader) io.ReadCloser {
	dec, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(zstdMaxWindow),
	)
	if err != nil {
		return io.NopCloser(errorReader{err})
	}
	return dec.IOReadCloser()
}

type errorReader struct{ err error }

func (r errorReader) Read([]byte) (int, error) { return 0, r.err }

// entryReader is the io.ReadSeeker that http.ServeContent streams an entry
// from. Seek is free (it only moves the position); the next Read reopens the
// entry lazily when the position moved backwards and discards forward when it
// moved ahead (stored entries are read directly at the position).
//
// Its crucial duty: ServeContent copies exactly Content-Length bytes, yet the
// zip reader reports a CRC mismatch or excess data only on a read after the
// last byte. So before handing out the final bytes it reads once more, and if
// that shows anything but a clean io.EOF it withholds them and fails: the
// response ends short of Content-Length and Close reports the failure.
//
// A mutex guards it: ServeContent's multi-range goroutine may still be reading
// after ServeContent returned.
type entryReader struct {
	ctx   context.Context
	blob  *readErrorRecorder
	entry *archiveEntry
	size  int64
	zstd  *zstdDecoderPool

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
	// head caches the entry's first bytes once sniffed, so the response
	// starts without re-inflating them.
	head []byte
}

var errEntryReaderClosed = errors.New("jobartifacts: entry reader closed")

func newEntryReader(ctx context.Context, blob *readErrorRecorder, e *archiveEntry, zstdPool *zstdDecoderPool) (*entryReader, error) {
	er := &entryReader{ctx: ctx, blob: blob, entry: e, size: int64(e.uncompressedSize), zstd: zstdPool}
	if blob.size > 0 && !strings.HasSuffix(e.name, "/") {
		// The data must lie inside the blob.
		start, err := e.dataOffset()
		if err != nil {
			return nil, classifyArchiveError(ctx, blob, fmt.Errorf("entry %q: %w", e.name, err))
		}
		if start > blob.size || e.compressedSize > uint64(blob.size-start) {
			return nil, fmt.Errorf("%w: entry %q: data runs past the end of the archive", ErrInvalidArchive, e.name)
		}
	}
	// Open once now so that a bad local header is an error before headers.
	if err := er.openAt(0); err != nil {
		return nil, err
	}
	er.reopens = 0
	return er, nil
}

// openAt positions a fresh stream at off: directly for stored entries when
// off > 0, else by decompressing from the start (discarding happens in Read).
func (er *entryReader) openAt(off int64) error {
	er.closeStream()
	if er.entry.method != zipMethodStore {
		// Only restarting decompression costs; stored data is read in place.
		if er.reopens >= maxEntryReopens {
			return fmt.Errorf("jobartifacts: entry %q reopened more than %d times", er.entry.name, maxEntryReopens)
		}
		er.reopens++
	}
	if er.entry.method == zipMethodStore && off > 0 {
		start, err := er.entry.dataOffset()
		if err != nil {
			return classifyArchiveError(er.ctx, er.blob, fmt.Errorf("entry %q: %w", er.entry.name, err))
		}
		data, err := openSection(er.blob, start+off, er.size-off)
		if err != nil {
			return classifyArchiveError(er.ctx, er.blob, fmt.Errorf("entry %q: %w", er.entry.name, err))
		}
		er.stream, er.closer, er.at = data, data, off
		return nil
	}
	rc, err := er.entry.open(er.ctx, er.zstd)
	if err != nil {
		return classifyArchiveError(er.ctx, er.blob, fmt.Errorf("entry %q: %w", er.entry.name, err))
	}
	er.stream, er.closer, er.at = rc, rc, 0
	return nil
}

func (er *entryReader) closeStream() {
	if er.closer != nil {
		_ = er.closer.Close()
	}
	er.stream, er.closer, er.at = nil, nil, 0
}

// Seek moves the position; it never reads. SeekEnd answers the declared size,
// which is how ServeContent learns Content-Length.
func (er *entryReader) Seek(offset int64, whence int) (int64, error) {
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
		return 0, errors.New("jobartifacts: entry reader: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("jobartifacts: entry reader: negative position")
	}
	er.pos = abs
	return abs, nil
}

// Read reads at the current position; see the type's comment for how the
// final bytes are withheld until the entry's end has been verified.
func (er *entryReader) Read(p []byte) (int, error) {
	er.mu.Lock()
	defer er.mu.Unlock()
	if er.closed {
		return 0, errEntryReaderClosed
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
		// The head was read (and, if it is the whole entry, verified) while
		// sniffing.
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
func (er *entryReader) seekStream() error {
	if er.stream == nil || er.at > er.pos || (er.entry.method == zipMethodStore && er.at != er.pos) {
		if err := er.openAt(er.pos); err != nil {
			return err
		}
	}
	if skip := er.pos - er.at; skip > 0 {
		if er.discarded += skip; er.discarded > maxEntryDiscard {
			return fmt.Errorf("jobartifacts: entry %q: ranges would skip more than %d decompressed bytes", er.entry.name, maxEntryDiscard)
		}
		n, err := io.CopyN(io.Discard, er.stream, skip)
		er.at += n
		if err != nil {
			return fmt.Errorf("jobartifacts: skipping to %d in entry %q: %w", er.pos, er.entry.name, err)
		}
	}
	return nil
}

// expectEnd reads past the declared end; only (0, io.EOF) is a clean end.
func (er *entryReader) expectEnd() error {
	var probe [1]byte
	for range 100 {
		n, err := er.stream.Read(probe[:])
		switch {
		case n > 0:
			return fmt.Errorf("jobartifacts: entry %q holds more data than its declared %d bytes", er.entry.name, er.size)
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// verifyWhole reads the whole entry before headers, which checks its CRC,
// its size and its data; a small entry is kept for the response, a larger
// one is decompressed again as it is served. Errors are the archive's,
// unless the context or the blob failed.
func (er *entryReader) verifyWhole() error {
	er.mu.Lock()
	defer er.mu.Unlock()
	var keep *bytes.Buffer
	var sink io.Writer = io.Discard
	if er.size <= keepVerifiedLimit {
		// ReadFrom wants MinRead spare bytes to see the end: without them
		// it would grow (copy) the buffer after the last byte.
		keep = bytes.NewBuffer(make([]byte, 0, er.size+bytes.MinRead))
		sink = keep
	}
	err := er.seekStream()
	if err == nil {
		var n int64
		n, err = io.Copy(sink, er.stream)
		if err == nil && n != er.size {
			err = io.ErrUnexpectedEOF
		}
	}
	// The next Read starts afresh (it does not count as a reopen).
	er.closeStream()
	er.reopens = 0
	if err != nil {
		if ctxErr := er.ctx.Err(); ctxErr != nil {
			return fmt.Errorf("jobartifacts: reading entry %q: %w", er.entry.name, ctxErr)
		}
		if readErr := er.blob.failure(); readErr != nil {
			return fmt.Errorf("jobartifacts: reading entry %q: %w", er.entry.name, readErr)
		}
		return fmt.Errorf("%w: entry %q: %w", ErrInvalidArchive, er.entry.name, err)
	}
	if keep != nil {
		er.head = keep.Bytes()
	}
	return nil
}

// sniffHead reads up to sniffLen bytes from the start, before headers, and
// keeps them for the response. Errors here are reported as the archive's,
// unless the blob failed to read or the request ended.
func (er *entryReader) sniffHead() ([]byte, error) {
	want := min(er.size, sniffLen)
	if int64(len(er.head)) >= want {
		return er.head[:want], nil // verified and kept already
	}
	buf := make([]byte, want)
	n, err := io.ReadFull(er, buf)
	if err != nil {
		er.mu.Lock()
		defer er.mu.Unlock()
		if er.failed != nil {
			err = er.failed
		}
		return nil, classifyArchiveError(er.ctx, er.blob, fmt.Errorf("entry %q: %w", er.entry.name, err))
	}
	er.mu.Lock()
	defer er.mu.Unlock()
	er.head = buf[:n]
	er.pos = 0
	return er.head, nil
}

func (er *entryReader) fail(err error) error {
	er.failed = err
	er.closeStream()
	return err
}

// Close releases the stream and reports the data failure, if any, seen while
// serving. It may be called more than once.
func (er *entryReader) Close() error {
	er.mu.Lock()
	defer er.mu.Unlock()
	er.closed = true
	er.closeStream()
	return er.failed
}

// entryContentType picks the Content-Type by rule.
func entryContentType(content *entryReader, name string, rule contentTypeRule) (string, error) {
	if rule == contentTypeSniffed {
		head, err := content.sniffHead()
		if err != nil {
			return "", err
		}
		return sniffedContentType(head), nil
	}
	if ct := mime.TypeByExtension(path.Ext(entryBaseName(name))); ct != "" {
		return ct, nil
	}
	return "application/octet-stream", nil
}

// sniffedContentType is route 4's rule, as GitLab Workhorse applies it: SVG is
// recognised first (DetectContentType calls it text), then every text type
// becomes text/plain so that HTML or JavaScript never renders.
func sniffedContentType(head []byte) string {
	if looksLikeSVG(head) {
		return "image/svg+xml"
	}
	ct := http.DetectContentType(head)
	if strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") {
		return "text/plain; charset=utf-8"
	}
	return ct
}

// looksLikeSVG reports whether data starts, after a BOM, whitespace, an XML
// declaration, comments and processing instructions, with an <svg element or
// an SVG doctype.
func looksLikeSVG(data []byte) bool {
	s := strings.TrimPrefix(string(data), "\uFEFF")
	if strings.IndexByte(s, 0) >= 0 {
		return false // binary
	}
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		switch {
		case strings.HasPrefix(s, "<?"):
			end := strings.Index(s, "?>")
			if end < 0 {
				return false
			}
			s = s[end+2:]
		case strings.HasPrefix(s, "<!--"):
			end := strings.Index(s[4:], "-->")
			if end < 0 {
				return false
			}
			s = s[4+end+3:]
		case hasPrefixFold(s, "<!DOCTYPE"):
			rest := strings.TrimLeft(s[len("<!DOCTYPE"):], " \t\r\n")
			return hasPrefixFold(rest, "svg") && (len(rest) == 3 || strings.ContainsRune(" \t\r\n>[", rune(rest[3])))
		case strings.HasPrefix(s, "<svg"):
			return len(s) == 4 || strings.ContainsRune(" \t\r\n>/", rune(s[4]))
		default:
			return false
		}
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// entryBaseName is the last segment of an entry name ("a/b/" → "b"). Only
// "/" separates: a backslash is part of a zip name.
func entryBaseName(name string) string {
	name = strings.TrimSuffix(name, "/")
	return name[strings.LastIndexByte(name, '/')+1:]
}

// entryDisposition is `attachment; filename="…"` (GitLab's form). The
// quoted name is ASCII: quotes and backslashes escaped, control and non-ASCII
// characters replaced by "_". When that changed anything but the escapes,
// RFC 6266's filename* parameter (UTF-8, percent-encoded) carries the
// exact name.
func entryDisposition(base string) string {
	var quoted strings.Builder
	exact := utf8.ValidString(base)
	for _, r := range base {
		switch {
		case r == '"' || r == '\\':
			quoted.WriteByte('\\')
			quoted.WriteRune(r)
		case r < 0x20 || r == 0x7f || r >= utf8.RuneSelf:
			quoted.WriteByte('_')
			exact = false
		default:
			quoted.WriteRune(r)
		}
	}
	v := `attachment; filename="` + quoted.String() + `"`
	if !exact && utf8.ValidString(base) {
		v += "; filename*=UTF-8''" + percentEscape(base, isRFC5987Safe)
	}
	return v
}

// entryETag is a strong ETag for one entry of one blob version: it changes
// whenever the blob's ETag does, and differs between entries. Without a blob
// ETag there is nothing to derive it from, so there is none.
func entryETag(blobETag, name string) string {
	if blobETag == "" {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(blobETag))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}
