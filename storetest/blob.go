package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

func blobCases() []blobCase {
	return []blobCase{
		{"RoundTrip", testBlobRoundTrip},
		{"Info", testBlobInfo},
		{"ETagDiffersForDifferentBytes", testBlobETagDiffers},
		{"ReadAt", testBlobReadAt},
		{"ZeroLength", testBlobZeroLength},
		{"ReaderWithSmallReadsAndDataWithEOF", testBlobAwkwardReader},
		{"Large", testBlobLarge},
		{"ConcurrentReadAt", testBlobConcurrentReadAt},
		{"FailedPutLeavesNothing", testBlobFailedPutLeavesNothing},
		{"FailedPutKeepsExistingBlob", testBlobFailedPutKeepsExisting},
		{"CancelledPut", testBlobCancelledPut},
		{"CancelledDuringPut", testBlobCancelledDuringPut},
		{"Delete", testBlobDelete},
		{"DeleteMissing", testBlobDeleteMissing},
		{"OpenMissing", testBlobOpenMissing},
		{"CancelledOpen", testBlobCancelledOpen},
		{"ReadAtAfterOpenContextDone", testBlobReadAfterOpenContextDone},
		{"DistinctKeys", testBlobDistinctKeys},
	}
}

func writeOnceCases() []blobCase {
	return []blobCase{
		{"PutExistingKeyConflicts", testBlobPutExistingKey},
	}
}

// blobKey is a key shaped as NewBlobKey makes them.
func blobKey(name string) jobartifacts.BlobKey {
	return jobartifacts.BlobKey("projects/1/jobs/2/" + name + "-0123456789abcdef")
}

// pseudoRandom returns n deterministic, non-repeating bytes, so that a
// misplaced chunk cannot read back as correct.
func pseudoRandom(seed byte, n int) []byte {
	var s [32]byte
	s[0] = seed
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b) // ChaCha8.Read never fails
	return b
}

// onlyReader hides everything but Read (WriterTo, Len, Seek), so stores
// cannot take a shortcut that a network body would not offer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func putBlob(t *testing.T, s jobartifacts.BlobStore, key jobartifacts.BlobKey, data []byte) jobartifacts.BlobInfo {
	t.Helper()
	info, err := s.PutBlob(t.Context(), key, onlyReader{bytes.NewReader(data)})
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), info.Size, "PutBlob's BlobInfo.Size")
	return info
}

// readBlob opens key and reads it whole, through ReadAt and through
// NewRangeReader, and checks that both read the same.
func readBlob(t *testing.T, s jobartifacts.BlobStore, key jobartifacts.BlobKey) ([]byte, jobartifacts.BlobInfo) {
	t.Helper()
	b, err := s.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	info := b.Info()
	data, err := readAll(b)
	require.NoError(t, err)
	r, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	streamed, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.Equal(t, data, streamed, "ReadAt and NewRangeReader read the same bytes")
	return data, info
}

// requireNoBlob checks that key is neither openable nor listed.
func requireNoBlob(t *testing.T, s jobartifacts.BlobStore, key jobartifacts.BlobKey, msgAndArgs ...any) {
	t.Helper()
	b, err := s.OpenBlob(t.Context(), key)
	if err == nil {
		_ = b.Close()
	}
	requireNotFound(t, err, msgAndArgs...)
	for _, a := range listAll(t, s, string(key), 10) {
		require.NotEqual(t, key, a.Key, msgAndArgs...)
	}
}

// readAll reads a Blob whole through ReadAt, without require, for use off
// the test goroutine.
func readAll(b jobartifacts.Blob) ([]byte, error) {
	return io.ReadAll(io.NewSectionReader(b, 0, b.Info().Size))
}

func requireStrongETag(t *testing.T, etag string) {
	t.Helper()
	require.False(t, strings.HasPrefix(etag, "W/"), "ETag %s must be strong", etag)
	require.Greater(t, len(etag), 2, "ETag %s must not be empty", etag)
	require.True(t, strings.HasPrefix(etag, `"`) && strings.HasSuffix(etag, `"`), "ETag %s must be quoted", etag)
	require.NotContains(t, etag[1:len(etag)-1], `"`, "ETag %s: one quoted string", etag)
}

// PutBlob stores everything read from r; OpenBlob reads it back.
func testBlobRoundTrip(t *testing.T, s jobartifacts.BlobStore) {
	want := pseudoRandom(1, 100_000)
	putBlob(t, s, blobKey("archive"), want)
	got, info := readBlob(t, s, blobKey("archive"))
	require.Equal(t, want, got)
	require.Equal(t, int64(len(want)), info.Size)
}

// BlobInfo: Size, a non-zero ModTime and a quoted strong ETag, the same from
// PutBlob and from the opened Blob.
func testBlobInfo(t *testing.T, s jobartifacts.BlobStore) {
	data := pseudoRandom(2, 1234)
	putInfo := putBlob(t, s, blobKey("archive"), data)
	require.False(t, putInfo.ModTime.IsZero(), "PutBlob's ModTime")
	requireStrongETag(t, putInfo.ETag)

	_, info := readBlob(t, s, blobKey("archive"))
	require.Equal(t, int64(len(data)), info.Size)
	require.False(t, info.ModTime.IsZero(), "Info().ModTime")
	requireStrongETag(t, info.ETag)
	require.Equal(t, putInfo.ETag, info.ETag, "PutBlob returns the stored blob's attributes")
}

// BlobInfo.ETag differs between blobs of different bytes. A job's download
// URL serves one key after another as the archive is replaced, so the tag
// must tell bytes apart, not only keys.
func testBlobETagDiffers(t *testing.T, s jobartifacts.BlobStore) {
	first := putBlob(t, s, blobKey("first"), []byte("first version"))
	second := putBlob(t, s, blobKey("second"), []byte("other version"))
	require.NotEqual(t, first.ETag, second.ETag, "same size, other bytes")
	_, info := readBlob(t, s, blobKey("second"))
	require.Equal(t, second.ETag, info.ETag)
}

// Blob.ReadAt follows io.ReaderAt.
func testBlobReadAt(t *testing.T, s jobartifacts.BlobStore) {
	putBlob(t, s, blobKey("archive"), []byte("0123456789"))
	b, err := s.OpenBlob(t.Context(), blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	tests := []struct {
		name    string
		off     int64
		len     int
		want    string
		wantEOF bool // io.EOF required; otherwise nil required, except at the very end where both are allowed
		wantErr bool // some error other than io.EOF's rules
	}{
		{name: "Start", off: 0, len: 4, want: "0123"},
		{name: "Middle", off: 3, len: 4, want: "3456"},
		{name: "WholeExactly", off: 0, len: 10, want: "0123456789"},
		{name: "EndExactly", off: 6, len: 4, want: "6789"},
		{name: "SpanningTheEnd", off: 8, len: 4, want: "89", wantEOF: true},
		{name: "LongerThanBlob", off: 0, len: 20, want: "0123456789", wantEOF: true},
		{name: "AtSize", off: 10, len: 1, want: "", wantEOF: true},
		{name: "PastSize", off: 11, len: 1, want: "", wantErr: true},
		{name: "NegativeOffset", off: -1, len: 1, want: "", wantErr: true},
	}
	for _, tc := range tests {
		p := make([]byte, tc.len)
		n, err := b.ReadAt(p, tc.off)
		require.Equal(t, tc.want, string(p[:n]), tc.name)
		switch {
		case tc.wantErr:
			require.Error(t, err, tc.name)
		case tc.wantEOF:
			require.ErrorIs(t, err, io.EOF, tc.name)
		case tc.off+int64(tc.len) == 10:
			// io.ReaderAt allows either at the exact end.
			if err != nil {
				require.ErrorIs(t, err, io.EOF, tc.name)
			}
		default:
			require.NoError(t, err, tc.name)
		}
	}
}

func testBlobZeroLength(t *testing.T, s jobartifacts.BlobStore) {
	info := putBlob(t, s, blobKey("empty"), nil)
	require.Equal(t, int64(0), info.Size)
	requireStrongETag(t, info.ETag)
	b, err := s.OpenBlob(t.Context(), blobKey("empty"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	require.Equal(t, int64(0), b.Info().Size)
	n, err := b.ReadAt(make([]byte, 1), 0)
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF)
	r, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Empty(t, got)
	require.NoError(t, r.Close())
}

// PutBlob stores everything read from r, whatever the shape of r's reads: one
// byte at a time, and data returned together with io.EOF.
func testBlobAwkwardReader(t *testing.T, s jobartifacts.BlobStore) {
	want := pseudoRandom(3, 4099)
	r := iotest.DataErrReader(iotest.OneByteReader(bytes.NewReader(want)))
	info, err := s.PutBlob(t.Context(), blobKey("archive"), r)
	require.NoError(t, err)
	require.Equal(t, int64(len(want)), info.Size)
	got, _ := readBlob(t, s, blobKey("archive"))
	require.Equal(t, want, got)
}

func testBlobLarge(t *testing.T, s jobartifacts.BlobStore) {
	const size = 8 << 20
	want := pseudoRandom(4, size)
	putBlob(t, s, blobKey("archive"), want)

	b, err := s.OpenBlob(t.Context(), blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	require.Equal(t, int64(size), b.Info().Size)

	h := sha256.New()
	_, err = io.Copy(h, io.NewSectionReader(b, 0, size))
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(want), [32]byte(h.Sum(nil)), "SHA-256 of the whole blob through ReadAt")

	r, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	h.Reset()
	_, err = io.Copy(h, r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.Equal(t, sha256.Sum256(want), [32]byte(h.Sum(nil)), "SHA-256 of the whole blob through NewRangeReader")

	// Windows across 1 MiB boundaries and the very end.
	for _, off := range []int64{1<<20 - 7, 5<<20 - 1, size - 100} {
		p := make([]byte, 100)
		n, err := b.ReadAt(p, off)
		if err != nil {
			require.ErrorIs(t, err, io.EOF, "offset %d", off)
		}
		require.Equal(t, 100, n, "offset %d", off)
		require.Equal(t, want[off:off+100], p, "offset %d", off)

		r, err := b.NewRangeReader(off, 100)
		require.NoError(t, err)
		got, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		require.Equal(t, want[off:off+100], got, "range at %d", off)
	}
}

// Concurrent ReadAt calls MUST be safe. Goroutines only record what they
// saw; the test goroutine checks it.
func testBlobConcurrentReadAt(t *testing.T, s jobartifacts.BlobStore) {
	const size, workers, readsEach, chunk = 1 << 20, 16, 64, 4096
	want := pseudoRandom(5, size)
	putBlob(t, s, blobKey("archive"), want)
	b, err := s.OpenBlob(t.Context(), blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	var problems errorList
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			p := make([]byte, chunk)
			for i := range readsEach {
				off := int64((w*readsEach+i)*7919) % (size - chunk)
				n, err := b.ReadAt(p, off)
				switch {
				case err != nil:
					problems.add("worker %d: ReadAt(%d): %v", w, off, err)
				case n != chunk || !bytes.Equal(p, want[off:off+chunk]):
					problems.add("worker %d: ReadAt(%d): wrong bytes (n=%d)", w, off, n)
				}
			}
		})
	}
	wg.Wait()
	problems.require(t)
}

var errBrokenUpload = errors.New("storetest: upload broke")

// failingReader yields data, then fails: an upload that broke midway.
func failingReader(data []byte) io.Reader {
	return io.MultiReader(onlyReader{bytes.NewReader(data)}, iotest.ErrReader(errBrokenUpload))
}

// PutBlob: on a read error from r nothing is visible or listed under the key,
// and nothing is left behind: the key can then be put.
func testBlobFailedPutLeavesNothing(t *testing.T, s jobartifacts.BlobStore) {
	key := blobKey("archive")
	_, err := s.PutBlob(t.Context(), key, failingReader(pseudoRandom(10, 300_000)))
	require.Error(t, err)
	requireNoBlob(t, s, key)

	want := pseudoRandom(11, 1000)
	putBlob(t, s, key, want)
	got, _ := readBlob(t, s, key)
	require.Equal(t, want, got)
}

// A failed PutBlob of a key that exists (refused, or a broken upload)
// leaves the blob as it was.
func testBlobFailedPutKeepsExisting(t *testing.T, s jobartifacts.BlobStore) {
	key := blobKey("archive")
	old := pseudoRandom(8, 40_000)
	oldInfo := putBlob(t, s, key, old)

	_, err := s.PutBlob(t.Context(), key, failingReader(pseudoRandom(9, 30_000)))
	require.Error(t, err)

	got, info := readBlob(t, s, key)
	require.Equal(t, old, got)
	require.Equal(t, oldInfo.ETag, info.ETag)
	require.Equal(t, oldInfo.Size, info.Size)
}

// PutBlob on a key that exists returns ErrConflict and leaves the blob as
// it was.
func testBlobPutExistingKey(t *testing.T, s jobartifacts.BlobStore) {
	key := blobKey("archive")
	old := pseudoRandom(12, 40_000)
	oldInfo := putBlob(t, s, key, old)

	_, err := s.PutBlob(t.Context(), key, onlyReader{bytes.NewReader(pseudoRandom(13, 30_000))})
	requireConflict(t, err)
	_, err = s.PutBlob(t.Context(), key, onlyReader{bytes.NewReader(nil)})
	requireConflict(t, err, "an empty blob")

	got, info := readBlob(t, s, key)
	require.Equal(t, old, got)
	require.Equal(t, oldInfo.ETag, info.ETag)
	require.Equal(t, oldInfo.Size, info.Size)
	listed := listAll(t, s, string(key), 10)
	require.Len(t, listed, 1)
	require.Equal(t, oldInfo.Size, listed[0].Size)
}

// DeleteBlob removes the blob; readers that opened it before MAY keep
// reading it, and if they can they read its bytes.
func testBlobDelete(t *testing.T, s jobartifacts.BlobStore) {
	key := blobKey("archive")
	data := pseudoRandom(14, 10_000)
	putBlob(t, s, key, data)
	b, err := s.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer func() { _ = b.Close() }() // may fail after the delete; not part of the contract
	r, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	defer func() { _ = r.Close() }()

	require.NoError(t, s.DeleteBlob(t.Context(), key))
	requireNoBlob(t, s, key)

	if got, err := readAll(b); err == nil {
		require.Equal(t, data, got, "a reader that still reads a deleted blob reads its bytes")
	}
	if got, err := io.ReadAll(r); err == nil {
		require.Equal(t, data, got, "a range reader that still reads a deleted blob reads its bytes")
	}
}

// Deleting a missing blob succeeds.
func testBlobDeleteMissing(t *testing.T, s jobartifacts.BlobStore) {
	require.NoError(t, s.DeleteBlob(t.Context(), blobKey("never")))
	putBlob(t, s, blobKey("archive"), []byte("x"))
	require.NoError(t, s.DeleteBlob(t.Context(), blobKey("archive")))
	require.NoError(t, s.DeleteBlob(t.Context(), blobKey("archive")), "deleted twice")
}

// OpenBlob returns ErrNotFound for a key never stored.
func testBlobOpenMissing(t *testing.T, s jobartifacts.BlobStore) {
	_, err := s.OpenBlob(t.Context(), blobKey("never"))
	requireNotFound(t, err)
	putBlob(t, s, blobKey("archive"), []byte("x"))
	_, err = s.OpenBlob(t.Context(), "projects/1/jobs/2")
	requireNotFound(t, err, "the key's parent")
}

func cancelledContext(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

// OpenBlob with a cancelled context fails with its error.
func testBlobCancelledOpen(t *testing.T, s jobartifacts.BlobStore) {
	putBlob(t, s, blobKey("archive"), []byte("data"))
	_, err := s.OpenBlob(cancelledContext(t), blobKey("archive"))
	require.ErrorIs(t, err, context.Canceled)
}

// PutBlob with a cancelled context fails with its error and leaves nothing.
func testBlobCancelledPut(t *testing.T, s jobartifacts.BlobStore) {
	key := blobKey("fresh")
	_, err := s.PutBlob(cancelledContext(t), key, onlyReader{strings.NewReader("new")})
	require.ErrorIs(t, err, context.Canceled)
	requireNoBlob(t, s, key)
	putBlob(t, s, key, []byte("new"))
}

// cancelAfterFirstRead cancels the upload's context once r has been read
// from, as a client that goes away midway.
type cancelAfterFirstRead struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelAfterFirstRead) Read(p []byte) (int, error) {
	defer c.cancel()
	return c.r.Read(p[:min(len(p), 1024)])
}

// PutBlob whose context is cancelled midway either fails with the context's
// error, leaving nothing, or stores all of the bytes.
func testBlobCancelledDuringPut(t *testing.T, s jobartifacts.BlobStore) {
	key := blobKey("archive")
	data := pseudoRandom(15, 300_000)
	ctx, cancel := context.WithCancel(t.Context())
	_, err := s.PutBlob(ctx, key, &cancelAfterFirstRead{r: bytes.NewReader(data), cancel: cancel})
	if err != nil {
		require.ErrorIs(t, err, context.Canceled)
		requireNoBlob(t, s, key, "a cancelled put leaves nothing")
		return
	}
	got, _ := readBlob(t, s, key)
	require.Equal(t, data, got, "a put that succeeded stored everything")
}

// The context given to OpenBlob governs later reads: once it is done, reads
// MAY fail with its error, and otherwise read the right bytes.
func testBlobReadAfterOpenContextDone(t *testing.T, s jobartifacts.BlobStore) {
	putBlob(t, s, blobKey("archive"), []byte("0123456789"))
	ctx, cancel := context.WithCancel(t.Context())
	b, err := s.OpenBlob(ctx, blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	cancel()
	p := make([]byte, 4)
	n, err := b.ReadAt(p, 2)
	if err != nil {
		require.ErrorIs(t, err, context.Canceled)
		return
	}
	require.Equal(t, "2345", string(p[:n]))
}

// Keys are independent: keys that share a prefix do not see each other.
func testBlobDistinctKeys(t *testing.T, s jobartifacts.BlobStore) {
	keys := []jobartifacts.BlobKey{
		"projects/1/jobs/2/archive-0123456789abcdef",
		"projects/1/jobs/2/archive-0123456789abcdee",
		"projects/1/jobs/2/metadata-0123456789abcdef",
		"projects/1/jobs/20/archive-0123456789abcdef",
		"projects/11/jobs/2/archive-0123456789abcdef",
	}
	for i, k := range keys {
		putBlob(t, s, k, []byte(k)[:len(k)-i])
	}
	require.NoError(t, s.DeleteBlob(t.Context(), keys[0]))
	for i, k := range keys[1:] {
		got, _ := readBlob(t, s, k)
		require.Equal(t, string(k)[:len(k)-i-1], string(got))
	}
}

// runBlobViewCases runs the cases on two views of one blob store.
func runBlobViewCases(t *testing.T, h BlobHarness) {
	t.Run("WritesSeenByTheOtherView", func(t *testing.T) {
		open := h.New(t)
		testBlobsAcrossViews(t, open(), open())
	})
	t.Run("RacingPutBlob", func(t *testing.T) {
		if h.PutBlobNotConditional {
			t.Skip("the harness says PutBlob cannot refuse an existing key")
		}
		open := h.New(t)
		testRacingPutBlob(t, open(), open())
	})
}

// A blob put through one view is read, listed and deleted through another.
func testBlobsAcrossViews(t *testing.T, a, b jobartifacts.BlobStore) {
	key := blobKey("archive")
	data := pseudoRandom(16, 100_000)
	info := putBlob(t, a, key, data)
	got, infoB := readBlob(t, b, key)
	require.Equal(t, data, got)
	require.Equal(t, info.ETag, infoB.ETag)
	require.Equal(t, info.Size, infoB.Size)
	listed := listAll(t, b, "", 10)
	require.Len(t, listed, 1)
	require.Equal(t, key, listed[0].Key)
	require.NoError(t, b.DeleteBlob(t.Context(), key))
	requireNoBlob(t, a, key)
}

// PutBlob of one key racing on two views: exactly one succeeds, the others
// get ErrConflict, and the key holds the winner's bytes.
func testRacingPutBlob(t *testing.T, a, b jobartifacts.BlobStore) {
	const keys, racers = 10, 6
	for k := range keys {
		key := blobKey(fmt.Sprintf("race%d", k))
		data := make([][]byte, racers)
		errs := make([]error, racers)
		for r := range racers {
			data[r] = pseudoRandom(byte(20+r), 50_000+r)
		}
		race(racers, func(r int) {
			v := a
			if r%2 == 1 {
				v = b
			}
			_, errs[r] = v.PutBlob(t.Context(), key, onlyReader{bytes.NewReader(data[r])})
		})
		winner := -1
		for r, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "key %s: racers %d and %d both put", key, winner, r)
				winner = r
				continue
			}
			requireConflict(t, err, "key %s racer %d", key, r)
		}
		require.NotEqual(t, -1, winner, "key %s: no put succeeded", key)
		got, _ := readBlob(t, b, key)
		require.Equal(t, data[winner], got, "key %s holds the winner's bytes", key)
	}
}
