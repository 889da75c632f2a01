package ziparchive

import (
	"bytes"
	"context"
	"errors"
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

// rangeCountingReaderAt is an archive with range reads (as a store's blob
// has), counting them and its ReadAts. The reads of an entry's data, those
// starting in [1, dataBelow) (after its local header at 0), fail with err
// if set, or end at cutAt if set.
type rangeCountingReaderAt struct {
	data          []byte
	ranges, reads int
	dataBelow     int64
	err           error
	cutAt         int64
}

func (r *rangeCountingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	r.reads++
	switch {
	case off <= 0 || off >= r.dataBelow:
	case r.err != nil:
		return 0, r.err
	case r.cutAt > 0 && off+int64(len(p)) > r.cutAt:
		return copy(p, r.data[off:r.cutAt]), io.EOF
	}
	return bytes.NewReader(r.data).ReadAt(p, off)
}

func (r *rangeCountingReaderAt) NewRangeReader(off, n int64) (io.ReadCloser, error) {
	r.ranges++
	return io.NopCloser(io.NewSectionReader(r, off, n)), nil
}

// TestEntryReaderVerifiesStoredInPlace: a small stored entry is read by
// VerifyWhole with one ReadAt (its data descriptor too), no range read,
// and checked as a stream would check it: CRC, data descriptor, data or
// descriptor cut short, storage failure. Read without VerifyWhole opens it
// then.
func TestEntryReaderVerifiesStoredInPlace(t *testing.T) {
	ctx := context.Background()
	payload := logText(5000)
	good := ziptest.Build(t, ziptest.Stored("e", string(payload)))
	badCRC := ziptest.Build(t, ziptest.Entry{Raw: true, Name: "e", Body: payload, Method: ziptest.Store,
		CRC32: 0xdeadbeef, UncompressedSize: uint64(len(payload))})
	badDescriptor := bytes.Clone(good)
	at := bytes.Index(badDescriptor, []byte("PK\x07\x08"))
	require.Positive(t, at)
	badDescriptor[at+4] ^= 1 // its CRC
	errStorage := errors.New("storage offline")

	open := func(ra *rangeCountingReaderAt) *EntryReader {
		a := NewArchive(ra, int64(len(ra.data)))
		e, err := a.Find(ctx, "e")
		require.NoError(t, err)
		require.Equal(t, uint16(MethodStore), e.Method)
		er, err := a.NewEntryReader(ctx, e, nil, new(BufferPool))
		require.NoError(t, err)
		return er
	}
	ra := &rangeCountingReaderAt{data: good}
	er := open(ra)
	readsBefore := ra.reads
	require.NoError(t, er.VerifyWhole())
	require.Equal(t, 1, ra.reads-readsBefore)
	got, err := io.ReadAll(er)
	require.NoError(t, err)
	require.Equal(t, string(payload), string(got))
	require.Zero(t, ra.ranges)
	require.NoError(t, er.Close())

	ra = &rangeCountingReaderAt{data: good}
	er = open(ra)
	got, err = io.ReadAll(er)
	require.NoError(t, err)
	require.Equal(t, string(payload), string(got))
	require.Equal(t, 1, ra.ranges)
	require.NoError(t, er.Close())

	for name, tc := range map[string]struct {
		ra   *rangeCountingReaderAt
		want error
	}{
		"bad crc":        {&rangeCountingReaderAt{data: badCRC}, ErrChecksum},
		"bad descriptor": {&rangeCountingReaderAt{data: badDescriptor}, ErrChecksum},
		"storage":        {&rangeCountingReaderAt{data: good, dataBelow: 1000, err: errStorage}, errStorage},
		"cut short":      {&rangeCountingReaderAt{data: good, dataBelow: 1000, err: io.EOF}, io.ErrUnexpectedEOF},
		"descriptor cut": {&rangeCountingReaderAt{data: good, dataBelow: 1000, cutAt: int64(at) + 8}, io.ErrUnexpectedEOF},
	} {
		er := open(tc.ra)
		err := er.VerifyWhole()
		require.ErrorIs(t, err, tc.want, name)
		if tc.want == errStorage {
			require.NotErrorIs(t, err, ErrFormat, name)
		} else {
			require.ErrorIs(t, err, ErrFormat, name)
		}
		require.Nil(t, er.kept, name)
		require.NoError(t, er.Close(), name)
	}
}
