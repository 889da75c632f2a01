package jobartifacts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

func deflateBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
	require.NoError(t, err)
	_, err = fw.Write(data)
	require.NoError(t, err)
	require.NoError(t, fw.Close())
	return buf.Bytes()
}

func memZipBlob(data []byte) *zipTestBlob {
	return &zipTestBlob{
		ReaderAt: bytes.NewReader(data),
		info:     BlobInfo{Size: int64(len(data)), ModTime: zipTestModTime, ETag: fmt.Sprintf(`"mem-%08x"`, crc32.ChecksumIEEE(data))},
	}
}

// logText is compressible, line-structured data like a CI log.
func logText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%08d step %d: compiling package %d of the artifact tree\n", i, i%17, i%251)
	}
	return b.Bytes()[:n]
}

// serveEntryRecorded calls serveArchiveEntry into a ResponseRecorder.
func serveEntryRecorded(t testing.TB, blob Blob, req *http.Request, name string, opts entryOptions) (*httptest.ResponseRecorder, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	err := serveArchiveEntry(rec, req, blob, name, opts)
	return rec, err
}

// TestServeArchiveEntryHTTPFeatures checks Range, conditional requests and
// HEAD on a deflate, a stored and a zstd entry of the same bytes.
func TestServeArchiveEntryHTTPFeatures(t *testing.T) {
	const entry = "nested/a/big.log"
	want := zipManifestEntry(t, "infozip-tree.zip", entry)
	for _, archive := range []string{"infozip-tree.zip", "infozip-stored.zip", "kp-zstd93-mixed.zip"} {
		t.Run(archive, func(t *testing.T) {
			blob := openCorpusBlob(t, archive)
			srv := newZipEntryServer(t, blob, entryOptions{contentType: contentTypeByExtension})

			full := srv.get(t, http.MethodGet, entry, nil)
			require.NoError(t, full.err)
			require.Equal(t, http.StatusOK, full.status)
			require.NoError(t, srv.awaitResult(t).err)
			require.Equal(t, want.SHA256, zipcorpus.SHA256(full.body))
			require.Equal(t, "bytes", full.header.Get("Accept-Ranges"))
			require.Equal(t, "nosniff", full.header.Get("X-Content-Type-Options"))
			require.Equal(t, `attachment; filename="big.log"`, full.header.Get("Content-Disposition"))
			require.Equal(t, zipTestModTime.Format(http.TimeFormat), full.header.Get("Last-Modified"))
			etag := full.header.Get("ETag")
			require.Equal(t, entryETag(blob.info.ETag, entry), etag)
			require.Regexp(t, `^"[0-9a-f]{32}"$`, etag)
			size := int64(len(full.body))

			cases := []struct {
				name        string
				method      string
				header      http.Header
				wantStatus  int
				wantBody    []byte
				wantRange   string
				wantNoBody  bool
				wantLength  string
				wantPartsOf [][2]int64 // multipart/byteranges: [start, end] inclusive
			}{
				{name: "middle range", header: http.Header{"Range": {"bytes=1000-1999"}},
					wantStatus: http.StatusPartialContent, wantBody: full.body[1000:2000],
					wantRange: fmt.Sprintf("bytes 1000-1999/%d", size)},
				{name: "suffix range", header: http.Header{"Range": {"bytes=-100"}},
					wantStatus: http.StatusPartialContent, wantBody: full.body[size-100:],
					wantRange: fmt.Sprintf("bytes %d-%d/%d", size-100, size-1, size)},
				{name: "open-ended range reaching the end", header: http.Header{"Range": {fmt.Sprintf("bytes=%d-", size-500)}},
					wantStatus: http.StatusPartialContent, wantBody: full.body[size-500:]},
				{name: "unsatisfiable range", header: http.Header{"Range": {fmt.Sprintf("bytes=%d-", size+10)}},
					wantStatus: http.StatusRequestedRangeNotSatisfiable},
				{name: "ranges in descending order reopen the entry", header: http.Header{"Range": {"bytes=150000-150009,10-19"}},
					wantStatus: http.StatusPartialContent, wantPartsOf: [][2]int64{{150000, 150009}, {10, 19}}},
				{name: "if-none-match", header: http.Header{"If-None-Match": {etag}},
					wantStatus: http.StatusNotModified, wantNoBody: true},
				{name: "if-none-match other etag", header: http.Header{"If-None-Match": {`"other"`}},
					wantStatus: http.StatusOK, wantBody: full.body},
				{name: "if-modified-since", header: http.Header{"If-Modified-Since": {zipTestModTime.Format(http.TimeFormat)}},
					wantStatus: http.StatusNotModified, wantNoBody: true},
				{name: "if-range matching", header: http.Header{"Range": {"bytes=0-99"}, "If-Range": {etag}},
					wantStatus: http.StatusPartialContent, wantBody: full.body[:100]},
				{name: "if-range stale", header: http.Header{"Range": {"bytes=0-99"}, "If-Range": {`"stale"`}},
					wantStatus: http.StatusOK, wantBody: full.body},
				{name: "head", method: http.MethodHead,
					wantStatus: http.StatusOK, wantNoBody: true, wantLength: strconv.FormatInt(size, 10)},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					method := tc.method
					if method == "" {
						method = http.MethodGet
					}
					resp := srv.get(t, method, entry, tc.header)
					require.NoError(t, resp.err)
					require.Equal(t, tc.wantStatus, resp.status)
					require.NoError(t, srv.awaitResult(t).err)
					if tc.wantBody != nil {
						require.Equal(t, tc.wantBody, resp.body)
						require.Equal(t, strconv.Itoa(len(tc.wantBody)), resp.header.Get("Content-Length"))
					}
					if tc.wantRange != "" {
						require.Equal(t, tc.wantRange, resp.header.Get("Content-Range"))
					}
					if tc.wantNoBody {
						require.Empty(t, resp.body)
					}
					if tc.wantLength != "" {
						require.Equal(t, tc.wantLength, resp.header.Get("Content-Length"))
					}
					if tc.wantPartsOf != nil {
						mediaType, params, err := mime.ParseMediaType(resp.header.Get("Content-Type"))
						require.NoError(t, err)
						require.Equal(t, "multipart/byteranges", mediaType)
						mr := multipart.NewReader(bytes.NewReader(resp.body), params["boundary"])
						for _, span := range tc.wantPartsOf {
							part, err := mr.NextPart()
							require.NoError(t, err)
							got, err := io.ReadAll(part)
							require.NoError(t, err)
							require.Equal(t, full.body[span[0]:span[1]+1], got)
						}
						_, err = mr.NextPart()
						require.ErrorIs(t, err, io.EOF)
					}
				})
			}
		})
	}
}

// TestServeArchiveEntryContentType pins both routes' Content-Type rules.
func TestServeArchiveEntryContentType(t *testing.T) {
	blob := openCorpusBlob(t, "infozip-tree.zip")
	cases := []struct {
		entry string
		rule  contentTypeRule
		want  string
	}{
		{"index.html", contentTypeSniffed, "text/plain; charset=utf-8"},
		{"app.js", contentTypeSniffed, "text/plain; charset=utf-8"},
		{"report.json", contentTypeSniffed, "text/plain; charset=utf-8"},
		{"junit.xml", contentTypeSniffed, "text/plain; charset=utf-8"},
		{"logo.svg", contentTypeSniffed, "image/svg+xml"},
		{"pixel.png", contentTypeSniffed, "image/png"},
		{"some/release/file.pdf", contentTypeSniffed, "application/pdf"},
		{"empty.txt", contentTypeSniffed, "text/plain; charset=utf-8"},
		{"nested/a/big.log", contentTypeSniffed, "text/plain; charset=utf-8"},

		{"report.json", contentTypeByExtension, "application/json"},
		{"junit.xml", contentTypeByExtension, mime.TypeByExtension(".xml")},
		{"logo.svg", contentTypeByExtension, "image/svg+xml"},
		{"index.html", contentTypeByExtension, "text/html; charset=utf-8"},
		{"pixel.png", contentTypeByExtension, "image/png"},
		{"link-dir", contentTypeByExtension, "application/octet-stream"},
		{"nested/", contentTypeByExtension, "application/octet-stream"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%d", tc.entry, tc.rule), func(t *testing.T) {
			require.NotEmpty(t, tc.want)
			rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), tc.entry, entryOptions{contentType: tc.rule})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, tc.want, rec.Header().Get("Content-Type"))
			require.Equal(t, zipManifestEntry(t, "infozip-tree.zip", tc.entry).SHA256, zipcorpus.SHA256(rec.Body.Bytes()),
				"sniffing must not lose or repeat the head")
		})
	}
	require.Contains(t, mime.TypeByExtension(".xml"), "xml")
}

func TestLooksLikeSVG(t *testing.T) {
	cases := []struct {
		data string
		want bool
	}{
		{`<svg xmlns="http://www.w3.org/2000/svg"/>`, true},
		{"\uFEFF  \n<svg>", true},
		{"<?xml version=\"1.0\"?>\n<!-- made by hand -->\n<svg width=\"1\">", true},
		{"<?xml version=\"1.0\"?><!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\">", true},
		{"<svg", true},
		{"<svgfoo>", false},
		{"<html><svg></svg></html>", false},
		{"<?xml version=\"1.0\"?><note/>", false},
		{"<!-- unterminated", false},
		{"<svg\x00>", false},
		{"", false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, looksLikeSVG([]byte(tc.data)), "%q", tc.data)
	}
}

func TestEntryDisposition(t *testing.T) {
	cases := []struct {
		entry string
		want  string
	}{
		{"report.json", `attachment; filename="report.json"`},
		{"nested/a/big.log", `attachment; filename="big.log"`},
		{"nested/", `attachment; filename="nested"`},
		{"/abs.txt", `attachment; filename="abs.txt"`},
		{`a\b.txt`, `attachment; filename="a\\b.txt"`},
		{`say "hi".txt`, `attachment; filename="say \"hi\".txt"`},
		{"dir with space/file +plus é 日本.txt",
			`attachment; filename="file +plus _ __.txt"; filename*=UTF-8''file%20+plus%20%C3%A9%20%E6%97%A5%E6%9C%AC.txt`},
		{"line\nbreak.txt", `attachment; filename="line_break.txt"; filename*=UTF-8''line%0Abreak.txt`},
		{"caf\xe9.txt", `attachment; filename="caf_.txt"`}, // not UTF-8: no filename* to claim it is
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, entryDisposition(entryBaseName(tc.entry)), "%q", tc.entry)
	}
}

func TestEntryETag(t *testing.T) {
	a := entryETag(`"blob-1"`, "a.txt")
	require.Regexp(t, `^"[0-9a-f]{32}"$`, a)
	require.Equal(t, a, entryETag(`"blob-1"`, "a.txt"))
	require.NotEqual(t, a, entryETag(`"blob-2"`, "a.txt"), "new blob bytes, new ETag")
	require.NotEqual(t, a, entryETag(`"blob-1"`, "b.txt"), "other entry, other ETag")
	require.Empty(t, entryETag("", "a.txt"))
}

func TestServeArchiveEntryMaxEntrySize(t *testing.T) {
	blob := openCorpusBlob(t, "infozip-tree.zip")
	size := zipManifestEntry(t, "infozip-tree.zip", "nested/a/big.log").Size
	cases := []struct {
		name    string
		max     int64
		wantErr error
	}{
		{"no limit", 0, nil},
		{"exactly the size", size, nil},
		{"one byte short", size - 1, ErrTooLarge},
		{"tiny", 1000, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), "nested/a/big.log",
				entryOptions{contentType: contentTypeSniffed, maxEntrySize: tc.max})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Empty(t, rec.Header(), "no header before the error")
				require.Zero(t, rec.Body.Len())
				return
			}
			require.NoError(t, err)
			require.Equal(t, int(size), rec.Body.Len())
		})
	}
}

func TestServeArchiveEntryDirectory(t *testing.T) {
	blob := openCorpusBlob(t, "infozip-tree.zip")
	rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), "nested/a/", entryOptions{})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "0", rec.Header().Get("Content-Length"))
	require.Zero(t, rec.Body.Len())

	_, err = serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), "nested/a", entryOptions{})
	require.ErrorIs(t, err, ErrNotFound, "a directory matches only with its trailing slash")
}

// TestServeArchiveEntryBuiltArchives covers cases no corpus tool writes.
func TestServeArchiveEntryBuiltArchives(t *testing.T) {
	payload := logText(100_000)
	compressed := deflateBytes(t, payload)
	crc := crc32.ChecksumIEEE(payload)
	rawDeflate := func(name string, crc32sum uint32, usize uint64, body []byte) ziptest.Entry {
		return ziptest.Entry{Raw: true, Name: name, Body: body, Method: ziptest.Deflate, CRC32: crc32sum, UncompressedSize: usize}
	}
	encrypted := ziptest.Stored("secret.txt", "ciphertext")
	encrypted.Flags |= ziparchive.FlagEncrypted

	archive := ziptest.Build(t,
		ziptest.Stored("dup.txt", "first"),
		ziptest.Stored("dup.txt", "second, longer"),
		encrypted,
		ziptest.Entry{Raw: true, Name: "lzma.bin", Body: []byte("lzma?"), Method: 14, UncompressedSize: 5},
		rawDeflate("good.log", crc, uint64(len(payload)), compressed),
		rawDeflate("bad-crc.log", crc^1, uint64(len(payload)), compressed),
		rawDeflate("declared-longer.log", crc, uint64(len(payload))+10, compressed),
		rawDeflate("declared-shorter.log", crc, uint64(len(payload))-1, compressed),
		rawDeflate("corrupt.log", crc, uint64(len(payload)), append(bytes.Clone(compressed[:len(compressed)/2]), 0xff, 0xff, 0xff)),
		rawDeflate("empty-but-not.txt", 0, 0, deflateBytes(t, []byte("surprise"))),
		ziptest.Entry{Raw: true, Name: "stored-size-mismatch.txt", Body: []byte("abc"), Method: ziptest.Store, UncompressedSize: 4},
		rawDeflate("bad-crc-small.txt", crc32.ChecksumIEEE([]byte("small"))^1, 5, deflateBytes(t, []byte("small"))),
	)
	blob := memZipBlob(archive)

	cases := []struct {
		name     string
		entry    string
		rule     contentTypeRule
		wantErr  error // before headers: the recorder must be untouched
		wantAbrt bool  // after headers: short body, errStreamAborted
		wantBody []byte
	}{
		{name: "first duplicate wins", entry: "dup.txt", wantBody: []byte("first")},
		{name: "encrypted flag", entry: "secret.txt", wantErr: ErrInvalidArchive},
		{name: "unsupported method", entry: "lzma.bin", wantErr: ErrInvalidArchive},
		{name: "good deflate", entry: "good.log", wantBody: payload},
		{name: "bad crc deflate", entry: "bad-crc.log", wantErr: ErrInvalidArchive},
		{name: "declared longer than data", entry: "declared-longer.log", wantErr: ErrInvalidArchive},
		{name: "declared shorter than data", entry: "declared-shorter.log", wantErr: ErrInvalidArchive},
		{name: "corrupt deflate", entry: "corrupt.log", wantErr: ErrInvalidArchive},
		{name: "empty entry that inflates to bytes", entry: "empty-but-not.txt", wantErr: ErrInvalidArchive},
		{name: "stored sizes disagree", entry: "stored-size-mismatch.txt", wantErr: ErrInvalidArchive},
		{name: "small entry bad crc found while sniffing", entry: "bad-crc-small.txt", rule: contentTypeSniffed, wantErr: ErrInvalidArchive},
		{name: "small entry bad crc by extension", entry: "bad-crc-small.txt", wantErr: ErrInvalidArchive},
		{name: "missing", entry: "nope.txt", wantErr: ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), tc.entry, entryOptions{contentType: tc.rule})
			switch {
			case tc.wantErr != nil:
				require.ErrorIs(t, err, tc.wantErr)
				require.NotErrorIs(t, err, errStreamAborted)
				require.Empty(t, rec.Header())
				require.Zero(t, rec.Body.Len())
			case tc.wantAbrt:
				require.ErrorIs(t, err, errStreamAborted)
				declared, convErr := strconv.Atoi(rec.Header().Get("Content-Length"))
				require.NoError(t, convErr)
				require.Less(t, rec.Body.Len(), declared, "the response must end short of Content-Length")
			default:
				require.NoError(t, err)
				require.Equal(t, tc.wantBody, rec.Body.Bytes())
			}
		})
	}
}

// TestServeArchiveEntryVerifiesSmallEntriesFirst (issue 10 item 6): a
// damaged entry up to verifyBeforeHeadersLimit is a clean error before any
// header, for GET, HEAD and ranges alike: the corpus's bad CRC.
func TestServeArchiveEntryVerifiesSmallEntriesFirst(t *testing.T) {
	blob := openCorpusBlob(t, "neg-bad-crc-stored.zip")
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, rng := range []string{"", "bytes=0-99"} {
			req := httptest.NewRequest(method, "/", nil)
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			rec, err := serveEntryRecorded(t, blob, req, "bad.log", entryOptions{})
			require.ErrorIs(t, err, ErrInvalidArchive, "%s %q", method, rng)
			require.ErrorIs(t, err, ziparchive.ErrChecksum)
			require.NotErrorIs(t, err, errStreamAborted)
			require.Empty(t, rec.Header())
		}
	}
}

// TestServeArchiveEntryWithholdsFinalBytes shows the reader's core duty
// for an entry too large to verify first: with a bad CRC everything but the
// final chunk may go out, the final chunk never.
func TestServeArchiveEntryWithholdsFinalBytes(t *testing.T) {
	payload := logText(verifyBeforeHeadersLimit + 1000)
	blob := memZipBlob(ziptest.Build(t, ziptest.Entry{Raw: true, Name: "bad.log", Body: payload, Method: ziptest.Store,
		CRC32: crc32.ChecksumIEEE(payload) ^ 1, UncompressedSize: uint64(len(payload))}))
	rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), "bad.log", entryOptions{})
	require.ErrorIs(t, err, errStreamAborted)
	require.ErrorIs(t, err, ziparchive.ErrChecksum)
	require.Empty(t, rec.Header().Get("Content-Length"), "sent chunked: a cut lacks the last chunk")
	require.Less(t, rec.Body.Len(), len(payload))

	// A range that stops before the end cannot check the CRC and is served.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Range", "bytes=0-99")
	rec, err = serveEntryRecorded(t, blob, req, "bad.log", entryOptions{})
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, rec.Code)
	require.Equal(t, 100, rec.Body.Len())
}

// TestServeArchiveEntryImpossibleSizes (issue 10 item 6): an entry that
// declares more than its compressed bytes could ever hold is refused before
// any header, so that HEAD never announces a Content-Length a GET cannot
// send; so is one whose data would run past the end of the archive.
func TestServeArchiveEntryImpossibleSizes(t *testing.T) {
	small := deflateBytes(t, []byte("tiny"))
	zeros := deflateBytes(t, make([]byte, 1<<20)) // 1 MiB of zeros, ~1 KiB compressed
	archive := ziptest.Build(t,
		ziptest.Entry{Raw: true, Name: "huge.bin", Body: small, Method: ziptest.Deflate, UncompressedSize: 10 << 30},
		ziptest.Entry{Raw: true, Name: "huge.zst", Body: small, Method: ziptest.Zstd, UncompressedSize: 10 << 30},
		ziptest.Entry{Raw: true, Name: "zeros.bin", Body: zeros, Method: ziptest.Deflate,
			CRC32: crc32.ChecksumIEEE(make([]byte, 1<<20)), UncompressedSize: 1 << 20},
	)
	blob := memZipBlob(archive)
	for _, name := range []string{"huge.bin", "huge.zst"} {
		for _, method := range []string{http.MethodHead, http.MethodGet} {
			rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(method, "/", nil), name, entryOptions{})
			require.ErrorIs(t, err, ErrInvalidArchive, "%s %s", method, name)
			require.Empty(t, rec.Header())
		}
	}
	// A real 1000:1 entry is fine.
	rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodHead, "/", nil), "zeros.bin", entryOptions{})
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(1<<20), rec.Header().Get("Content-Length"))

	// Data past the end: the last entry's compressed size grown in both
	// records cannot be served.
	past := ziptest.Build(t, ziptest.Entry{Raw: true, Name: "past.bin", Body: []byte("abcdef"), Method: ziptest.Store, UncompressedSize: 6})
	cd := bytes.LastIndex(past, []byte{0x50, 0x4b, 0x01, 0x02})
	past[cd+20], past[cd+24] = 200, 200 // compressed and uncompressed sizes
	past[18], past[22] = 200, 200       // the local header's too
	_, err = serveEntryRecorded(t, memZipBlob(past), httptest.NewRequest(http.MethodHead, "/", nil), "past.bin", entryOptions{})
	require.ErrorIs(t, err, ErrInvalidArchive)
}

func TestServeArchiveEntryContextDone(t *testing.T) {
	payload := logText(300_000)
	blob := memZipBlob(ziptest.Build(t, ziptest.Deflated("big.log", string(payload))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)

	rec, err := serveEntryRecorded(t, blob, req, "big.log", entryOptions{contentType: contentTypeByExtension})
	require.ErrorIs(t, err, errStreamAborted)
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, rec.Body.Len(), len(payload))

	// Sniffing reads before headers: the same failure comes before them, and
	// it is not the archive's fault.
	rec, err = serveEntryRecorded(t, blob, req, "big.log", entryOptions{contentType: contentTypeSniffed})
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrInvalidArchive)
	require.NotErrorIs(t, err, errStreamAborted)
	require.Empty(t, rec.Header())
}

// TestServeArchiveEntryReopenLimit: ranges in descending order force a
// restart of decompression each; past the cap the stream is aborted rather
// than inflating the entry again and again.
func TestServeArchiveEntryReopenLimit(t *testing.T) {
	// Over keepVerifiedLimit, so that it is decompressed again to serve.
	payload := logText(300_000)
	blob := memZipBlob(ziptest.Build(t, ziptest.Deflated("big.log", string(payload))))
	var ranges []string
	for start := 250_000; len(ranges) < ziparchive.MaxEntryReopens+4; start -= 1000 {
		ranges = append(ranges, fmt.Sprintf("%d-%d", start, start+9))
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Range", "bytes="+strings.Join(ranges, ","))
	rec, err := serveEntryRecorded(t, blob, req, "big.log", entryOptions{})
	require.ErrorIs(t, err, errStreamAborted)
	require.Equal(t, http.StatusPartialContent, rec.Code)

	// Within the cap the same kind of request succeeds.
	req.Header.Set("Range", "bytes="+strings.Join(ranges[:ziparchive.MaxEntryReopens-1], ","))
	rec, err = serveEntryRecorded(t, blob, req, "big.log", entryOptions{})
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, rec.Code)

	// Stored data is read in place, so no cap applies to it.
	stored := memZipBlob(ziptest.Build(t, ziptest.Stored("big.log", string(payload))))
	req.Header.Set("Range", "bytes="+strings.Join(ranges, ","))
	rec, err = serveEntryRecorded(t, stored, req, "big.log", entryOptions{})
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, rec.Code)
	require.Contains(t, rec.Body.String(), string(payload[250_000:250_010]))
}

// TestServeArchiveEntryStorageError: a blob that fails to read is the
// storage's fault (500), not an invalid archive (422).
func TestServeArchiveEntryStorageError(t *testing.T) {
	archive := ziptest.Build(t, ziptest.Stored("a.txt", "a"))
	errStorage := errors.New("storage offline")
	blob := &zipTestBlob{ReaderAt: failingReaderAt{err: errStorage}, info: BlobInfo{Size: int64(len(archive))}}
	_, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), "a.txt", entryOptions{})
	require.ErrorIs(t, err, errStorage)
	require.NotErrorIs(t, err, ErrInvalidArchive)
	require.ErrorIs(t, validateZipArchive(blob, blob.info.Size), errStorage)
}

// TestServeArchiveEntryStorageErrorAtLocalHeader: the central directory
// reads fine, then the blob fails on the entry's local header; that too is
// the storage's fault, not the archive's.
func TestServeArchiveEntryStorageErrorAtLocalHeader(t *testing.T) {
	// Large enough that reading the central directory stays clear of the
	// local header at offset 0.
	archive := ziptest.Build(t, ziptest.Stored("a.txt", strings.Repeat("a", 64<<10)))
	errStorage := errors.New("storage offline")
	blob := &zipTestBlob{
		ReaderAt: headFailingReaderAt{data: archive, failBelow: 30, err: errStorage},
		info:     BlobInfo{Size: int64(len(archive))},
	}
	for name, find := range map[string]entryFinder{"walk": findZipEntryByWalk, "index": indexFinder(t)} {
		err := serveArchiveEntryWith(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), blob, "a.txt", entryOptions{}, find)
		require.ErrorIs(t, err, errStorage, name)
		require.NotErrorIs(t, err, ErrInvalidArchive, name)
	}
}

// headFailingReaderAt serves data but fails any read that starts below
// failBelow, where a zip keeps its first local header.
type headFailingReaderAt struct {
	data      []byte
	failBelow int64
	err       error
}

func (r headFailingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < r.failBelow {
		return 0, r.err
	}
	return bytes.NewReader(r.data).ReadAt(p, off)
}

type failingReaderAt struct{ err error }

func (r failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, r.err }

// discardResponseWriter is a ResponseWriter that keeps nothing, so the
// benchmark measures serving, not buffering.
type discardResponseWriter struct {
	header http.Header
	n      int64
}

func (w *discardResponseWriter) Header() http.Header { return w.header }
func (w *discardResponseWriter) WriteHeader(int)     {}
func (w *discardResponseWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkServeArchiveEntry serves a 32 MiB deflate entry; allocations per
// request must not grow with the entry.
func BenchmarkServeArchiveEntry(b *testing.B) {
	payload := logText(32 << 20)
	blob := memZipBlob(ziptest.Build(b, ziptest.Deflated("big.log", string(payload)), ziptest.Stored("small.txt", "x")))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, rule := range []contentTypeRule{contentTypeByExtension, contentTypeSniffed} {
		b.Run(fmt.Sprintf("rule=%d", rule), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				w := &discardResponseWriter{header: make(http.Header)}
				if err := serveArchiveEntry(w, req, blob, "big.log", entryOptions{contentType: rule}); err != nil {
					b.Fatal(err)
				}
				if w.n != int64(len(payload)) {
					b.Fatalf("served %d bytes, want %d", w.n, len(payload))
				}
			}
		})
	}
}

// TestServeArchiveEntryInsecurePathSetting: GODEBUG=zipinsecurepath=0 makes
// the zip reader flag names like "../evil.txt"; they are only names here.
func TestServeArchiveEntryInsecurePathSetting(t *testing.T) {
	t.Setenv("GODEBUG", "zipinsecurepath=0")
	blob := openCorpusBlob(t, "py-odd-names.zip")
	row := zipManifestEntry(t, "py-odd-names.zip", "../evil.txt")
	rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), "../evil.txt", entryOptions{})
	require.NoError(t, err)
	require.Equal(t, row.SHA256, zipcorpus.SHA256(rec.Body.Bytes()))
	require.NoError(t, validateZipArchive(blob, blob.info.Size))
}

// zerosEntry is a deflate entry of n zero bytes, compressed as it streams.
func zerosEntry(t testing.TB, name string, n int64) ziptest.Entry {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestSpeed)
	require.NoError(t, err)
	_, err = io.CopyN(fw, zeroReader{}, n)
	require.NoError(t, err)
	require.NoError(t, fw.Close())
	crc := crc32.NewIEEE()
	_, err = io.CopyN(crc, zeroReader{}, n)
	require.NoError(t, err)
	return ziptest.Entry{Raw: true, Name: name, Body: buf.Bytes(), Method: ziptest.Deflate, CRC32: crc.Sum32(), UncompressedSize: uint64(n)}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestServeArchiveEntryRangeAmplification (issue 10 item 7): a Range deep
// into a large compressed entry is ignored (200, the whole entry,
// Accept-Ranges: none), so the inflate work follows the bytes sent; small
// compressed entries and stored ones of any size keep their ranges; ranges
// that would make a request skip more than maxEntryDiscard bytes in all
// are cut.
func TestServeArchiveEntryRangeAmplification(t *testing.T) {
	stored := logText(3 * maxCompressedRangeEntry)
	archive := ziptest.Build(t,
		zerosEntry(t, "big-zeros.bin", 4*maxCompressedRangeEntry),
		zerosEntry(t, "small-zeros.bin", maxCompressedRangeEntry),
		ziptest.Stored("big-stored.log", string(stored)),
	)
	blob := memZipBlob(archive)
	get := func(name, rng string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Range", rng)
		rec, err := serveEntryRecorded(t, blob, req, name, entryOptions{})
		require.NoError(t, err)
		return rec
	}
	rec := get("big-zeros.bin", "bytes=-1")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "none", rec.Header().Get("Accept-Ranges"))
	require.Equal(t, 4*maxCompressedRangeEntry, rec.Body.Len())

	rec = get("small-zeros.bin", "bytes=-1")
	require.Equal(t, http.StatusPartialContent, rec.Code)
	require.Equal(t, []byte{0}, rec.Body.Bytes())

	rec = get("big-stored.log", "bytes=-1")
	require.Equal(t, http.StatusPartialContent, rec.Code)
	require.Equal(t, stored[len(stored)-1:], rec.Body.Bytes())

	// Descending ranges on the small entry: each reopens and skips; past
	// maxEntryDiscard in all the response is cut.
	var ranges []string
	for start := maxCompressedRangeEntry - 10; start > 0; start -= maxCompressedRangeEntry / 4 {
		ranges = append(ranges, fmt.Sprintf("%d-%d", start, start+1))
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Range", "bytes="+strings.Join(ranges, ","))
	_, err := serveEntryRecorded(t, blob, req, "small-zeros.bin", entryOptions{})
	require.ErrorIs(t, err, errStreamAborted)
	require.ErrorContains(t, err, "would skip more than")
}

// BenchmarkEntryRangeZeros is issue 10 item 7's attack: a 1 MB upload
// holding 1 GiB of zeros, asked for its last byte. Before: a 206 of one
// byte for which all of 1 GiB was inflated (0.22 s of CPU); now the Range is
// ignored and the entry sent whole, so the CPU follows the bytes sent
// (ns/sent-byte), as for any download. The 1 MiB entry's range (kept) shows
// the bounded case.
func BenchmarkEntryRangeZeros(b *testing.B) {
	archive := ziptest.Build(b, zerosEntry(b, "zeros.bin", 1<<30), zerosEntry(b, "small.bin", 1<<20))
	b.Logf("archive: %d bytes", len(archive))
	blob := memZipBlob(archive)
	for _, name := range []string{"zeros.bin", "small.bin"} {
		b.Run(name, func(b *testing.B) {
			var sent int64
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Range", "bytes=-1")
				w := &countingResponseWriter{header: http.Header{}}
				if err := serveArchiveEntry(w, req, blob, name, entryOptions{}); err != nil {
					b.Fatal(err)
				}
				sent += w.n
			}
			b.ReportMetric(float64(sent)/float64(b.N), "sent-bytes/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sent), "ns/sent-byte")
		})
	}
}

// countingResponseWriter counts the body bytes and keeps none.
type countingResponseWriter struct {
	header http.Header
	n      int64
}

func (w *countingResponseWriter) Header() http.Header { return w.header }
func (w *countingResponseWriter) WriteHeader(int)     {}
func (w *countingResponseWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// indexFinder is the entryFinder through an archive index of its own,
// built in the background by the first lookup.
func indexFinder(t testing.TB) entryFinder {
	c := newArchiveIndexCache(1 << 20)
	return func(ctx context.Context, ra io.ReaderAt, size int64, name string) (*ziparchive.Entry, error) {
		e, wait, err := c.findEntry(ctx, testVersion("k"), ra, size, name, nil)
		wait()
		return e, err
	}
}

// TestEntryETagValue pins entryETag to its definition: the hex of the first
// 16 bytes of SHA-256(blob ETag, 0, name), quoted.
func TestEntryETagValue(t *testing.T) {
	for _, tc := range []struct{ blob, name string }{
		{`"blob-1"`, "a.txt"},
		{`W/"x"`, "dist/4k.bin"},
		{`"` + strings.Repeat("e", 300) + `"`, strings.Repeat("n/", 200) + "long"},
	} {
		h := sha256.New()
		h.Write([]byte(tc.blob))
		h.Write([]byte{0})
		h.Write([]byte(tc.name))
		require.Equal(t, `"`+hex.EncodeToString(h.Sum(nil)[:16])+`"`, entryETag(tc.blob, tc.name))
	}
}

// writeCountingRecorder is a ResponseRecorder that counts body Writes.
type writeCountingRecorder struct {
	*httptest.ResponseRecorder
	writes []int
}

func (w *writeCountingRecorder) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.ResponseRecorder.Write(p)
}

// TestServeArchiveEntryPooledMemory: with the pool's memory reused from one
// request to the next, each answer has its own entry's bytes, the whole or
// the range in one Write.
func TestServeArchiveEntryPooledMemory(t *testing.T) {
	one, two := logText(6000), bytes.Repeat([]byte("z"), 6000)
	blob := memZipBlob(ziptest.Build(t, ziptest.Deflated("one.log", string(one)), ziptest.Stored("two.bin", string(two))))
	opts := entryOptions{buffers: new(ziparchive.BufferPool)}
	for range 3 {
		for _, tc := range []struct {
			name, rng string
			want      []byte
			status    int
		}{
			{"one.log", "", one, http.StatusOK},
			{"two.bin", "", two, http.StatusOK},
			{"one.log", "bytes=10-99", one[10:100], http.StatusPartialContent},
		} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			rec := &writeCountingRecorder{ResponseRecorder: httptest.NewRecorder()}
			require.NoError(t, serveArchiveEntry(rec, req, blob, tc.name, opts))
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, strconv.Itoa(len(tc.want)), rec.Header().Get("Content-Length"))
			require.Equal(t, []int{len(tc.want)}, rec.writes, "%s %q", tc.name, tc.rng)
			require.Equal(t, string(tc.want), rec.Body.String(), "%s %q", tc.name, tc.rng)
		}
	}
}

// TestServeArchiveEntryReusesKeptMemory: with a BufferPool, serving a
// small entry allocates neither the memory it is verified into nor a copy
// buffer per request (without one, that is 1.5 times the entry).
func TestServeArchiveEntryReusesKeptMemory(t *testing.T) {
	payload := logText(60 << 10)
	blob := memZipBlob(ziptest.Build(t, ziptest.Stored("e.log", string(payload))))
	opts := entryOptions{buffers: new(ziparchive.BufferPool)}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &countingResponseWriter{header: make(http.Header)}
	serve := func() {
		clear(w.header)
		w.n = 0
		require.NoError(t, serveArchiveEntry(w, req, blob, "e.log", opts))
		require.Equal(t, int64(len(payload)), w.n)
	}
	serve()
	const runs = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		serve()
	}
	runtime.ReadMemStats(&after)
	// sync.Pool drops a quarter of what it is given under -race.
	perRequest := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("%d bytes allocated per request", perRequest)
	require.Less(t, perRequest, uint64(len(payload))/2, "bytes allocated per request")
}

// TestEntryBuffersHTTP1Only: entry readers borrow pooled memory over
// HTTP/1 only; over HTTP/2 a reset stream's queued write may still read it.
func TestEntryBuffersHTTP1Only(t *testing.T) {
	h := New(nil, nil)
	r := httptest.NewRequest("GET", "/", nil)
	require.Same(t, &h.buffers, h.entryBuffers(r))
	r.ProtoMajor, r.ProtoMinor = 2, 0
	require.Nil(t, h.entryBuffers(r))
}
