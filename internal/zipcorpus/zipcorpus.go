// Package zipcorpus reads the module's zip test corpus (testdata/zips at
// the module root: archives made by real zip tools and a MANIFEST.tsv saying
// what a request for each entry must do), for tests in any package of this
// module.
package zipcorpus

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Row is one line of MANIFEST.tsv: one entry of one archive, or the "*" row
// about the archive as a whole.
type Row struct {
	// File is the archive's file name inside Dir.
	File string
	// Entry is the entry name as exact bytes: "hex:" names are decoded.
	// It is "*" on the whole-archive row.
	Entry string
	// Whole is true on the "*" row about the archive as a whole.
	Whole bool
	// Size is the length of the extracted bytes, -1 where the manifest says "-".
	Size int64
	// SHA256 is the hex SHA-256 of the extracted bytes, or "-".
	SHA256 string
	// Expect is what a single-file request must do ("serve", "opens", ...).
	Expect string
	// Note is the manifest's free-text note, often empty.
	Note string
}

// dir is the corpus directory, testdata/zips two levels above this
// package: the one place that knows where the corpus is. It is found from
// this source file's path, so tests of any package, run from any directory,
// read the same files, and never anything outside the module.
func dir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		t.Fatalf("zipcorpus: this package's source path %q is unknown or not absolute (built with -trimpath?)", file)
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "zips")
}

// Path returns the path of the corpus archive file (a MANIFEST.tsv file
// name). Archives too big to keep in the repository are generated on first
// use into a cache directory (see generated.go). A missing archive fails the
// test, never skips it.
func Path(t testing.TB, file string) string {
	t.Helper()
	if p, ok := generatedPath(t, file); ok {
		return p
	}
	p := filepath.Join(dir(t), file)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("zipcorpus: %v", err)
	}
	return p
}

// Files returns the names of the corpus archives, in MANIFEST.tsv order.
func Files(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, row := range Manifest(t) {
		if !slices.Contains(files, row.File) {
			files = append(files, row.File)
		}
	}
	return files
}

// Manifest reads every row of the corpus's MANIFEST.tsv, in file order. A missing
// column, a short line or an empty manifest fails the test.
func Manifest(t testing.TB) []Row {
	t.Helper()
	f, err := os.Open(filepath.Join(dir(t), "MANIFEST.tsv"))
	if err != nil {
		t.Fatalf("zipcorpus: %v", err)
	}
	defer f.Close()
	rows, err := parse(bufio.NewScanner(f))
	if err != nil {
		t.Fatalf("zipcorpus: MANIFEST.tsv: %v", err)
	}
	return rows
}

// parse reads the header line and then every non-empty line of sc.
func parse(sc *bufio.Scanner) ([]Row, error) {
	// The "tests" column repeats a long description on every line.
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	if !sc.Scan() {
		return nil, fmt.Errorf("no header line: %v", sc.Err())
	}
	header := strings.Split(sc.Text(), "\t")
	col := make(map[string]int, len(header))
	for i, name := range header {
		col[name] = i
	}
	for _, name := range []string{"file", "entry", "size", "sha256", "expect", "note"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("no %q column", name)
		}
	}
	var rows []Row
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != len(header) {
			return nil, fmt.Errorf("line %q has %d fields, the header %d", sc.Text(), len(fields), len(header))
		}
		row := Row{
			File:   fields[col["file"]],
			Entry:  fields[col["entry"]],
			Size:   -1,
			SHA256: fields[col["sha256"]],
			Expect: fields[col["expect"]],
			Note:   fields[col["note"]],
		}
		row.Whole = row.Entry == "*"
		if hexName, ok := strings.CutPrefix(row.Entry, "hex:"); ok {
			raw, err := hex.DecodeString(hexName)
			if err != nil {
				return nil, fmt.Errorf("hex name %q: %w", row.Entry, err)
			}
			row.Entry = string(raw)
		}
		if s := fields[col["size"]]; s != "-" {
			size, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("size of %s %q: %w", row.File, row.Entry, err)
			}
			row.Size = size
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no rows")
	}
	return rows, nil
}

// EscapePath percent-encodes every byte of name outside RFC 3986's
// unreserved set, "/" included, as careful clients do: a server must decode
// exactly once to get the entry name back.
func EscapePath(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// SHA256 returns the lower-case hex SHA-256 of b, as MANIFEST.tsv writes it.
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
