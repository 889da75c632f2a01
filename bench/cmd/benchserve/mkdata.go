package main

import (
	"bufio"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// zipMethodZstd is the zip method number of Zstandard (APPNOTE 4.4.5).
const zipMethodZstd = 93

// mkdata writes one group of test files into dir; compare.sh asks for the
// groups its rows need and keeps them between runs.
//
//	big      big.zip: one stored entry of -size-mb random MiB
//	small    4k.bin; tiny.zip (4k.bin alone); small10.zip (9 deflated text
//	         files, then dist/4k.bin); many100k.zip (99,999 coverage pages,
//	         then dist/4k.bin): the same 4 KiB in all four
//	big1m    big1m.zip: 1,000,000 coverage pages, streamed (writeManyZip)
//	deflate  deflate.zip: payload.txt, -entry-mb MiB of text, deflated
//	zstd     zstd.zip: the same text, zstd (method 93) at klauspost's
//	         default level (an 8 MiB window)
func mkdata(args []string) error {
	fs := flag.NewFlagSet("mkdata", flag.ContinueOnError)
	dir := fs.String("dir", "", "output directory")
	group := fs.String("group", "", "big, small, big1m, deflate or zstd")
	sizeMB := fs.Int64("size-mb", 1024, "big: size of big.zip's entry in MiB")
	entryMB := fs.Int64("entry-mb", 200, "deflate, zstd: uncompressed size of the entry in MiB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	path := func(name string) string { return filepath.Join(*dir, name) }
	switch *group {
	case "big":
		return writeZip(path("big.zip"), zipEntry{name: "payload.bin", body: io.LimitReader(rand.Reader, *sizeMB<<20), method: zip.Store})
	case "small":
		return mkSmall(*dir)
	case "big1m":
		return writeManyZip(path("big1m.zip"), 1_000_000, coverageEntry)
	case "deflate":
		return writeZip(path("deflate.zip"), zipEntry{name: "payload.txt", body: newTextReader(*entryMB << 20), method: zip.Deflate})
	case "zstd":
		return writeZip(path("zstd.zip"), zipEntry{name: "payload.txt", body: newTextReader(*entryMB << 20), method: zipMethodZstd})
	}
	return fmt.Errorf("mkdata: unknown group %q", *group)
}

// mkSmall writes the files of the small requests, all holding the same
// random 4 KiB.
func mkSmall(dir string) error {
	four := make([]byte, 4096)
	_, _ = rand.Read(four)
	if err := os.WriteFile(filepath.Join(dir, "4k.bin"), four, 0o644); err != nil {
		return err
	}
	entry4k := func() zipEntry {
		return zipEntry{name: "dist/4k.bin", body: strings.NewReader(string(four)), method: zip.Store}
	}
	if err := writeZip(filepath.Join(dir, "tiny.zip"), entry4k()); err != nil {
		return err
	}
	var small []zipEntry
	for i := range 9 {
		small = append(small, zipEntry{name: fmt.Sprintf("src/file%d.txt", i), body: strings.NewReader(strings.Repeat("some text of a small file\n", 40)), method: zip.Deflate})
	}
	if err := writeZip(filepath.Join(dir, "small10.zip"), append(small, entry4k())...); err != nil {
		return err
	}
	const n = 100_000
	return writeManyZip(filepath.Join(dir, "many100k.zip"), n, func(i int) manyZipEntry {
		if i == n-1 {
			return manyZipEntry{name: "dist/4k.bin", body: four}
		}
		return coverageEntry(i)
	})
}

// A zipEntry is one entry for writeZip.
type zipEntry struct {
	name   string
	body   io.Reader
	method uint16
}

// writeZip writes a zip of a few entries with klauspost's writer (its
// deflate is several times faster than the standard library's).
func writeZip(path string, entries ...zipEntry) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	// zstd.NewWriter's defaults: SpeedDefault, an 8 MiB window.
	zw.RegisterCompressor(zipMethodZstd, func(w io.Writer) (io.WriteCloser, error) { return zstd.NewWriter(w) })
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, e.body); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// textReader yields n bytes of words drawn from a small vocabulary, a
// stand-in for logs and reports: it deflates about 3:1, as build output
// does, where random bytes would not compress at all.
type textReader struct {
	left int64
	rng  *mathrand.ChaCha8
	line []byte
}

func newTextReader(n int64) *textReader {
	return &textReader{left: n, rng: mathrand.NewChaCha8([32]byte{7})}
}

var words = strings.Fields(`the build test job artifact archive pipeline runner stage deploy cache
	error warning info debug ok failed passed skipped coverage report file line branch function
	module package vendor go run compile link assemble upload download compress extract verify
	checksum timeout retry step script before after image service variable secret token project`)

func (t *textReader) Read(p []byte) (int, error) {
	if t.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && t.left > 0 {
		if len(t.line) == 0 {
			t.line = t.nextLine(t.line[:0])
		}
		c := copy(p[n:], t.line[:min(int64(len(t.line)), t.left)])
		t.line = t.line[c:]
		n += c
		t.left -= int64(c)
	}
	return n, nil
}

// nextLine appends one line: a counter, then 6–14 random words.
func (t *textReader) nextLine(b []byte) []byte {
	v := t.rng.Uint64()
	b = fmt.Appendf(b, "%08d", v%100000000)
	for range 6 + v>>32%9 {
		b = append(b, ' ')
		b = append(b, words[t.rng.Uint64()%uint64(len(words))]...)
	}
	return append(b, '\n')
}
