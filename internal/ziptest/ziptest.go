// Package ziptest builds zip archives for tests and demos: the one zip
// writer of this module's tests. Entries are written in the order given,
// names exactly as given ("..", "//" and "./" included), with a fixed
// modification time, so that the same entries always give the same bytes.
//
// Archives that no writer would make on purpose (a wrong CRC, sizes that
// lie, an encryption flag without encryption) are built with Raw entries.
package ziptest

import (
	"bytes"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// Compression methods an Entry may use. Store is the zero value.
const (
	Store   = zip.Store
	Deflate = zip.Deflate
	// Zstd is zstd as APPNOTE 6.3.8 numbers it (93), the id GitLab Runner's
	// fastzip and klauspost write.
	Zstd = zstd.ZipMethodWinZip
)

// ModTime is the modification time of every entry.
var ModTime = time.Date(2024, time.May, 1, 0, 0, 0, 0, time.UTC)

// Entry is one entry of an archive.
type Entry struct {
	// Name is written byte for byte. A name ending in "/" is a directory
	// entry, always stored.
	Name string
	// Body is the content. For a Raw entry it is written as the already
	// compressed data.
	Body []byte
	// Content, when set, is copied as the content instead of Body, so that
	// an entry of any size can be written without holding it in memory.
	Content io.Reader
	// Method is Store (the zero value), Deflate, Zstd, or for a Raw entry
	// any number at all.
	Method uint16
	// Mode is the Unix mode recorded in the entry's external attributes;
	// zero records none.
	Mode fs.FileMode
	// Flags are set in the entry's general-purpose bit flags, e.g. 0x1
	// (encrypted) on an entry that is not.
	Flags uint16

	// Raw writes Body unchanged, with CRC32, UncompressedSize and no data
	// descriptor, as the central directory's claims: an archive may lie.
	Raw bool
	// CRC32 is a Raw entry's declared checksum.
	CRC32 uint32
	// UncompressedSize is a Raw entry's declared uncompressed size.
	UncompressedSize uint64
}

// Stored is an entry kept as it is (method 0).
func Stored(name, body string) Entry {
	return Entry{Name: name, Body: []byte(body), Method: Store}
}

// Deflated is an entry compressed with deflate.
func Deflated(name, body string) Entry {
	return Entry{Name: name, Body: []byte(body), Method: Deflate}
}

// Files returns the entries of a small tree (entry name → content) in name
// order, files deflated with mode 0644, names ending in "/" as directories
// with mode 0755.
func Files(files map[string]string) []Entry {
	var entries []Entry
	for _, name := range slices.Sorted(maps.Keys(files)) {
		e := Deflated(name, files[name])
		e.Mode = 0o644
		if strings.HasSuffix(name, "/") {
			e.Mode = fs.ModeDir | 0o755
		}
		entries = append(entries, e)
	}
	return entries
}

// Archive is a whole archive: its entries, in order, and its comment.
type Archive struct {
	// Entries are written in this order.
	Entries []Entry
	// Comment is the archive comment, after the central directory.
	Comment string
}

// WriteTo writes the archive to w with klauspost's zip writer, zstd
// registered as method 93.
func (a Archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	zw := zip.NewWriter(cw)
	zw.RegisterCompressor(Zstd, zstd.ZipCompressor())
	for _, e := range a.Entries {
		if err := writeEntry(zw, e); err != nil {
			return cw.n, err
		}
	}
	if err := zw.SetComment(a.Comment); err != nil {
		return cw.n, err
	}
	err := zw.Close()
	return cw.n, err
}

// Bytes returns the archive's bytes.
func (a Archive) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Build returns the bytes of an archive of entries; a write error (a
// directory entry with content, say) fails the test.
func Build(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	b, err := Archive{Entries: entries}.Bytes()
	if err != nil {
		t.Fatalf("ziptest: %v", err)
	}
	return b
}

// MustBuild is Build for code without a testing.TB (examples, package-level
// fixtures); it panics on a write error, which only entries that cannot be
// written at all cause.
func MustBuild(entries ...Entry) []byte {
	b, err := Archive{Entries: entries}.Bytes()
	if err != nil {
		panic("ziptest: " + err.Error())
	}
	return b
}

func writeEntry(zw *zip.Writer, e Entry) error {
	h := &zip.FileHeader{Name: e.Name, Method: e.Method, Modified: ModTime}
	if e.Mode != 0 {
		h.SetMode(e.Mode)
	}
	h.Flags |= e.Flags
	body := e.Content
	if body == nil {
		body = bytes.NewReader(e.Body)
	}
	var w io.Writer
	var err error
	if e.Raw {
		h.CRC32 = e.CRC32
		h.CompressedSize64 = uint64(len(e.Body))
		h.UncompressedSize64 = e.UncompressedSize
		w, err = zw.CreateRaw(h)
	} else {
		if strings.HasSuffix(e.Name, "/") {
			h.Method = Store
		}
		w, err = zw.CreateHeader(h)
	}
	if err != nil {
		return err
	}
	_, err = io.Copy(w, body)
	return err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
