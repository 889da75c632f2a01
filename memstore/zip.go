package memstore

import (
	"bytes"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zip"
)

// zipModTime is the modification time of every entry BuildZip writes, so
// that the same files always give the same bytes.
var zipModTime = time.Date(2024, time.January, 2, 3, 4, 5, 0, time.UTC)

// BuildZip returns a zip archive of files (entry name → content), entries in
// name order, file entries compressed with deflate. A name ending in "/" is a
// directory entry and must have empty content. The bytes depend on files
// only (fixed modification time), so tests may compare them.
//
// It panics if the zip cannot be written, which only happens for a directory
// entry with content: the input is the test's own.
//
// Deprecated: a test helper that does not belong in a store package; it
// stays only until its callers outside memstore have their own, and will be
// removed.
func BuildZip(files map[string]string) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipModTime}
		if strings.HasSuffix(name, "/") {
			h.Method = zip.Store
			h.SetMode(fs.ModeDir | 0o755)
		} else {
			h.SetMode(0o644)
		}
		fw, err := w.CreateHeader(h)
		if err != nil {
			panic("memstore.BuildZip: " + err.Error())
		}
		if _, err := fw.Write([]byte(files[name])); err != nil {
			panic("memstore.BuildZip: entry " + name + ": " + err.Error())
		}
	}
	if err := w.Close(); err != nil {
		panic("memstore.BuildZip: " + err.Error())
	}
	return buf.Bytes()
}
