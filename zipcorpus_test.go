package jobartifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
)

// zipManifestEntry returns the manifest row of entry in file.
func zipManifestEntry(t testing.TB, file, entry string) zipcorpus.Row {
	t.Helper()
	for _, row := range zipcorpus.Manifest(t) {
		if row.File == file && row.Entry == entry && !row.Whole {
			return row
		}
	}
	t.Fatalf("manifest has no row %s %q", file, entry)
	return zipcorpus.Row{}
}

// zipTestBlob is a Blob over any io.ReaderAt, as a store would hand out.
type zipTestBlob struct {
	io.ReaderAt
	info  BlobInfo
	close func() error
}

func (b *zipTestBlob) Info() BlobInfo { return b.info }

// NewRangeReader reads a section of the ReaderAt, as a file-backed store's
// range reader does.
func (b *zipTestBlob) NewRangeReader(off, n int64) (io.ReadCloser, error) {
	if off < 0 || off > b.info.Size {
		return nil, fmt.Errorf("range offset %d outside 0..%d", off, b.info.Size)
	}
	if n < 0 || n > b.info.Size-off {
		n = b.info.Size - off
	}
	return io.NopCloser(io.NewSectionReader(b.ReaderAt, off, n)), nil
}

func (b *zipTestBlob) Close() error {
	if b.close == nil {
		return nil
	}
	return b.close()
}

var zipTestModTime = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// openCorpusBlob opens a corpus archive as a Blob (an os.File as io.ReaderAt).
func openCorpusBlob(t testing.TB, file string) *zipTestBlob {
	t.Helper()
	f, err := os.Open(zipcorpus.Path(t, file))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	fi, err := f.Stat()
	require.NoError(t, err)
	return &zipTestBlob{
		ReaderAt: f,
		info: BlobInfo{
			Size:    fi.Size(),
			ModTime: zipTestModTime,
			ETag:    fmt.Sprintf(`"%s-%d"`, file, fi.Size()),
		},
	}
}

// zipServeResult is what one call of serveArchiveEntry did.
type zipServeResult struct {
	err error
	// touched: a header was set or anything written before an error that
	// should have come before headers.
	touched bool
}

// zipEntryServer serves GET/HEAD /e/<percent-encoded entry name> from one
// archive through serveArchiveEntry, answering its errors as the handler
// will: sentinels to statuses, errStreamAborted to panic(http.ErrAbortHandler).
// Like the handler, it rejects names that are not UTF-8, contain NUL or are
// empty with 400 before touching the archive.
type zipEntryServer struct {
	*httptest.Server
	// results gets one value per serveArchiveEntry call. The handler sends it
	// after the response may already have reached the client, so tests wait.
	results chan zipServeResult
}

func newZipEntryServer(t testing.TB, blob Blob, opts entryOptions) *zipEntryServer {
	t.Helper()
	s := &zipEntryServer{results: make(chan zipServeResult, 64)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.URL.EscapedPath(), "/e/")
		if !ok {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		name, err := url.PathUnescape(raw) // exactly one decoding
		if err != nil || name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		tracker := &zipWriteTracker{ResponseWriter: w}
		err = serveArchiveEntry(tracker, r, blob, name, opts)
		res := zipServeResult{err: err}
		if err != nil && !errors.Is(err, errStreamAborted) {
			res.touched = tracker.wrote || len(w.Header()) > 0
		}
		s.results <- res
		switch {
		case err == nil:
		case errors.Is(err, errStreamAborted):
			panic(http.ErrAbortHandler)
		case tracker.wrote:
			// Too late for a status; the result records the fault.
		default:
			clear(w.Header())
			w.WriteHeader(zipTestStatus(err))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// zipTestStatus maps serveArchiveEntry's errors as the handler does.
func zipTestStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalidArchive):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusInternalServerError
	}
}

// awaitResult returns what the last request's serveArchiveEntry did. The
// timeout only guards against a hang; it asserts nothing about speed.
func (s *zipEntryServer) awaitResult(t testing.TB) zipServeResult {
	t.Helper()
	var res zipServeResult
	select {
	case res = <-s.results:
	case <-time.After(time.Minute):
		t.Fatal("serveArchiveEntry was not called")
	}
	// A transport retry of an aborted request may have called it again.
	for {
		select {
		case res = <-s.results:
		default:
			return res
		}
	}
}

// notCalled reports whether serveArchiveEntry has not been called since the
// last awaitResult. Only meaningful once the handler has returned.
func (s *zipEntryServer) notCalled() bool {
	return len(s.results) == 0
}

type zipWriteTracker struct {
	http.ResponseWriter
	wrote bool
}

func (t *zipWriteTracker) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *zipWriteTracker) Write(p []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(p)
}

// zipEntryResponse is what a client saw.
type zipEntryResponse struct {
	status  int
	header  http.Header
	body    []byte
	err     error // from the round trip or from reading the body
	request *http.Request
}

// complete reports whether the client got a whole, successful 200.
func (r zipEntryResponse) complete() bool {
	return r.err == nil && r.status == http.StatusOK &&
		r.header.Get("Content-Length") == strconv.Itoa(len(r.body))
}

func (s *zipEntryServer) get(t testing.TB, method, name string, header http.Header) zipEntryResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+"/e/"+zipcorpus.EscapePath(name), nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		return zipEntryResponse{err: err, request: req}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return zipEntryResponse{status: resp.StatusCode, header: resp.Header, body: body, err: err, request: req}
}

// TestZipCorpusManifest drives every row of MANIFEST.tsv through real HTTP.
func TestZipCorpusManifest(t *testing.T) {
	rows := zipcorpus.Manifest(t)
	servers := make(map[string]*zipEntryServer)
	blobs := make(map[string]*zipTestBlob)
	for _, row := range rows {
		if servers[row.File] == nil {
			blobs[row.File] = openCorpusBlob(t, row.File)
			servers[row.File] = newZipEntryServer(t, blobs[row.File], entryOptions{contentType: contentTypeByExtension})
		}
	}

	for _, row := range rows {
		srv, blob := servers[row.File], blobs[row.File]
		t.Run(row.File+"/"+row.Entry+"/"+row.Expect, func(t *testing.T) {
			switch {
			case row.Whole && row.Expect == "opens":
				require.NoError(t, validateZipArchive(blob, blob.info.Size))
				_, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", true)
				require.NoError(t, err)

			case row.Whole && row.Expect == "error-before-headers":
				require.ErrorIs(t, validateZipArchive(blob, blob.info.Size), ErrInvalidArchive)
				_, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", false)
				require.ErrorIs(t, err, ErrInvalidArchive)
				// Every entry fails, whether the archive once had it or not.
				for _, name := range []string{"README.txt", "good.txt", "no-such-entry"} {
					resp := srv.get(t, http.MethodGet, name, nil)
					require.NoError(t, resp.err)
					require.Equal(t, http.StatusUnprocessableEntity, resp.status, name)
					res := srv.awaitResult(t)
					require.ErrorIs(t, res.err, ErrInvalidArchive)
					require.False(t, res.touched, "headers touched before the error")
				}

			case row.Expect == "serve":
				resp := srv.get(t, http.MethodGet, row.Entry, nil)
				require.NoError(t, resp.err)
				require.Equal(t, http.StatusOK, resp.status)
				require.Equal(t, strconv.FormatInt(row.Size, 10), resp.header.Get("Content-Length"))
				require.Len(t, resp.body, int(row.Size))
				require.Equal(t, row.SHA256, zipcorpus.SHA256(resp.body))
				res := srv.awaitResult(t)
				require.NoError(t, res.err)

			case row.Expect == "404":
				resp := srv.get(t, http.MethodGet, row.Entry, nil)
				require.NoError(t, resp.err)
				require.Equal(t, http.StatusNotFound, resp.status)
				res := srv.awaitResult(t)
				require.ErrorIs(t, res.err, ErrNotFound)
				require.False(t, res.touched, "headers touched before the error")

			case row.Expect == "error-before-headers":
				resp := srv.get(t, http.MethodGet, row.Entry, nil)
				require.NoError(t, resp.err)
				require.Equal(t, http.StatusUnprocessableEntity, resp.status)
				require.Empty(t, resp.body)
				res := srv.awaitResult(t)
				require.ErrorIs(t, res.err, ErrInvalidArchive)
				require.False(t, res.touched, "headers touched before the error")

			case row.Expect == "abort-mid-stream" && row.Size <= verifyBeforeHeadersLimit:
				// Small enough to be verified before the headers: a clean 422.
				resp := srv.get(t, http.MethodGet, row.Entry, nil)
				require.NoError(t, resp.err)
				require.Equal(t, http.StatusUnprocessableEntity, resp.status)
				res := srv.awaitResult(t)
				require.ErrorIs(t, res.err, ErrInvalidArchive)
				require.False(t, res.touched, "headers touched before the error")

			case row.Expect == "abort-mid-stream":
				resp := srv.get(t, http.MethodGet, row.Entry, nil)
				require.False(t, resp.complete(), "client got a complete 200 for a damaged entry")
				require.NotEqual(t, row.SHA256, zipcorpus.SHA256(resp.body))
				res := srv.awaitResult(t)
				require.ErrorIs(t, res.err, errStreamAborted)

			case row.Expect == "400-invalid-path":
				resp := srv.get(t, http.MethodGet, row.Entry, nil)
				require.NoError(t, resp.err)
				require.Equal(t, http.StatusBadRequest, resp.status)
				require.True(t, srv.notCalled(), "archive opened for an invalid path")
				// Listings still cope with the entry: it is there, raw.
				entries, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", false)
				require.NoError(t, err)
				require.Contains(t, treeEntryPaths(entries), row.Entry)

			default:
				t.Fatalf("manifest expect %q on row %q not handled", row.Expect, row.Entry)
			}
		})
	}
}

func treeEntryPaths(entries []treeEntry) []string {
	paths := make([]string, len(entries))
	for i, e := range entries {
		paths[i] = e.Path
	}
	return paths
}
