package jobartifacts

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// lookupOutcome is everything a caller can observe of one lookup: what the
// finder returned, where the data is, and what reading it to the end gave.
// Two finders agree on a lookup when their outcomes are equal.
type lookupOutcome struct {
	FindErr          string
	Name             string
	Method, Flags    uint16
	CompressedSize   uint64
	UncompressedSize uint64
	DataOffset       int64
	DataOffsetErr    string
	OpenErr          string
	Body             []byte
	ReadErr          string
}

// zipErrorClass names the sentinel an error wraps; the messages of two
// finders may differ, their classes must not.
func zipErrorClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNotFound):
		return "not-found"
	case errors.Is(err, ErrInvalidArchive):
		return "invalid-archive"
	case errors.Is(err, zip.ErrChecksum), errors.Is(err, ziparchive.ErrChecksum):
		return "checksum"
	case errors.Is(err, zip.ErrFormat), errors.Is(err, ziparchive.ErrFormat):
		return "format"
	case errors.Is(err, zip.ErrAlgorithm), errors.Is(err, ziparchive.ErrUnsupported):
		return "algorithm"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected-eof"
	case errors.Is(err, io.EOF):
		return "eof"
	default:
		return fmt.Sprintf("%T", err)
	}
}

func lookUp(t testing.TB, find testFinder, ra io.ReaderAt, size int64, name string) lookupOutcome {
	t.Helper()
	e, err := find(context.Background(), ra, size, name)
	if err != nil {
		return lookupOutcome{FindErr: zipErrorClass(err)}
	}
	out := lookupOutcome{
		Name: e.Name, Method: e.Method, Flags: e.Flags,
		CompressedSize: e.CompressedSize, UncompressedSize: e.UncompressedSize,
	}
	off, err := e.dataOffset()
	out.DataOffset, out.DataOffsetErr = off, zipErrorClass(err)
	rc, err := e.open()
	if err != nil {
		out.OpenErr = zipErrorClass(err)
		return out
	}
	defer rc.Close()
	// Encrypted or damaged entries may inflate to anything: read a bounded
	// amount past the declared size.
	out.Body, err = io.ReadAll(io.LimitReader(rc, int64(min(e.UncompressedSize, 1<<30))+1<<20))
	out.ReadErr = zipErrorClass(err)
	return out
}

// TestFindZipEntryByWalkCorpus runs every MANIFEST.tsv row through both
// finders: the outcomes must be identical, and match the manifest.
func TestFindZipEntryByWalkCorpus(t *testing.T) {
	for _, row := range zipcorpus.Manifest(t) {
		t.Run(row.File+"/"+row.Entry, func(t *testing.T) {
			blob := openCorpusBlob(t, row.File)
			size := blob.info.Size
			if row.Whole {
				zr := zipErrorClass(func() error { _, err := openZipReader(context.Background(), blob, size); return err }())
				require.Equal(t, zr, zipErrorClass(validateZipArchive(blob, size)), "validation")
				require.Equal(t,
					lookUp(t, findZipEntry, blob, size, "no such entry"),
					lookUp(t, walkFinder, blob, size, "no such entry"))
				if row.Expect == "opens" {
					require.NoError(t, validateZipArchive(blob, size))
				} else {
					require.ErrorIs(t, validateZipArchive(blob, size), ErrInvalidArchive)
				}
				return
			}

			walked := lookUp(t, walkFinder, blob, size, row.Entry)
			require.Equal(t, lookUp(t, findZipEntry, blob, size, row.Entry), walked)
			switch row.Expect {
			case "serve":
				require.Empty(t, walked.ReadErr)
				require.Equal(t, row.Entry, walked.Name)
				require.Equal(t, row.Size, int64(len(walked.Body)))
				require.Equal(t, row.SHA256, zipcorpus.SHA256(walked.Body))
			case "404":
				require.Equal(t, "not-found", walked.FindErr)
			case "abort-mid-stream":
				require.Empty(t, walked.FindErr)
				require.NotEmpty(t, walked.ReadErr)
			}
		})
	}
}

// rawZipEntry is one stored entry of an archive written byte by byte, so
// that its records can say what no zip writer would.
type rawZipEntry struct {
	name string
	data string
	// zip64 saturates the central record's sizes and offset and puts the
	// real values in a zip64 extra field (shortZip64 leaves its last 8 bytes
	// out).
	zip64, shortZip64 bool
	// saturated saturates the central record's sizes and offset with no
	// zip64 extra field to replace them.
	saturated         bool
	badLocalSignature bool
	offsetPastEnd     bool
}

// rawZipArchive is an archive written byte by byte.
type rawZipArchive struct {
	prefix  []byte // before the archive, as a self-extractor's stub
	entries []rawZipEntry
	// zip64End writes a zip64 end record and locator, and saturates the
	// classic end record.
	zip64End bool
	// extraRecords is added to the record count the end records declare.
	extraRecords int
	// cutCentral bytes are cut from the end of the central directory (the
	// end record then describes what is left).
	cutCentral int
	comment    string
	trailer    string // after the comment
}

func (a rawZipArchive) bytes() []byte {
	le := binary.LittleEndian
	out := bytes.Clone(a.prefix)
	offsets := make([]int, len(a.entries))
	for i, e := range a.entries {
		offsets[i] = len(out) - len(a.prefix)
		sig := uint32(zipLocalHeaderSignature)
		if e.badLocalSignature {
			sig = zipCentralHeaderSignature
		}
		out = le.AppendUint32(out, sig)
		out = le.AppendUint16(out, 20) // version needed
		out = le.AppendUint16(out, 0)  // flags
		out = le.AppendUint16(out, ziparchive.MethodStore)
		out = le.AppendUint32(out, 0) // time, date
		out = le.AppendUint32(out, crc32.ChecksumIEEE([]byte(e.data)))
		out = le.AppendUint32(out, uint32(len(e.data)))
		out = le.AppendUint32(out, uint32(len(e.data)))
		out = le.AppendUint16(out, uint16(len(e.name)))
		out = le.AppendUint16(out, 0) // extra
		out = append(out, e.name...)
		out = append(out, e.data...)
	}
	dirStart := len(out) - len(a.prefix)
	var dir []byte
	for i, e := range a.entries {
		size32, offset32 := uint32(len(e.data)), uint32(offsets[i])
		if e.offsetPastEnd {
			offset32 = math.MaxUint32 - 1
		}
		var extra []byte
		if e.zip64 {
			extra = le.AppendUint16(extra, zipExtraZip64)
			extra = le.AppendUint16(extra, 24)
			extra = le.AppendUint64(extra, uint64(len(e.data)))
			extra = le.AppendUint64(extra, uint64(len(e.data)))
			extra = le.AppendUint64(extra, uint64(offset32))
			if e.shortZip64 {
				extra = extra[:len(extra)-8]
				le.PutUint16(extra[2:], 16)
			}
			size32, offset32 = math.MaxUint32, math.MaxUint32
		}
		if e.saturated {
			size32, offset32 = math.MaxUint32, math.MaxUint32
		}
		dir = le.AppendUint32(dir, zipCentralHeaderSignature)
		dir = le.AppendUint16(dir, 0x031e) // made by: Unix, 3.0
		dir = le.AppendUint16(dir, 20)
		dir = le.AppendUint16(dir, 0) // flags
		dir = le.AppendUint16(dir, ziparchive.MethodStore)
		dir = le.AppendUint32(dir, 0) // time, date
		dir = le.AppendUint32(dir, crc32.ChecksumIEEE([]byte(e.data)))
		dir = le.AppendUint32(dir, size32)
		dir = le.AppendUint32(dir, size32)
		dir = le.AppendUint16(dir, uint16(len(e.name)))
		dir = le.AppendUint16(dir, uint16(len(extra)))
		dir = le.AppendUint16(dir, 0) // comment
		dir = le.AppendUint16(dir, 0) // disk
		dir = le.AppendUint16(dir, 0) // internal attributes
		dir = le.AppendUint32(dir, 0) // external attributes
		dir = le.AppendUint32(dir, offset32)
		dir = append(dir, e.name...)
		dir = append(dir, extra...)
	}
	dir = dir[:len(dir)-a.cutCentral]
	out = append(out, dir...)
	records := len(a.entries) + a.extraRecords

	records16, dirSize32, dirStart32 := uint16(records), uint32(len(dir)), uint32(dirStart)
	if a.zip64End {
		zip64EndOffset := len(out) - len(a.prefix)
		out = le.AppendUint32(out, zip64DirectoryEndSig)
		out = le.AppendUint64(out, zip64DirectoryEnd-12)
		out = le.AppendUint16(out, 45)
		out = le.AppendUint16(out, 45)
		out = le.AppendUint32(out, 0) // this disk
		out = le.AppendUint32(out, 0) // directory's disk
		out = le.AppendUint64(out, uint64(records))
		out = le.AppendUint64(out, uint64(records))
		out = le.AppendUint64(out, uint64(len(dir)))
		out = le.AppendUint64(out, uint64(dirStart))
		out = le.AppendUint32(out, zip64LocatorSignature)
		out = le.AppendUint32(out, 0)
		out = le.AppendUint64(out, uint64(zip64EndOffset))
		out = le.AppendUint32(out, 1)
		records16, dirSize32, dirStart32 = math.MaxUint16, math.MaxUint32, math.MaxUint32
	}
	out = le.AppendUint32(out, zipDirectoryEndSignature)
	out = le.AppendUint32(out, 0) // disks
	out = le.AppendUint16(out, records16)
	out = le.AppendUint16(out, records16)
	out = le.AppendUint32(out, dirSize32)
	out = le.AppendUint32(out, dirStart32)
	out = le.AppendUint16(out, uint16(len(a.comment)))
	out = append(out, a.comment...)
	return append(out, a.trailer...)
}

// fakeEndRecord is a complete end-of-central-directory record whose comment
// reaches exactly the end of the file, but whose directory cannot precede it.
func fakeEndRecord() string {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, zipDirectoryEndSignature)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, 7)
	b = le.AppendUint16(b, 7)
	b = le.AppendUint32(b, 0x7fff0000) // size
	b = le.AppendUint32(b, 0x7fff0000) // offset
	b = le.AppendUint16(b, 0)          // comment: none, so it ends at EOF
	return string(b)
}

// TestFindZipEntryByWalkBuiltArchives covers what the corpus does not.
// sameAsZipReader marks the cases where zip.NewReader must agree.
func TestFindZipEntryByWalkBuiltArchives(t *testing.T) {
	abc := []rawZipEntry{{name: "a.txt", data: "alpha"}, {name: "b.txt", data: "bravo"}, {name: "c.txt", data: "charlie"}}
	type lookup struct {
		name     string
		findErr  error  // nil: found
		openErr  error  // nil: opens
		wantBody string // when found and opened
	}
	cases := []struct {
		name            string
		archive         []byte
		valid           bool
		lookups         []lookup
		sameAsZipReader bool
	}{
		{
			name:            "plain",
			archive:         rawZipArchive{entries: abc}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "c.txt", wantBody: "charlie"}, {name: "d.txt", findErr: ErrNotFound}},
			sameAsZipReader: true,
		},
		{
			name: "duplicates: the first in central-directory order wins",
			archive: rawZipArchive{entries: []rawZipEntry{
				{name: "dup.txt", data: "first"}, {name: "dup.txt", data: "second"}, {name: "other", data: "o"},
			}}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "dup.txt", wantBody: "first"}},
			sameAsZipReader: true,
		},
		{
			name: "a name that is a prefix of others",
			archive: rawZipArchive{entries: []rawZipEntry{
				{name: "a/b.txt.bak", data: "backup"}, {name: "a/b", data: "short"}, {name: "a/b.txt", data: "exact"},
			}}.bytes(),
			valid: true,
			lookups: []lookup{
				{name: "a/b.txt", wantBody: "exact"},
				{name: "a/b", wantBody: "short"},
				{name: "a/b.tx", findErr: ErrNotFound},
				{name: "a/b.txt.bak.", findErr: ErrNotFound},
			},
			sameAsZipReader: true,
		},
		{
			name:            "an entry with an empty name",
			archive:         rawZipArchive{entries: []rawZipEntry{{name: "a.txt", data: "alpha"}, {name: "", data: "anonymous"}}}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "", wantBody: "anonymous"}},
			sameAsZipReader: true,
		},
		{
			name:            "empty archive",
			archive:         rawZipArchive{}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "a.txt", findErr: ErrNotFound}},
			sameAsZipReader: true,
		},
		{
			name:            "zip64 records and end record",
			archive:         rawZipArchive{entries: []rawZipEntry{{name: "a.txt", data: "alpha", zip64: true}, {name: "b.txt", data: "bravo", zip64: true}}, zip64End: true}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "b.txt", wantBody: "bravo"}, {name: "c.txt", findErr: ErrNotFound}},
			sameAsZipReader: true,
		},
		{
			name:    "zip64 extra field too short",
			archive: rawZipArchive{entries: []rawZipEntry{{name: "a.txt", data: "alpha", zip64: true, shortZip64: true}}}.bytes(),
			lookups: []lookup{{name: "a.txt", findErr: ErrInvalidArchive}},
			// The zip reader stops at the record and then finds the count
			// short: invalid as well.
			sameAsZipReader: true,
		},
		{
			// Found by FuzzWalk: archive/zip (Workhorse's reader) takes a
			// record it cannot parse for the directory's end; within the
			// count that leaves the count short.
			name:            "saturated sizes and offset without a zip64 extra field",
			archive:         rawZipArchive{entries: []rawZipEntry{{name: "a.txt", data: "alpha", saturated: true}}}.bytes(),
			lookups:         []lookup{{name: "a.txt", findErr: ErrInvalidArchive}},
			sameAsZipReader: true,
		},
		{
			name: "saturated sizes and offset without a zip64 extra field, in a record past the count",
			archive: rawZipArchive{entries: []rawZipEntry{{name: "a.txt", data: "alpha"},
				{name: "b.txt", data: "bravo", saturated: true}}, extraRecords: -1}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "a.txt", wantBody: "alpha"}, {name: "b.txt", findErr: ErrNotFound}},
			sameAsZipReader: true,
		},
		{
			name: "zip64 extra field too short in a record past the count",
			archive: rawZipArchive{entries: []rawZipEntry{{name: "a.txt", data: "alpha"},
				{name: "b.txt", data: "bravo", zip64: true, shortZip64: true}}, extraRecords: -1}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "a.txt", wantBody: "alpha"}, {name: "b.txt", findErr: ErrNotFound}},
			sameAsZipReader: true,
		},
		{
			name:            "comment with the end signature inside, its length running past the end",
			archive:         rawZipArchive{entries: abc, comment: "note PK\x05\x06" + string(make([]byte, 16)) + "\xff\xff and more text after it"}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "b.txt", wantBody: "bravo"}},
			sameAsZipReader: false, // the zip reader stops at the first signature from the end
		},
		{
			name:    "comment ending in a complete fake end record",
			archive: rawZipArchive{entries: abc, comment: "release notes " + fakeEndRecord()}.bytes(),
			valid:   true,
			lookups: []lookup{{name: "b.txt", wantBody: "bravo"}, {name: "x", findErr: ErrNotFound}},
		},
		{
			name:            "bytes after the comment",
			archive:         rawZipArchive{entries: abc, comment: "c", trailer: "padding"}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "a.txt", wantBody: "alpha"}},
			sameAsZipReader: true,
		},
		{
			name:            "data prepended to the archive",
			archive:         rawZipArchive{prefix: []byte("#!/bin/sh\nexec unzip \"$0\"\n"), entries: abc}.bytes(),
			valid:           true,
			lookups:         []lookup{{name: "c.txt", wantBody: "charlie"}},
			sameAsZipReader: true,
		},
		{
			name:    "central directory truncated in its last record",
			archive: rawZipArchive{entries: abc, cutCentral: 3}.bytes(),
			lookups: []lookup{
				{name: "c.txt", findErr: ErrInvalidArchive},
				{name: "d.txt", findErr: ErrInvalidArchive},
				// Found before the damage: the walk does not read on.
				{name: "a.txt", wantBody: "alpha"},
			},
		},
		{
			name:    "entry count above the records",
			archive: rawZipArchive{entries: abc, extraRecords: 1}.bytes(),
			lookups: []lookup{{name: "d.txt", findErr: ErrInvalidArchive}, {name: "c.txt", wantBody: "charlie"}},
		},
		{
			name:    "zip64 entry count below the records",
			archive: rawZipArchive{entries: abc, zip64End: true, extraRecords: -1}.bytes(),
			lookups: []lookup{{name: "d.txt", findErr: ErrInvalidArchive}},
		},
		{
			name:            "local header signature wrong",
			archive:         rawZipArchive{entries: []rawZipEntry{{name: "a.txt", data: "alpha", badLocalSignature: true}}}.bytes(),
			valid:           true, // the directory is fine; serving the entry fails
			lookups:         []lookup{{name: "a.txt", openErr: ziparchive.ErrFormat}},
			sameAsZipReader: true,
		},
		{
			name:    "local header offset past the end",
			archive: rawZipArchive{entries: []rawZipEntry{{name: "a.txt", data: "alpha", offsetPastEnd: true}}}.bytes(),
			valid:   true,
			lookups: []lookup{{name: "a.txt", openErr: ziparchive.ErrFormat}},
		},
		{
			// The directory's start is its end minus its size; a size larger
			// than the archive puts it before the first byte.
			name: "central directory size larger than the archive",
			archive: func() []byte {
				b := rawZipArchive{entries: abc}.bytes()
				binary.LittleEndian.PutUint32(b[len(b)-10:], 1<<30)
				return b
			}(),
			lookups:         []lookup{{name: "a.txt", findErr: ErrInvalidArchive}},
			sameAsZipReader: true,
		},
		{
			name:            "not a zip",
			archive:         []byte("PK\x03\x04 this is not really an archive, just a header signature"),
			lookups:         []lookup{{name: "a.txt", findErr: ErrInvalidArchive}},
			sameAsZipReader: true,
		},
		{
			name:            "shorter than an end record",
			archive:         []byte("PK\x05\x06"),
			lookups:         []lookup{{name: "a.txt", findErr: ErrInvalidArchive}},
			sameAsZipReader: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ra, size := bytes.NewReader(tc.archive), int64(len(tc.archive))
			if tc.valid {
				require.NoError(t, validateZipArchive(ra, size))
			} else {
				require.ErrorIs(t, validateZipArchive(ra, size), ErrInvalidArchive)
			}
			for _, l := range tc.lookups {
				e, err := walkFinder(context.Background(), ra, size, l.name)
				if tc.sameAsZipReader {
					require.Equal(t, lookUp(t, findZipEntry, ra, size, l.name), lookUp(t, walkFinder, ra, size, l.name), l.name)
				}
				if l.findErr != nil {
					require.ErrorIs(t, err, l.findErr, l.name)
					continue
				}
				require.NoError(t, err, l.name)
				require.Equal(t, l.name, e.Name)
				rc, err := e.open()
				if l.openErr != nil {
					require.ErrorIs(t, err, l.openErr, l.name)
					_, err = e.dataOffset()
					require.ErrorIs(t, err, l.openErr, l.name)
					continue
				}
				require.NoError(t, err, l.name)
				body, err := io.ReadAll(rc)
				require.NoError(t, err, l.name)
				require.NoError(t, rc.Close())
				require.Equal(t, l.wantBody, string(body), l.name)
			}
		})
	}
}

// TestFindZipEntryByWalkServesThroughHandler: the default finder is the walk,
// and a bad local header is answered before any header is written.
func TestFindZipEntryByWalkServesThroughHandler(t *testing.T) {
	blob := memZipBlob(rawZipArchive{entries: []rawZipEntry{
		{name: "ok.txt", data: "fine"}, {name: "bad.txt", data: "x", badLocalSignature: true}, {name: "big.txt", data: "y", zip64: true},
	}, zip64End: true}.bytes())
	rec, err := serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), "big.txt", entryOptions{})
	require.NoError(t, err)
	require.Equal(t, "y", rec.Body.String())

	rec, err = serveEntryRecorded(t, blob, httptest.NewRequest(http.MethodGet, "/", nil), "bad.txt", entryOptions{})
	require.ErrorIs(t, err, ErrInvalidArchive)
	require.Empty(t, rec.Header())
}

// failAfterReadAt answers the first ok ReadAt calls and then fails, so that
// a failure can be placed inside the central-directory walk.
type failAfterReadAt struct {
	ra  io.ReaderAt
	ok  int
	err error

	mu    sync.Mutex
	calls int
}

func (r *failAfterReadAt) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	r.calls++
	fail := r.calls > r.ok
	r.mu.Unlock()
	if fail {
		return 0, r.err
	}
	return r.ra.ReadAt(p, off)
}

// TestFindZipEntryByWalkStorageErrors: a blob that fails to read is the
// storage's fault, never an invalid archive, wherever the failure happens;
// and a cancelled request stops a long walk.
func TestFindZipEntryByWalkStorageErrors(t *testing.T) {
	archive := manyEntryZip(t, 5_000)
	errStorage := errors.New("storage offline")
	for okReads := range 3 {
		t.Run(fmt.Sprintf("fails after %d reads", okReads), func(t *testing.T) {
			ra := &failAfterReadAt{ra: bytes.NewReader(archive), ok: okReads, err: errStorage}
			_, err := findZipEntryByWalk(context.Background(), ra, int64(len(archive)), manyEntryName(4_999))
			require.ErrorIs(t, err, errStorage)
			require.NotErrorIs(t, err, ErrInvalidArchive)

			ra = &failAfterReadAt{ra: bytes.NewReader(archive), ok: okReads, err: errStorage}
			err = validateZipArchive(ra, int64(len(archive)))
			require.ErrorIs(t, err, errStorage)
			require.NotErrorIs(t, err, ErrInvalidArchive)
		})
	}

	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := findZipEntryByWalk(ctx, bytes.NewReader(archive), int64(len(archive)), "no such entry")
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, ErrInvalidArchive)
	})
}

// TestFindZipEntryByWalkCorpusZip64 looks at the zip64 corpus archives
// directly: entries past 65,535 are found, and their count is checked in
// full, not modulo 65,536.
func TestFindZipEntryByWalkCorpusZip64(t *testing.T) {
	blob := openCorpusBlob(t, "py-zip64-70000-entries.zip")
	dir, err := ziparchive.LocateDirectory(blob, blob.info.Size)
	require.NoError(t, err)
	require.True(t, dir.Zip64)
	require.Equal(t, uint64(70_002), dir.Records)
	for _, name := range []string{"first.txt", "65536", "last.txt"} {
		e, err := findZipEntryByWalk(context.Background(), blob, blob.info.Size, name)
		require.NoError(t, err)
		require.Equal(t, name, e.Name)
	}

	forced := openCorpusBlob(t, "py-zip64-forced.zip")
	e, err := walkFinder(context.Background(), forced, forced.info.Size, "zip64/forced-stored.txt")
	require.NoError(t, err)
	start, err := e.dataOffset()
	require.NoError(t, err)
	zr, err := openZipReader(context.Background(), forced, forced.info.Size)
	require.NoError(t, err)
	for _, f := range zr.File {
		if f.Name == e.Name {
			want, err := f.DataOffset()
			require.NoError(t, err)
			require.Equal(t, want, start, "the local header's zip64 extra must be skipped")
		}
	}
}

// manyEntryName is entry i of manyEntryZip.
func manyEntryName(i int) string { return fmt.Sprintf("entries/%07d.txt", i) }

// manyEntries is n tiny stored entries.
func manyEntries(n int) ziptest.Archive {
	entries := make([]ziptest.Entry, n)
	body := []byte("x")
	for i := range entries {
		entries[i] = ziptest.Entry{Name: manyEntryName(i), Body: body}
	}
	return ziptest.Archive{Entries: entries}
}

func manyEntryZip(t testing.TB, n int) []byte {
	t.Helper()
	return ziptest.Build(t, manyEntries(n).Entries...)
}

// TestFindZipEntryByWalkBoundedAllocations: finding the last of 20,000
// entries allocates a small constant number of objects, exactly as many as
// in a 20-entry archive. (Bytes per lookup: BenchmarkFindEntry.)
func TestFindZipEntryByWalkBoundedAllocations(t *testing.T) {
	allocs := func(n int) float64 {
		archive := manyEntryZip(t, n)
		ra, size, last := bytes.NewReader(archive), int64(len(archive)), manyEntryName(n-1)
		return testing.AllocsPerRun(5, func() {
			e, err := findZipEntryByWalk(context.Background(), ra, size, last)
			if err != nil || e.Name != last {
				panic(fmt.Sprintf("lookup of %q: %v", last, err))
			}
		})
	}
	small, large := allocs(20), allocs(20_000)
	require.Less(t, large, 16.0)
	require.Equal(t, small, large, "allocations must not grow with the number of entries")
}

// BenchmarkFindEntry looks up the last entry of archives of 100k and 1M tiny
// entries with both finders: the walk's B/op stays flat while zip.NewReader's
// grows with the entry count.
func BenchmarkFindEntry(b *testing.B) {
	dir := b.TempDir()
	for _, n := range []int{100_000, 1_000_000} {
		path := filepath.Join(dir, fmt.Sprintf("%d.zip", n))
		f, err := os.Create(path)
		require.NoError(b, err)
		w := bufio.NewWriterSize(f, 1<<20)
		_, err = manyEntries(n).WriteTo(w)
		require.NoError(b, err)
		require.NoError(b, w.Flush())
		fi, err := f.Stat()
		require.NoError(b, err)
		last := manyEntryName(n - 1)
		for _, finder := range []struct {
			name string
			find testFinder
		}{{"walk", walkFinder}, {"zipreader", findZipEntry}} {
			b.Run(fmt.Sprintf("entries=%d/finder=%s", n, finder.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					e, err := finder.find(context.Background(), f, fi.Size(), last)
					if err != nil || e.Name != last {
						b.Fatalf("lookup of %q: %v", last, err)
					}
				}
			})
		}
		require.NoError(b, f.Close())
	}
}
