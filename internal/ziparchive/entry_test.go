package ziparchive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// logText is n bytes of compressible text.
func logText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d: the quick brown fox jumps over the lazy dog\n", i)
	}
	return b.Bytes()[:n]
}

func TestPlausibleUncompressedSize(t *testing.T) {
	for _, tc := range []struct {
		method                   uint16
		compressed, uncompressed uint64
		ok                       bool
	}{
		{MethodStore, 10, 10, true},
		{MethodStore, 10, 11, false},
		{MethodDeflate, 100, 100*maxDeflateExpansion + expansionSlack, true},
		{MethodDeflate, 100, 100*maxDeflateExpansion + expansionSlack + 1, false},
		{MethodZstd, 100, 100*maxZstdExpansion + expansionSlack, true},
		{MethodZstd, 100, 100*maxZstdExpansion + expansionSlack + 1, false},
		{MethodDeflate, 1 << 62, 1 << 63, true}, // no overflow
	} {
		require.Equal(t, tc.ok, plausibleUncompressedSize(tc.method, tc.compressed, tc.uncompressed), "%+v", tc)
	}
}

// TestFindAndCheck: Find stops at the first of equal names; Check refuses
// what the directory alone shows unservable, with the engine's errors.
func TestFindAndCheck(t *testing.T) {
	encrypted := ziptest.Stored("secret.txt", "ciphertext")
	encrypted.Flags |= FlagEncrypted
	archive := ziptest.Build(t,
		ziptest.Stored("dup.txt", "first"),
		ziptest.Stored("dup.txt", "second"),
		encrypted,
		ziptest.Entry{Raw: true, Name: "lzma.bin", Body: []byte("lzma?"), Method: 14, UncompressedSize: 5},
		ziptest.Entry{Raw: true, Name: "stored-size.txt", Body: []byte("abc"), Method: ziptest.Store, UncompressedSize: 4},
	)
	a := NewArchive(bytes.NewReader(archive), int64(len(archive)))
	ctx := context.Background()
	e, err := a.Find(ctx, "dup.txt")
	require.NoError(t, err)
	require.NoError(t, e.Check(a.Size()))
	rc, err := a.OpenEntry(ctx, e, nil)
	require.NoError(t, err)
	body, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, "first", string(body))

	_, err = a.Find(ctx, "missing")
	require.ErrorIs(t, err, ErrNotExist)
	for name, want := range map[string]error{"secret.txt": ErrEncrypted, "lzma.bin": ErrUnsupported, "stored-size.txt": ErrFormat} {
		e, err := a.Find(ctx, name)
		require.NoError(t, err)
		require.ErrorIs(t, e.Check(a.Size()), want, name)
	}
}

// TestArchiveClassifiesErrors: a failing ReaderAt is the storage's fault,
// an ended context the context's, anything else the archive's.
func TestArchiveClassifiesErrors(t *testing.T) {
	archive := ziptest.Build(t, ziptest.Stored("a.txt", "alpha"))
	errStorage := errors.New("storage offline")
	_, err := NewArchive(failingReaderAt{errStorage}, int64(len(archive))).Find(context.Background(), "a.txt")
	require.ErrorIs(t, err, errStorage)
	require.NotErrorIs(t, err, ErrFormat)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = NewArchive(bytes.NewReader(archive), int64(len(archive))).Find(ctx, "a.txt")
	require.NotErrorIs(t, err, ErrFormat)

	cut := archive[:len(archive)-3]
	require.ErrorIs(t, NewArchive(bytes.NewReader(cut), int64(len(cut))).Validate(context.Background()), ErrFormat)
}

type failingReaderAt struct{ err error }

func (r failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, r.err }

func TestEntryReaderSeek(t *testing.T) {
	payload := logText(70_000)
	for _, entry := range []ziptest.Entry{ziptest.Deflated("e", string(payload)), ziptest.Stored("e", string(payload))} {
		archive := ziptest.Build(t, entry)
		a := NewArchive(bytes.NewReader(archive), int64(len(archive)))
		e, err := a.Find(context.Background(), "e")
		require.NoError(t, err)
		er, err := a.NewEntryReader(context.Background(), e, nil, nil)
		require.NoError(t, err)

		end, err := er.Seek(0, io.SeekEnd)
		require.NoError(t, err)
		require.Equal(t, int64(len(payload)), end)
		for _, off := range []int64{60_000, 10, 35_000, 0, 69_999} {
			pos, err := er.Seek(off, io.SeekStart)
			require.NoError(t, err)
			require.Equal(t, off, pos)
			got := make([]byte, min(100, int64(len(payload))-off))
			_, err = io.ReadFull(er, got)
			require.NoError(t, err)
			require.Equal(t, payload[off:off+int64(len(got))], got, "at %d, method %d", off, e.Method)
		}
		pos, err := er.Seek(-10, io.SeekCurrent)
		require.NoError(t, err)
		require.Equal(t, int64(len(payload)-10), pos)
		_, err = er.Seek(-1, io.SeekStart)
		require.Error(t, err)
		require.NoError(t, er.Close())
		_, err = er.Read(make([]byte, 1))
		require.ErrorIs(t, err, ErrClosed)
	}
}
