package ziparchive

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// writeRecorder records the Writes it gets.
type writeRecorder struct {
	bytes.Buffer
	writes int
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// countingReaderAt counts the reads of an archive.
type countingReaderAt struct {
	ra    io.ReaderAt
	reads int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.ra.ReadAt(p, off)
}

// TestEntryReaderCopyN: CopyN gives what io.CopyN over the reader gives,
// from any position, for kept and streamed entries; a kept entry goes to
// the writer in one Write, reading nothing more of the archive.
func TestEntryReaderCopyN(t *testing.T) {
	ctx := context.Background()
	small, large := logText(5000), logText(keepVerifiedLimit+5000)
	archive := ziptest.Build(t,
		ziptest.Stored("small.stored", string(small)), ziptest.Deflated("small.deflated", string(small)),
		ziptest.Stored("large.stored", string(large)), ziptest.Deflated("large.deflated", string(large)))
	var pool BufferPool
	for _, tc := range []struct {
		name    string
		payload []byte
	}{{"small.stored", small}, {"small.deflated", small}, {"large.stored", large}, {"large.deflated", large}} {
		size := int64(len(tc.payload))
		for _, span := range []struct{ off, n int64 }{{0, size}, {0, 10}, {100, 1000}, {size - 7, 7}, {size - 7, 100}, {0, size + 1}, {size, 1}, {3, 0}} {
			counted := &countingReaderAt{ra: bytes.NewReader(archive)}
			a := NewArchive(counted, int64(len(archive)))
			e, err := a.Find(ctx, tc.name)
			require.NoError(t, err)
			er, err := a.NewEntryReader(ctx, e, nil, &pool)
			require.NoError(t, err)
			require.NoError(t, er.VerifyWhole())
			_, err = er.Seek(span.off, io.SeekStart)
			require.NoError(t, err)
			readsBefore := counted.reads
			var w writeRecorder
			n, err := er.CopyN(&w, span.n)

			want := tc.payload[min(span.off, size):min(span.off+span.n, size)]
			require.Equal(t, int64(len(want)), n, "%s %+v", tc.name, span)
			require.Equal(t, string(want), w.String(), "%s %+v", tc.name, span)
			if int64(len(want)) < span.n {
				require.ErrorIs(t, err, io.EOF, "%s %+v", tc.name, span)
			} else {
				require.NoError(t, err, "%s %+v", tc.name, span)
			}
			if size <= keepVerifiedLimit && len(want) > 0 {
				require.Equal(t, 1, w.writes, "%s %+v", tc.name, span)
				require.Equal(t, readsBefore, counted.reads, "%s %+v: a kept entry read the archive again", tc.name, span)
			}
			// The position moved past what was copied.
			rest, err := io.ReadAll(er)
			require.NoError(t, err)
			require.Equal(t, string(tc.payload[min(span.off+n, size):]), string(rest), "%s %+v", tc.name, span)
			require.NoError(t, er.Close())
		}
	}
}

// TestEntryReaderCopyNWithholdsFinalBytes: an entry streamed by CopyN (too
// large to keep) whose CRC is wrong gets all but its final bytes written,
// and the failure is CopyN's and Close's, as with Read.
func TestEntryReaderCopyNWithholdsFinalBytes(t *testing.T) {
	ctx := context.Background()
	payload := logText(keepVerifiedLimit + 5000)
	archive := ziptest.Build(t, ziptest.Entry{Raw: true, Name: "bad", Body: payload, Method: ziptest.Store,
		CRC32: 0xdeadbeef, UncompressedSize: uint64(len(payload))})
	a := NewArchive(bytes.NewReader(archive), int64(len(archive)))
	e, err := a.Find(ctx, "bad")
	require.NoError(t, err)
	er, err := a.NewEntryReader(ctx, e, nil, new(BufferPool))
	require.NoError(t, err)
	var w bytes.Buffer
	n, err := er.CopyN(&w, int64(len(payload)))
	require.ErrorIs(t, err, ErrChecksum)
	require.Less(t, n, int64(len(payload)))
	require.Equal(t, payload[:n], w.Bytes())
	require.ErrorIs(t, er.Close(), ErrChecksum)
}
