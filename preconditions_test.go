package jobartifacts

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// A small entry is verified before its headers only when the response
// sends it: a 304 or a 412 is answered from the central directory, even
// for a damaged entry, and which requests those are is ServeContent's
// decision, malformed headers included.
func TestServeArchiveEntryPreconditionsSkipVerification(t *testing.T) {
	blob := openCorpusBlob(t, "neg-bad-crc-stored.zip")
	etag := entryETag(blob.Info().ETag, "bad.log")
	require.NotEmpty(t, etag)
	lastModified := zipTestModTime.Format(http.TimeFormat)
	cases := []struct {
		name       string
		method     string
		header     http.Header
		wantStatus int // 0: the damaged entry's error, before any header
	}{
		{name: "if-none-match", header: http.Header{"If-None-Match": {etag}}, wantStatus: http.StatusNotModified},
		{name: "if-none-match weak, in a list", header: http.Header{"If-None-Match": {`"other", W/` + etag}}, wantStatus: http.StatusNotModified},
		{name: "if-none-match any", header: http.Header{"If-None-Match": {"*"}}, wantStatus: http.StatusNotModified},
		{name: "head, if-none-match", method: http.MethodHead, header: http.Header{"If-None-Match": {etag}}, wantStatus: http.StatusNotModified},
		{name: "if-modified-since", header: http.Header{"If-Modified-Since": {lastModified}}, wantStatus: http.StatusNotModified},
		{name: "if-match other", header: http.Header{"If-Match": {`"other"`}}, wantStatus: http.StatusPreconditionFailed},
		{name: "if-unmodified-since past", header: http.Header{"If-Unmodified-Since": {zipTestModTime.Add(-time.Hour).Format(http.TimeFormat)}},
			wantStatus: http.StatusPreconditionFailed},

		{name: "no conditions"},
		{name: "head", method: http.MethodHead},
		{name: "if-none-match other", header: http.Header{"If-None-Match": {`"other"`}}},
		// net/http stops at the space, which no ETag may hold, and sends
		// the entry: it is verified.
		{name: "if-none-match malformed before ours", header: http.Header{"If-None-Match": {`"a b", ` + etag}}},
		{name: "if-match ours", header: http.Header{"If-Match": {etag}}},
		{name: "if-modified-since past", header: http.Header{"If-Modified-Since": {zipTestModTime.Add(-time.Hour).Format(http.TimeFormat)}}},
		// If-None-Match wins over If-Modified-Since, as RFC 9110 says.
		{name: "if-none-match other, if-modified-since", header: http.Header{"If-None-Match": {`"other"`}, "If-Modified-Since": {lastModified}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "/", nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			rec, err := serveEntryRecorded(t, blob, req, "bad.log", entryOptions{})
			if tc.wantStatus == 0 {
				require.ErrorIs(t, err, ErrInvalidArchive)
				require.ErrorIs(t, err, ziparchive.ErrChecksum)
				require.Empty(t, rec.Header())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantStatus, rec.Code)
			require.Empty(t, rec.Body.Bytes())
		})
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// A 304 for a small entry reads the archive's directory and the entry's
// local header, not its data.
func TestServeArchiveEntryNotModifiedReadsNoData(t *testing.T) {
	payload := logText(2 << 20)
	blob := memZipBlob(ziptest.Build(t, ziptest.Entry{Name: "build.log", Body: payload, Method: ziptest.Deflate}))
	counter := &countingReaderAt{r: blob.ReaderAt}
	blob.ReaderAt = counter
	etag := entryETag(blob.Info().ETag, "build.log")

	rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), "build.log", entryOptions{})
	require.NoError(t, err)
	require.Equal(t, payload, rec.Body.Bytes())
	compressed := blob.Info().Size
	require.Greater(t, counter.n.Load(), compressed/2, "a 200 reads the entry")

	counter.n.Store(0)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("If-None-Match", etag)
	rec, err = serveEntryRecorded(t, blob, req, "build.log", entryOptions{})
	require.NoError(t, err)
	require.Equal(t, http.StatusNotModified, rec.Code)
	require.Less(t, counter.n.Load(), int64(64<<10), "a 304 of a %d-byte archive", compressed)
}
