//go:build linux

package jobartifacts_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/logtest"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// fileBlobStore is a memstore whose archive blobs are all one local file
// (a jobartifacts.FileBlob), as fsstore's are. Each Blob reports, when it
// is closed, its file's own offset: only sendfile(2) moves it, since a
// FileBlob's reads are preads.
type fileBlobStore struct {
	*memstore.Store
	path    string
	size    int64 // what Info says: more than the file holds fakes a short blob
	offsets chan int64
}

func (s *fileBlobStore) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	b, err := s.Store.OpenBlob(ctx, key)
	if err != nil {
		return nil, err
	}
	b.Close()
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	return &testFileBlob{f: f, size: s.size, offsets: s.offsets}, nil
}

type testFileBlob struct {
	f       *os.File
	size    int64
	offsets chan int64
}

var _ jobartifacts.FileBlob = (*testFileBlob)(nil)

func (b *testFileBlob) ReadAt(p []byte, off int64) (int, error) { return b.f.ReadAt(p, off) }
func (b *testFileBlob) File() *os.File                          { return b.f }
func (b *testFileBlob) Info() jobartifacts.BlobInfo {
	return jobartifacts.BlobInfo{Size: b.size, ModTime: apiNow, ETag: `"file"`}
}

func (b *testFileBlob) NewRangeReader(off, n int64) (io.ReadCloser, error) {
	if n < 0 {
		n = b.size - off
	}
	return io.NopCloser(io.NewSectionReader(b.f, off, n)), nil
}

func (b *testFileBlob) Close() error {
	pos, err := b.f.Seek(0, io.SeekCurrent)
	if err != nil {
		pos = -1
	}
	b.offsets <- pos
	return b.f.Close()
}

func newFileBlobFixture(t *testing.T, data []byte, size int64, accessLogs *logtest.Buffer) (*apiFixture, *fileBlobStore) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	s := &fileBlobStore{path: path, size: size, offsets: make(chan int64, 16)}
	f := newAPIFixture(t, apiFixtureConfig{
		wrapStore: func(m *memstore.Store) jobartifacts.Store { s.Store = m; return s },
		wrapHandler: func(h http.Handler) http.Handler {
			return jobartifacts.AccessLog(h, slog.New(slog.NewTextHandler(accessLogs, nil)))
		},
	})
	return f, s
}

// getArchiveRange GETs job 100's archive as a reporter, with a Range
// header unless rangeHdr is empty, and reads the whole body.
func getArchiveRange(t *testing.T, f *apiFixture, rangeHdr string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.server.URL+"/api/v4/projects/1/jobs/100/artifacts", nil)
	require.NoError(t, err)
	req.Header.Set("PRIVATE-TOKEN", apiTokenReporter)
	if rangeHdr != "" {
		req.Header.Set("Range", rangeHdr)
	}
	resp, err := f.client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	return resp, body
}

func (s *fileBlobStore) lastOffset(t *testing.T) int64 {
	t.Helper()
	select {
	case pos := <-s.offsets:
		return pos
	case <-time.After(10 * time.Second):
		t.Fatal("the blob was not closed")
		return 0
	}
}

// TestArchiveSendfile: a whole archive from a FileBlob, served over a TCP
// connection through AccessLog, is sent by the kernel from the file
// (sendfile(2) moved the file's offset to the end of what was asked); a
// multi-range answer, which sendfile cannot send, still reads the bytes.
func TestArchiveSendfile(t *testing.T) {
	data := make([]byte, 3<<20+123)
	_, _ = rand.Read(data)
	logs := &logtest.Buffer{}
	f, store := newFileBlobFixture(t, data, int64(len(data)), logs)
	url := f.server.URL + "/api/v4/projects/1/jobs/100/artifacts"

	tests := []struct {
		name       string
		rangeHdr   string
		wantStatus int
		want       []byte
		wantOffset int64 // the file's offset when the Blob is closed
	}{
		{"whole", "", http.StatusOK, data, int64(len(data))},
		{"one range", "bytes=1000-1999999", http.StatusPartialContent, data[1000:2000000], 2000000},
		{"open range", "bytes=70000-", http.StatusPartialContent, data[70000:], int64(len(data))},
		// Under net/http's sniff length (512): copied, not sent.
		{"small range", "bytes=10-19", http.StatusPartialContent, data[10:20], 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getArchiveRange(t, f, tt.rangeHdr)
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			require.True(t, bytes.Equal(tt.want, body), "body: %d bytes, want %d", len(body), len(tt.want))
			require.Equal(t, tt.wantOffset, store.lastOffset(t), "file offset after the response")
		})
	}

	t.Run("multipart ranges", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		req.Header.Set("PRIVATE-TOKEN", apiTokenReporter)
		req.Header.Set("Range", "bytes=0-99,2000000-2999999")
		resp, err := f.client.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusPartialContent, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Content-Type"), "multipart/byteranges")
		require.True(t, bytes.Contains(body, data[2000000:3000000]))
		require.Equal(t, int64(0), store.lastOffset(t), "multipart answers are copied")
	})

	require.Contains(t, logs.String(), fmt.Sprintf("status=200 bytes=%d", len(data)), "AccessLog counts what sendfile sent")
	require.NotContains(t, f.logs.String(), "stream aborted")
}

// TestArchiveSmallCopy: a copy of at most 32 KiB from a FileBlob (a small
// archive, or a short range of a large one) is read in one piece and
// written, not sent with sendfile (the file's offset never moves); one
// byte longer, sendfile again. The bytes and AccessLog's count are the
// same either way.
func TestArchiveSmallCopy(t *testing.T) {
	const limit = 32 << 10
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	tests := []struct {
		name       string
		size       int // of the archive
		rangeHdr   string
		want       []byte
		wantOffset int64
	}{
		{"tiny archive", 4250, "", data[:4250], 0},
		{"archive at the limit", limit, "", data[:limit], 0},
		{"archive over the limit", limit + 1, "", data[:limit+1], limit + 1},
		{"range at the limit", len(data), fmt.Sprintf("bytes=1000-%d", 1000+limit-1), data[1000 : 1000+limit], 0},
		{"range over the limit", len(data), fmt.Sprintf("bytes=1000-%d", 1000+limit), data[1000 : 1000+limit+1], 1000 + limit + 1},
		{"last bytes", len(data), "bytes=-100", data[len(data)-100:], 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logtest.Buffer{}
			f, store := newFileBlobFixture(t, data[:tt.size], int64(tt.size), logs)
			_, body := getArchiveRange(t, f, tt.rangeHdr)
			require.True(t, bytes.Equal(tt.want, body), "body: %d bytes, want %d", len(body), len(tt.want))
			require.Equal(t, tt.wantOffset, store.lastOffset(t), "file offset after the response (moved only by sendfile)")
			// AccessLog writes its line after the handler returns.
			want := fmt.Sprintf("bytes=%d", len(tt.want))
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), want) }, 10*time.Second, time.Millisecond,
				"access log: %s", logs.String())
			require.NotContains(t, f.logs.String(), "stream aborted")
		})
	}
}

// TestArchiveShortBlob: a FileBlob whose file holds fewer bytes than its
// size sends what the file has, by sendfile (1 MiB) or by the short copy
// (10 KiB); either way that is recorded as the blob's failure, logged, and
// the response is cut, as on the copying path.
func TestArchiveShortBlob(t *testing.T) {
	tests := []struct {
		name       string
		data       []byte
		missing    int64
		wantOffset int64 // the file's offset when the Blob is closed
		wantLog    string
	}{
		{"sendfile", bytes.Repeat([]byte("0123456789abcdef"), 64<<10), 5000, 1 << 20, "blob ended at 1048576 of 1053576 bytes"},
		{"short copy", bytes.Repeat([]byte("0123456789"), 1024), 2048, 0, "blob ended at 10240 of 12288 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, store := newFileBlobFixture(t, tt.data, int64(len(tt.data))+tt.missing, &logtest.Buffer{})
			req, err := http.NewRequest(http.MethodGet, f.server.URL+"/api/v4/projects/1/jobs/100/artifacts", nil)
			require.NoError(t, err)
			req.Header.Set("PRIVATE-TOKEN", apiTokenReporter)
			resp, err := f.client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			body, err := io.ReadAll(resp.Body)
			require.Error(t, err, "the transfer must be seen as cut")
			require.True(t, bytes.Equal(tt.data, body), "what the file holds is sent: %d bytes", len(body))
			require.Equal(t, tt.wantOffset, store.lastOffset(t), "moved only by sendfile")

			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(f.logs.String(), "stream aborted") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			require.Contains(t, f.logs.String(), `level=WARN msg="jobartifacts: stream aborted"`)
			require.Contains(t, f.logs.String(), tt.wantLog)
		})
	}
}

// TestArchiveSmallCopyOverHTTP2: small archives from a FileBlob, 32 at
// once over one HTTP/2 connection, each get every byte. (The short copy's
// pooled buffer is used over HTTP/1 only: an HTTP/2 Write that returns on a
// reset stream may leave its bytes queued, see entryBuffers. This test
// cannot reset streams at the right instant, so it checks the bytes, not
// the guard.)
func TestArchiveSmallCopyOverHTTP2(t *testing.T) {
	data := make([]byte, 20000)
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	s := &fileBlobStore{path: path, size: int64(len(data)), offsets: make(chan int64, 64)}
	f := newAPIFixture(t, apiFixtureConfig{
		tls: true, http2: true,
		wrapStore: func(m *memstore.Store) jobartifacts.Store { s.Store = m; return s },
	})
	errs := make(chan error, 32)
	for range 32 {
		go func() {
			defer func() { <-s.offsets }() // every Blob is closed
			req, err := http.NewRequest(http.MethodGet, f.server.URL+"/api/v4/projects/1/jobs/100/artifacts", nil)
			if err != nil {
				errs <- err
				return
			}
			req.Header.Set("PRIVATE-TOKEN", apiTokenReporter)
			resp, err := f.client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case err != nil:
				errs <- err
			case resp.Proto != "HTTP/2.0":
				errs <- fmt.Errorf("proto %s", resp.Proto)
			case !bytes.Equal(data, body):
				errs <- fmt.Errorf("body: %d bytes differ from the archive's %d", len(body), len(data))
			default:
				errs <- nil
			}
		}()
	}
	for range 32 {
		require.NoError(t, <-errs)
	}
}
