package jobartifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// This file serves one entry of an archive (routes 3 and 4): the HTTP side,
// headers, content types, disposition, ETag. Finding, checking and reading
// the entry is the zip engine's (internal/ziparchive).

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
	indexKey archiveVersion
	// reopen, if not nil, opens the archive's blob (indexKey's) again, for
	// an index build that outlives the request (see
	// archiveIndexCache.findEntry).
	reopen blobOpener
	// zstd, if not nil, lends zstd entries their decoders.
	zstd ziparchive.ZstdDecoders
	// buffers, if not nil, lends the entry reader its memory.
	buffers *ziparchive.BufferPool
	// scope, if not nil, is the request's, whose header values the
	// entry's headers are set in (headersOf).
	scope *requestScope
}

// errStreamAborted reports that an entry's data proved bad (CRC mismatch,
// more or less data than declared, corrupt compressed data, request done)
// after response headers may have been sent. The caller must abort the
// response (panic(http.ErrAbortHandler)) so the client sees a cut transfer.
var errStreamAborted = errors.New("jobartifacts: archive entry stream aborted")

const (
	// sniffLen is how much http.DetectContentType looks at.
	sniffLen = 512
	// verifyBeforeHeadersLimit: an entry up to this size is read and
	// checked (CRC, sizes, data) before any header, so that a damaged one is
	// a clean 422, never a cut transfer. Larger ones are checked as they
	// stream (see ziparchive.EntryReader and entryResponseWriter).
	verifyBeforeHeadersLimit = 4 << 20
	// maxCompressedRangeEntry: Range is honoured on a compressed entry up to
	// this size; a larger one is always sent whole (200, Accept-Ranges:
	// none), as RFC 9110 allows and as GitLab does for every entry, so that
	// a request never makes us inflate much more than it is sent (a range
	// at the end of a 1 GiB entry of zeros would inflate it all for one
	// byte). Stored entries are read in place: any range is cheap. The
	// entry reader stops skipping at twice this.
	maxCompressedRangeEntry = 8 << 20
)

// entryFinder finds the entry named name (exact bytes; the first in
// central-directory order wins) in the zip archive of ra, or returns an error
// wrapping ErrNotFound or ErrInvalidArchive. It is the one seam between "find
// entry N in archive A" and serving it, so that a cached name index or a lean
// central-directory walk can replace findZipEntryByWalk without touching callers.
type entryFinder func(ctx context.Context, ra io.ReaderAt, size int64, name string) (*ziparchive.Entry, error)

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
	// An index build started by this lookup without reopen reads the blob
	// until it ends.
	var wait func()
	defer func() {
		if wait != nil {
			wait()
		}
	}()
	return serveArchiveEntryWith(w, r, blob, name, opts, func(ctx context.Context, ra io.ReaderAt, size int64, name string) (*ziparchive.Entry, error) {
		e, waitBuild, err := opts.index.findEntry(ctx, opts.indexKey, ra, size, name, opts.reopen)
		wait = waitBuild
		return e, err
	})
}

func serveArchiveEntryWith(w http.ResponseWriter, r *http.Request, blob Blob, name string, opts entryOptions, find entryFinder) error {
	ctx := r.Context()
	info := blob.Info()
	// One Archive for the whole request, so that a failure to open the
	// entry is blamed on storage when the blob failed, on the archive
	// otherwise.
	archive := ziparchive.NewArchive(blob, info.Size)
	entry, err := find(ctx, archive, info.Size, name)
	if err != nil {
		return err
	}
	if err := checkEntryServable(entry, info.Size, opts); err != nil {
		return err
	}
	content, err := archive.NewEntryReader(ctx, entry, opts.zstd, opts.buffers)
	if err != nil {
		return archiveError(err)
	}
	defer content.Close()

	etag := entryETag(info.ETag, entry.Name)
	// A small entry is proven whole before the first header (an empty one
	// too: ServeContent never reads it), unless the answer is a 304 or a
	// 412, which sends none of it: a client holding this ETag was sent
	// bytes proven whole, and they cannot have changed under it.
	if content.Size() <= verifyBeforeHeadersLimit && !answeredByPreconditions(r, etag, info.ModTime) {
		if err := content.VerifyWhole(); err != nil {
			return archiveError(err)
		}
	}
	contentType, err := entryContentType(content, entry.Name, opts.contentType)
	if err != nil {
		return archiveError(err)
	}

	set := headersOf(w, opts.scope).set
	set("Content-Type", contentType)
	set("Content-Disposition", entryDisposition(entryBaseName(entry.Name)))
	set("X-Content-Type-Options", "nosniff")
	if etag != "" {
		set("Etag", etag)
	}
	ew := &entryResponseWriter{ResponseWriter: w, r: r, content: content,
		// Not verified before the headers: see entryResponseWriter.
		chunked:  content.Size() > verifyBeforeHeadersLimit,
		noRanges: entry.Method != ziparchive.MethodStore && content.Size() > maxCompressedRangeEntry,
	}
	if ew.noRanges && (r.Header.Get("Range") != "" || r.Header.Get("If-Range") != "") {
		r = r.Clone(ctx)
		r.Header.Del("Range")
		r.Header.Del("If-Range")
		ew.r = r
	}
	http.ServeContent(ew, r, "", info.ModTime, content)

	if err := content.Close(); err != nil {
		return fmt.Errorf("%w: %q: %w", errStreamAborted, entry.Name, err)
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
//
// Its ReadFrom, which ServeContent's copy takes, hands the copy of content
// to content.CopyN: a small entry verified in memory is written from
// there, without a copy buffer.
type entryResponseWriter struct {
	http.ResponseWriter
	r                 *http.Request
	content           *ziparchive.EntryReader
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

// ReadFrom takes ServeContent's copy of one range (or the whole) of the
// entry: src is then an io.LimitedReader around content. Anything else (a
// multi-range body) is copied as io.Copy would. Either way the header goes
// out first, by WriteHeader's rules, then the bytes to the ResponseWriter's
// Write.
func (u *entryResponseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !u.wroteHeader {
		u.WriteHeader(http.StatusOK)
	}
	if lr, ok := src.(*io.LimitedReader); ok {
		if er, ok := lr.R.(*ziparchive.EntryReader); ok && er == u.content {
			n, err := er.CopyN(u.ResponseWriter, lr.N)
			lr.N -= n
			if errors.Is(err, io.EOF) {
				err = nil // ReadFrom's end, as io.Copy's
			}
			return n, err
		}
	}
	return io.Copy(writerOnly{u.ResponseWriter}, src)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (u *entryResponseWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// checkEntryServable rejects, before any header, what can be known bad from
// the central directory alone (ziparchive's Check), and what is over
// opts.maxEntrySize.
func checkEntryServable(e *ziparchive.Entry, blobSize int64, opts entryOptions) error {
	if err := e.Check(blobSize); err != nil {
		return archiveError(err)
	}
	if opts.maxEntrySize > 0 && int64(e.UncompressedSize) > opts.maxEntrySize {
		return fmt.Errorf("%w: entry %q is %d bytes, limit %d", ErrTooLarge, e.Name, e.UncompressedSize, opts.maxEntrySize)
	}
	return nil
}

// entryContentType picks the Content-Type by rule.
func entryContentType(content *ziparchive.EntryReader, name string, rule contentTypeRule) (string, error) {
	if rule == contentTypeSniffed {
		head, err := content.Head(sniffLen)
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
	// Built in one buffer, on the stack for most names: one allocation, the
	// string.
	var stack [128]byte
	v := append(stack[:0], `attachment; filename="`...)
	exact := utf8.ValidString(base)
	for _, r := range base {
		switch {
		case r == '"' || r == '\\':
			v = append(v, '\\', byte(r))
		case r < 0x20 || r == 0x7f || r >= utf8.RuneSelf:
			v = append(v, '_')
			exact = false
		default:
			v = append(v, byte(r))
		}
	}
	v = append(v, '"')
	if !exact && utf8.ValidString(base) {
		v = append(v, "; filename*=UTF-8''"...)
		v = append(v, percentEscape(base, isRFC5987Safe)...)
	}
	return string(v)
}

// entryETag is a strong ETag for one entry of one blob version: it changes
// whenever the blob's ETag does, and differs between entries. Without a blob
// ETag there is nothing to derive it from, so there is none.
func entryETag(blobETag, name string) string {
	if blobETag == "" {
		return ""
	}
	// SHA-256 of blobETag, a zero byte and name; hashed from one buffer,
	// on the stack for most, so that the string is the one allocation.
	var stack [256]byte
	in := append(stack[:0], blobETag...)
	in = append(in, 0)
	in = append(in, name...)
	sum := sha256.Sum256(in)
	var etag [2 + 2*16]byte
	etag[0], etag[len(etag)-1] = '"', '"'
	hex.Encode(etag[1:len(etag)-1], sum[:16])
	return string(etag[:])
}
