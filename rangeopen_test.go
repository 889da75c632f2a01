package jobartifacts_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// rangeCall is one Blob.NewRangeReader call.
type rangeCall struct{ off, length int64 }

// rangeRecordingStore is a memstore whose blobs record their NewRangeReader
// calls, as object storage would see them (one GET each).
type rangeRecordingStore struct {
	*memstore.Store
	mu    sync.Mutex
	calls []rangeCall
}

func (s *rangeRecordingStore) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	b, err := s.Store.OpenBlob(ctx, key)
	if err != nil {
		return nil, err
	}
	return &rangeRecordingBlob{Blob: b, store: s}, nil
}

// takeCalls returns the calls recorded since the last takeCalls.
func (s *rangeRecordingStore) takeCalls() []rangeCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = nil
	return calls
}

type rangeRecordingBlob struct {
	jobartifacts.Blob
	store *rangeRecordingStore
}

func (b *rangeRecordingBlob) NewRangeReader(off, length int64) (io.ReadCloser, error) {
	b.store.mu.Lock()
	b.store.calls = append(b.store.calls, rangeCall{off, length})
	b.store.mu.Unlock()
	return b.Blob.NewRangeReader(off, length)
}

// rangeFixture serves job 100's archive, an entry of n random bytes, from
// a store that records the ranges opened, and returns the archive as a
// whole download got it (whose range it takes).
func rangeFixture(t *testing.T, n int) (*apiFixture, *rangeRecordingStore, apiResponse) {
	t.Helper()
	var rec *rangeRecordingStore
	f := newAPIFixture(t, apiFixtureConfig{
		wrapStore: func(m *memstore.Store) jobartifacts.Store {
			rec = &rangeRecordingStore{Store: m}
			return rec
		},
	})
	body := make([]byte, n)
	_, _ = rand.Read(body)
	_, err := f.store.PutArchive(t.Context(), 1, 100, ziptest.Build(t, ziptest.Entry{Name: "big.bin", Body: body}))
	require.NoError(t, err)
	whole := f.do(t, http.MethodGet, rangeTarget, headerOf("PRIVATE-TOKEN", apiTokenReporter))
	require.Equal(t, http.StatusOK, whole.status)
	return f, rec, whole
}

const rangeTarget = "/api/v4/projects/1/jobs/100/artifacts"

// TestArchiveRangeOpensOnlyItsRange: an archive download opens one range
// per range served, no longer than what is sent: a single range opens
// exactly its bytes (not the rest of the blob, which object storage would
// start sending), a whole download or a range to the end opens to the end,
// and a short part of a multi-range body opens its own bytes (a long one:
// TestArchiveMultiRangeLongPart). The bodies are those of the blob.
func TestArchiveRangeOpensOnlyItsRange(t *testing.T) {
	f, rec, whole := rangeFixture(t, 1<<20)
	const target = rangeTarget
	blob := whole.body
	size := int64(len(blob))
	require.Equal(t, []rangeCall{{0, -1}}, rec.takeCalls(), "whole download")
	etag := whole.header.Get("ETag")
	require.NotEmpty(t, etag)

	for _, tc := range []struct {
		name   string
		header []string
		status int
		calls  []rangeCall
		body   []byte   // single range or whole
		parts  [][]byte // multi-range
	}{
		{name: "single range", header: []string{"Range", "bytes=0-99"},
			status: http.StatusPartialContent, calls: []rangeCall{{0, 100}}, body: blob[:100]},
		{name: "single range inside", header: []string{"Range", "bytes=1000-1999"},
			status: http.StatusPartialContent, calls: []rangeCall{{1000, 1000}}, body: blob[1000:2000]},
		{name: "suffix range", header: []string{"Range", "bytes=-100"},
			status: http.StatusPartialContent, calls: []rangeCall{{size - 100, -1}}, body: blob[size-100:]},
		{name: "open range", header: []string{"Range", "bytes=100-"},
			status: http.StatusPartialContent, calls: []rangeCall{{100, -1}}, body: blob[100:]},
		{name: "range past the end", header: []string{"Range", fmt.Sprintf("bytes=%d-%d", size-10, size+1000)},
			status: http.StatusPartialContent, calls: []rangeCall{{size - 10, -1}}, body: blob[size-10:]},
		{name: "if-range match", header: []string{"Range", "bytes=10-19", "If-Range", etag},
			status: http.StatusPartialContent, calls: []rangeCall{{10, 10}}, body: blob[10:20]},
		{name: "if-range mismatch", header: []string{"Range", "bytes=10-19", "If-Range", `"other"`},
			status: http.StatusOK, calls: []rangeCall{{0, -1}}, body: blob},
		{name: "multi-range", header: []string{"Range", "bytes=0-9,5000-5099,-10"},
			status: http.StatusPartialContent, calls: []rangeCall{{0, 10}, {5000, 100}, {size - 10, -1}},
			parts: [][]byte{blob[:10], blob[5000:5100], blob[size-10:]}},
		{name: "unsatisfiable", header: []string{"Range", fmt.Sprintf("bytes=%d-", size)},
			status: http.StatusRequestedRangeNotSatisfiable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(t, http.MethodGet, target, headerOf(append([]string{"PRIVATE-TOKEN", apiTokenReporter}, tc.header...)...))
			require.Equal(t, tc.status, resp.status)
			require.Equal(t, tc.calls, rec.takeCalls())
			if tc.parts == nil {
				if tc.body != nil {
					require.True(t, bytes.Equal(tc.body, resp.body), "body")
				}
				return
			}
			mt, params, err := mime.ParseMediaType(resp.header.Get("Content-Type"))
			require.NoError(t, err)
			require.Equal(t, "multipart/byteranges", mt)
			mr := multipart.NewReader(bytes.NewReader(resp.body), params["boundary"])
			for i, want := range tc.parts {
				p, err := mr.NextPart()
				require.NoError(t, err, "part %d", i)
				got, err := io.ReadAll(p)
				require.NoError(t, err)
				require.True(t, bytes.Equal(want, got), "part %d", i)
			}
			_, err = mr.NextPart()
			require.ErrorIs(t, err, io.EOF)
		})
	}

	head := f.do(t, http.MethodHead, target, headerOf("PRIVATE-TOKEN", apiTokenReporter, "Range", "bytes=0-99"))
	require.Equal(t, http.StatusPartialContent, head.status)
	require.Empty(t, rec.takeCalls(), "HEAD reads nothing")
	require.True(t, strings.HasPrefix(head.header.Get("Content-Range"), "bytes 0-99/"))
}

// TestArchiveMultiRangeLongPart: a long part of a multi-range body, whose
// length ServeContent does not tell, opens growing ranges from its start,
// each at most twice the last, a few in all, and none to the blob's end.
func TestArchiveMultiRangeLongPart(t *testing.T) {
	f, rec, whole := rangeFixture(t, 4<<20)
	rec.takeCalls()

	const start, end = 1000, 1000 + 1<<20 // the long part: 1 MiB
	resp := f.do(t, http.MethodGet, rangeTarget, headerOf("PRIVATE-TOKEN", apiTokenReporter,
		"Range", fmt.Sprintf("bytes=0-0,%d-%d", start, end-1)))
	require.Equal(t, http.StatusPartialContent, resp.status)
	_, params, err := mime.ParseMediaType(resp.header.Get("Content-Type"))
	require.NoError(t, err)
	mr := multipart.NewReader(bytes.NewReader(resp.body), params["boundary"])
	for _, want := range [][]byte{whole.body[:1], whole.body[start:end]} {
		p, err := mr.NextPart()
		require.NoError(t, err)
		got, err := io.ReadAll(p)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got))
	}

	calls := rec.takeCalls()
	require.Equal(t, rangeCall{0, 1}, calls[0])
	long := calls[1:]
	require.LessOrEqual(t, len(long), 8, "%v", long)
	off := int64(start)
	for i, c := range long {
		require.Equal(t, off, c.off, "ranges follow each other: %v", long)
		require.Positive(t, c.length, "no range to the blob's end: %v", long)
		if i > 0 {
			require.LessOrEqual(t, c.length, 2*long[i-1].length, "%v", long)
		}
		off += c.length
	}
	require.GreaterOrEqual(t, off, int64(end))
	require.Less(t, off-end, int64(end-start), "what is opened past the part is less than the part: %v", long)
}
