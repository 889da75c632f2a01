package zipcorpus

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// zip64ManyEntries is the corpus archive that is generated rather than kept:
// 6.4 MB of 70,002 stored entries, more than the 65,535 a classic end record
// can count, so that the real count is only in the zip64 end record. Python's
// zipfile wrote the original; this one has the same names and contents
// (MANIFEST.tsv's rows for it hold for both) and no data descriptors either.
const zip64ManyEntries = "py-zip64-70000-entries.zip"

// zip64ManyEntriesSHA256 is the SHA-256 of the generated archive. Generating
// checks it, so the cached copy is only ever the one archive; a change to the
// generator or to ziptest must update it.
const zip64ManyEntriesSHA256 = "cce16b1768988e98666cbd888aee93df513a127205dceb401d3febf5b43368e4"

// generatedPath returns the path of a generated archive, and false for an
// archive that the corpus keeps as a file.
func generatedPath(t testing.TB, file string) (string, bool) {
	t.Helper()
	if file != zip64ManyEntries {
		return "", false
	}
	return cachedArchive(t, file, zip64ManyEntriesSHA256, zip64ManyEntriesArchive), true
}

// zip64ManyEntriesArchive is first.txt, the entries "0" … "69999" under
// five-digit names ("00000" holds "0\n"), then last.txt.
func zip64ManyEntriesArchive() ziptest.Archive {
	const n = 70_000
	entries := make([]ziptest.Entry, 0, n+2)
	entries = append(entries, stored("first.txt", "first entry\n"))
	for i := range n {
		entries = append(entries, stored(fmt.Sprintf("%05d", i), strconv.Itoa(i)+"\n"))
	}
	entries = append(entries, stored("last.txt", fmt.Sprintf("last entry, index %d\n", n+1)))
	return ziptest.Archive{Entries: entries}
}

// stored is a stored entry written raw, so that, as in Python's archive, no
// entry has a data descriptor and every local header carries its sizes.
func stored(name, body string) ziptest.Entry {
	return ziptest.Entry{
		Name: name, Body: []byte(body), Method: ziptest.Store, Mode: 0o600,
		Raw: true, CRC32: crc32.ChecksumIEEE([]byte(body)), UncompressedSize: uint64(len(body)),
	}
}

// cachedArchive returns the path of the archive whose SHA-256 is sum, under
// the system's temporary directory, named by that sum: a file found there is
// used when its bytes still have that sum; otherwise build makes the archive,
// which must have that sum, and it is written there (a temporary file renamed
// into place, so that concurrent test binaries never see half an archive).
func cachedArchive(t testing.TB, file, sum string, build func() ziptest.Archive) string {
	t.Helper()
	cache := filepath.Join(os.TempDir(), "jobartifacts-zipcorpus")
	p := filepath.Join(cache, sum[:16]+"-"+file)
	if got, err := fileSHA256(p); err == nil && got == sum {
		return p
	}
	data, err := build().Bytes()
	if err != nil {
		t.Fatalf("zipcorpus: generating %s: %v", file, err)
	}
	if got := SHA256(data); got != sum {
		t.Fatalf("zipcorpus: generated %s has SHA-256 %s, not %s: update zip64ManyEntriesSHA256 if the generator changed on purpose", file, got, sum)
	}
	if err := writeAtomically(cache, p, data); err != nil {
		// A cache that is not ours to write (another user's, say): this
		// test's own copy will do.
		t.Logf("zipcorpus: caching %s: %v; using a copy of this test's own", file, err)
		p = filepath.Join(t.TempDir(), file)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatalf("zipcorpus: %v", err)
		}
	}
	return p
}

// writeAtomically writes data to p in dir through a temporary file renamed
// into place, readable by everyone.
func writeAtomically(dir, p string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	return err
}

// fileSHA256 is the SHA-256 of the file at p, as SHA256 writes it.
func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
