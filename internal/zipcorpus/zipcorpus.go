// Package zipcorpus finds the team's shared zip test corpus
// (shared/testdata/zips) and reads its MANIFEST.tsv, for tests in any
// package of this module.
package zipcorpus

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
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

// Dir returns the corpus directory, found as ../shared/testdata/zips from the
// working directory or one of its parents. The corpus is required: its
// absence fails the test, never skips it.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("zipcorpus: working directory: %v", err)
	}
	for {
		candidate := filepath.Join(dir, "..", "shared", "testdata", "zips")
		if _, err := os.Stat(filepath.Join(candidate, "MANIFEST.tsv")); err == nil {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("shared/testdata/zips/MANIFEST.tsv not found above the package directory")
		}
		dir = parent
	}
}

// Manifest reads every row of Dir's MANIFEST.tsv, in file order. A missing
// column, a short line or an empty manifest fails the test.
func Manifest(t testing.TB) []Row {
	t.Helper()
	f, err := os.Open(filepath.Join(Dir(t), "MANIFEST.tsv"))
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
