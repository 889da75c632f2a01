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

func blobCases() []storeCase {
	return []storeCase{
		{"RoundTrip", testBlobRoundTrip},
		{"Info", testBlobInfo},
		{"ETagChangesWithBytes", testBlobETagChanges},
		{"ReadAt", testBlobReadAt},
		{"ZeroLength", testBlobZeroLength},
		{"ReaderWithSmallReadsAndDataWithEOF", testBlobAwkwardReader},
		{"Large", testBlobLarge},
		{"ConcurrentReadAt", testBlobConcurrentReadAt},
		{"OpenReaderKeepsOldBytes", testBlobOpenReaderKeepsOldBytes},
		{"FailedPutKeepsOldBlob", testBlobFailedPutKeepsOld},
		{"FailedPutLeavesNoBlob", testBlobFailedPutLeavesNothing},
		{"ConcurrentReplace", testBlobConcurrentReplace},
		{"Delete", testBlobDelete},
		{"DeleteMissing", testBlobDeleteMissing},
		{"OpenMissing", testBlobOpenMissing},
		{"CancelledOpen", testBlobCancelledOpen},
		{"CancelledPut", testBlobCancelledPut},
		{"CancelledDuringPut", testBlobCancelledDuringPut},
		{"ReadAfterOpenContextDone", testBlobReadAfterOpenContextDone},
		{"DistinctKeys", testBlobDistinctKeys},
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

func put(t *testing.T, s StoreUnderTest, key jobartifacts.BlobKey, data []byte) jobartifacts.BlobInfo {
	t.Helper()
	info, err := s.PutBlob(t.Context(), key, onlyReader{bytes.NewReader(data)})
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), info.Size, "PutBlob's BlobInfo.Size")
	return info
}

// readBlob opens key and reads it whole through ReadAt, by its Info size.
func readBlob(t *testing.T, s StoreUnderTest, key jobartifacts.BlobKey) ([]byte, jobartifacts.BlobInfo) {
	t.Helper()
	b, err := s.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	info := b.Info()
	data, err := io.ReadAll(io.NewSectionReader(b, 0, info.Size))
	require.NoError(t, err)
	return data, info
}

// readAll reads a Blob whole without require, for use off the test goroutine.
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
func testBlobRoundTrip(t *testing.T, s StoreUnderTest) {
	want := pseudoRandom(1, 100_000)
	put(t, s, blobKey("archive"), want)
	got, info := readBlob(t, s, blobKey("archive"))
	require.Equal(t, want, got)
	require.Equal(t, int64(len(want)), info.Size)
}

// BlobInfo: Size, a non-zero ModTime and a quoted strong ETag, the same from
// PutBlob and from the opened Blob.
func testBlobInfo(t *testing.T, s StoreUnderTest) {
	data := pseudoRandom(2, 1234)
	putInfo := put(t, s, blobKey("archive"), data)
	require.False(t, putInfo.ModTime.IsZero(), "PutBlob's ModTime")
	requireStrongETag(t, putInfo.ETag)

	_, info := readBlob(t, s, blobKey("archive"))
	require.Equal(t, int64(len(data)), info.Size)
	require.False(t, info.ModTime.IsZero(), "Info().ModTime")
	requireStrongETag(t, info.ETag)
	require.Equal(t, putInfo.ETag, info.ETag, "PutBlob returns the stored blob's attributes")
}

// BlobInfo.ETag MUST change whenever the bytes change.
func testBlobETagChanges(t *testing.T, s StoreUnderTest) {
	key := blobKey("archive")
	first := put(t, s, key, []byte("first version"))
	second := put(t, s, key, []byte("second version"))
	require.NotEqual(t, first.ETag, second.ETag)
	sameSize := put(t, s, key, []byte("third  version"))
	require.NotEqual(t, second.ETag, sameSize.ETag, "same size, other bytes")
	got, info := readBlob(t, s, key)
	require.Equal(t, "third  version", string(got))
	require.Equal(t, sameSize.ETag, info.ETag)
}

// Blob.ReadAt follows io.ReaderAt.
func testBlobReadAt(t *testing.T, s StoreUnderTest) {
	put(t, s, blobKey("archive"), []byte("0123456789"))
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

func testBlobZeroLength(t *testing.T, s StoreUnderTest) {
	info := put(t, s, blobKey("empty"), nil)
	require.Equal(t, int64(0), info.Size)
	requireStrongETag(t, info.ETag)
	b, err := s.OpenBlob(t.Context(), blobKey("empty"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	require.Equal(t, int64(0), b.Info().Size)
	n, err := b.ReadAt(make([]byte, 1), 0)
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF)
}

// PutBlob stores everything read from r, whatever the shape of r's reads: one
// byte at a time, and data returned together with io.EOF.
func testBlobAwkwardReader(t *testing.T, s StoreUnderTest) {
	want := pseudoRandom(3, 4099)
	r := iotest.DataErrReader(iotest.OneByteReader(bytes.NewReader(want)))
	info, err := s.PutBlob(t.Context(), blobKey("archive"), r)
	require.NoError(t, err)
	require.Equal(t, int64(len(want)), info.Size)
	got, _ := readBlob(t, s, blobKey("archive"))
	require.Equal(t, want, got)
}

func testBlobLarge(t *testing.T, s StoreUnderTest) {
	const size = 8 << 20
	want := pseudoRandom(4, size)
	put(t, s, blobKey("archive"), want)

	b, err := s.OpenBlob(t.Context(), blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	require.Equal(t, int64(size), b.Info().Size)

	h := sha256.New()
	_, err = io.Copy(h, io.NewSectionReader(b, 0, size))
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(want), [32]byte(h.Sum(nil)), "SHA-256 of the whole blob")

	// Windows across 1 MiB boundaries and the very end.
	for _, off := range []int64{1<<20 - 7, 5<<20 - 1, size - 100} {
		p := make([]byte, 100)
		n, err := b.ReadAt(p, off)
		if err != nil {
			require.ErrorIs(t, err, io.EOF, "offset %d", off)
		}
		require.Equal(t, 100, n, "offset %d", off)
		require.Equal(t, want[off:off+100], p, "offset %d", off)
	}
}

// Concurrent ReadAt calls MUST be safe. Goroutines only record what they
// saw; the test goroutine checks it.
func testBlobConcurrentReadAt(t *testing.T, s StoreUnderTest) {
	const size, workers, readsEach, chunk = 1 << 20, 16, 64, 4096
	want := pseudoRandom(5, size)
	put(t, s, blobKey("archive"), want)
	b, err := s.OpenBlob(t.Context(), blobKey("archive"))
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	problems := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			p := make([]byte, chunk)
			for i := range readsEach {
				off := int64((w*readsEach+i)*7919) % (size - chunk)
				n, err := b.ReadAt(p, off)
				switch {
				case err != nil:
					problems[w] = append(problems[w], fmt.Sprintf("ReadAt(%d): %v", off, err))
				case n != chunk || !bytes.Equal(p, want[off:off+chunk]):
					problems[w] = append(problems[w], fmt.Sprintf("ReadAt(%d): wrong bytes (n=%d)", off, n))
				}
			}
		})
	}
	wg.Wait()
	for w, p := range problems {
		require.Empty(t, p, "worker %d", w)
	}
}

// PutBlob: readers that opened the old blob keep reading the old bytes.
func testBlobOpenReaderKeepsOldBytes(t *testing.T, s StoreUnderTest) {
	key := blobKey("archive")
	old := pseudoRandom(6, 50_000)
	oldInfo := put(t, s, key, old)
	b, err := s.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	replacement := pseudoRandom(7, 70_000)
	put(t, s, key, replacement)

	got, err := readAll(b)
	require.NoError(t, err)
	require.Equal(t, old, got, "the blob opened before the put")
	require.Equal(t, oldInfo.ETag, b.Info().ETag)
	require.Equal(t, int64(len(old)), b.Info().Size)

	got, _ = readBlob(t, s, key)
	require.Equal(t, replacement, got, "a blob opened after the put")
}

var errBrokenUpload = errors.New("storetest: upload broke")

// failingReader yields data, then fails: an upload that broke midway.
func failingReader(data []byte) io.Reader {
	return io.MultiReader(onlyReader{bytes.NewReader(data)}, iotest.ErrReader(errBrokenUpload))
}

// PutBlob: on a read error from r the old blob is left as it was.
func testBlobFailedPutKeepsOld(t *testing.T, s StoreUnderTest) {
	key := blobKey("archive")
	old := pseudoRandom(8, 40_000)
	oldInfo := put(t, s, key, old)

	_, err := s.PutBlob(t.Context(), key, failingReader(pseudoRandom(9, 30_000)))
	require.Error(t, err)

	got, info := readBlob(t, s, key)
	require.Equal(t, old, got)
	require.Equal(t, oldInfo.ETag, info.ETag)
	require.Equal(t, oldInfo.Size, info.Size)
}

// PutBlob: on error no partial blob is visible.
func testBlobFailedPutLeavesNothing(t *testing.T, s StoreUnderTest) {
	_, err := s.PutBlob(t.Context(), blobKey("archive"), failingReader(pseudoRandom(10, 30_000)))
	require.Error(t, err)
	_, err = s.OpenBlob(t.Context(), blobKey("archive"))
	requireNotFound(t, err)
}

// PutBlob: a reader opening the key sees the old or the new bytes, never a
// mix, and the Blob's Info matches the bytes it reads.
func testBlobConcurrentReplace(t *testing.T, s StoreUnderTest) {
	key := blobKey("archive")
	versions := [][]byte{pseudoRandom(11, 300_000), pseudoRandom(12, 200_000)}
	put(t, s, key, versions[0])

	const puts, readers = 20, 4
	done := make(chan struct{})
	var putErrs []error
	problems := make([][]string, readers)
	reads := make([]int, readers)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range puts {
			if _, err := s.PutBlob(t.Context(), key, onlyReader{bytes.NewReader(versions[(i+1)%2])}); err != nil {
				putErrs = append(putErrs, err)
			}
		}
	})
	for r := range readers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					if reads[r] > 0 {
						return
					}
				default:
				}
				reads[r]++
				b, err := s.OpenBlob(t.Context(), key)
				if err != nil {
					problems[r] = append(problems[r], fmt.Sprintf("OpenBlob: %v", err))
					continue
				}
				got, err := readAll(b)
				_ = b.Close()
				switch {
				case err != nil:
					problems[r] = append(problems[r], fmt.Sprintf("read: %v", err))
				case !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]):
					problems[r] = append(problems[r], fmt.Sprintf("read %d bytes that are neither version", len(got)))
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, putErrs)
	for r, p := range problems {
		require.Empty(t, p, "reader %d", r)
	}
	got, _ := readBlob(t, s, key)
	require.Equal(t, versions[puts%2], got, "the last put wins")
}

// DeleteBlob removes the blob; readers that opened it before MAY keep
// reading it, and if they can they read its bytes.
func testBlobDelete(t *testing.T, s StoreUnderTest) {
	key := blobKey("archive")
	data := pseudoRandom(13, 10_000)
	put(t, s, key, data)
	b, err := s.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer func() { _ = b.Close() }() // may fail after the delete; not part of the contract

	require.NoError(t, s.DeleteBlob(t.Context(), key))
	_, err = s.OpenBlob(t.Context(), key)
	requireNotFound(t, err)

	if got, err := readAll(b); err == nil {
		require.Equal(t, data, got, "a reader that still reads a deleted blob reads its bytes")
	}
}

// Deleting a missing blob returns ErrNotFound.
func testBlobDeleteMissing(t *testing.T, s StoreUnderTest) {
	requireNotFound(t, s.DeleteBlob(t.Context(), blobKey("never")))
	put(t, s, blobKey("archive"), []byte("x"))
	require.NoError(t, s.DeleteBlob(t.Context(), blobKey("archive")))
	requireNotFound(t, s.DeleteBlob(t.Context(), blobKey("archive")), "deleted twice")
}

// OpenBlob returns ErrNotFound for a key never stored.
func testBlobOpenMissing(t *testing.T, s StoreUnderTest) {
	_, err := s.OpenBlob(t.Context(), blobKey("never"))
	requireNotFound(t, err)
	put(t, s, blobKey("archive"), []byte("x"))
	_, err = s.OpenBlob(t.Context(), "projects/1/jobs/2")
	requireNotFound(t, err, "the key's parent")
}

func cancelledContext(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

// OpenBlob with a cancelled context fails with its error.
func testBlobCancelledOpen(t *testing.T, s StoreUnderTest) {
	put(t, s, blobKey("archive"), []byte("data"))
	_, err := s.OpenBlob(cancelledContext(t), blobKey("archive"))
	require.ErrorIs(t, err, context.Canceled)
}

// PutBlob with a cancelled context fails with its error; the old blob is left
// as it was and no new one appears.
func testBlobCancelledPut(t *testing.T, s StoreUnderTest) {
	key := blobKey("archive")
	put(t, s, key, []byte("old"))
	ctx := cancelledContext(t)

	_, err := s.PutBlob(ctx, key, onlyReader{strings.NewReader("new")})
	require.ErrorIs(t, err, context.Canceled)
	got, _ := readBlob(t, s, key)
	require.Equal(t, "old", string(got))

	_, err = s.PutBlob(ctx, blobKey("fresh"), onlyReader{strings.NewReader("new")})
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.OpenBlob(t.Context(), blobKey("fresh"))
	requireNotFound(t, err)
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
// error, leaving the old blob, or stores all of the new bytes.
func testBlobCancelledDuringPut(t *testing.T, s StoreUnderTest) {
	key := blobKey("archive")
	old, replacement := pseudoRandom(14, 20_000), pseudoRandom(15, 100_000)
	put(t, s, key, old)

	ctx, cancel := context.WithCancel(t.Context())
	_, err := s.PutBlob(ctx, key, &cancelAfterFirstRead{r: bytes.NewReader(replacement), cancel: cancel})
	got, _ := readBlob(t, s, key)
	if err != nil {
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, old, got, "a failed put leaves the old blob")
		return
	}
	require.Equal(t, replacement, got, "a put that succeeded stored everything")
}

// The context given to OpenBlob governs later reads: once it is done, reads
// MAY fail with its error, and otherwise read the right bytes.
func testBlobReadAfterOpenContextDone(t *testing.T, s StoreUnderTest) {
	put(t, s, blobKey("archive"), []byte("0123456789"))
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
func testBlobDistinctKeys(t *testing.T, s StoreUnderTest) {
	keys := []jobartifacts.BlobKey{
		"projects/1/jobs/2/archive-0123456789abcdef",
		"projects/1/jobs/2/archive-0123456789abcdee",
		"projects/1/jobs/2/metadata-0123456789abcdef",
		"projects/1/jobs/20/archive-0123456789abcdef",
		"projects/11/jobs/2/archive-0123456789abcdef",
	}
	for i, k := range keys {
		put(t, s, k, []byte(k)[:len(k)-i])
	}
	require.NoError(t, s.DeleteBlob(t.Context(), keys[0]))
	for i, k := range keys[1:] {
		got, _ := readBlob(t, s, k)
		require.Equal(t, string(k)[:len(k)-i-1], string(got))
	}
}
