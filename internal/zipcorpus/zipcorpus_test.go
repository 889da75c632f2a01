package zipcorpus

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	const header = "file\ttool\tentry\tsize\tsha256\texpect\tnote\n"
	tests := []struct {
		name    string
		input   string
		want    []Row
		wantErr string
	}{
		{
			name: "whole row, plain entry, hex entry, empty line skipped",
			input: header +
				"a.zip\tzip\t*\t-\t-\topens\t2 entries\n" +
				"\n" +
				"a.zip\tzip\tdir/x y.txt\t3\tabc\tserve\t\n" +
				"a.zip\tzip\thex:e92e747874\t0\tdef\tserve\tlatin-1\n",
			want: []Row{
				{File: "a.zip", Entry: "*", Whole: true, Size: -1, SHA256: "-", Expect: "opens", Note: "2 entries"},
				{File: "a.zip", Entry: "dir/x y.txt", Size: 3, SHA256: "abc", Expect: "serve"},
				{File: "a.zip", Entry: "\xe9.txt", Size: 0, SHA256: "def", Expect: "serve", Note: "latin-1"},
			},
		},
		{name: "no header", input: "", wantErr: "no header line"},
		{name: "missing column", input: "file\tentry\tsize\tsha256\texpect\n", wantErr: `no "note" column`},
		{name: "short line", input: header + "a.zip\tzip\t*\n", wantErr: "has 3 fields, the header 7"},
		{name: "bad hex name", input: header + "a.zip\tzip\thex:zz\t1\tabc\tserve\t\n", wantErr: `hex name "hex:zz"`},
		{name: "bad size", input: header + "a.zip\tzip\tb\tlots\tabc\tserve\t\n", wantErr: `size of a.zip "b"`},
		{name: "header only", input: header, wantErr: "no rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := parse(bufio.NewScanner(strings.NewReader(tt.input)))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, rows)
		})
	}
}

// TestManifestMatchesCorpus reads the real manifest and checks that every
// archive it names exists (Path fails the test otherwise) and has exactly
// one whole-archive row.
func TestManifestMatchesCorpus(t *testing.T) {
	wholeRows := make(map[string]int)
	for _, row := range Manifest(t) {
		if row.Whole {
			wholeRows[row.File]++
			require.Equal(t, int64(-1), row.Size, row.File)
		}
		_, err := os.Stat(Path(t, row.File))
		require.NoError(t, err)
	}
	require.NotEmpty(t, wholeRows)
	for file, n := range wholeRows {
		require.Equal(t, 1, n, file)
	}
	// And no archive of the directory is missing from the manifest.
	kept, err := filepath.Glob(filepath.Join(dir(t), "*.zip"))
	require.NoError(t, err)
	require.NotEmpty(t, kept)
	for _, p := range kept {
		require.Contains(t, wholeRows, filepath.Base(p), "an archive without manifest rows")
	}
}

// TestGeneratedZip64ManyEntries checks what the generated archive is for:
// a classic end record that counts 0xFFFF entries, the real count (70,002)
// only in the zip64 end record, and no data descriptors, as in the archive
// Python wrote; and that a second Path finds the cached copy.
func TestGeneratedZip64ManyEntries(t *testing.T) {
	p := Path(t, zip64ManyEntries)
	require.Equal(t, p, Path(t, zip64ManyEntries))
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, zip64ManyEntriesSHA256, SHA256(data))

	end := data[len(data)-22:]
	require.Equal(t, []byte("PK\x05\x06"), end[:4], "the classic end record closes the archive")
	require.Equal(t, uint16(0xFFFF), binary.LittleEndian.Uint16(end[10:12]), "its entry count")
	locator := data[len(data)-22-20:]
	require.Equal(t, []byte("PK\x06\x07"), locator[:4], "a zip64 end locator precedes it")
	zip64End := data[binary.LittleEndian.Uint64(locator[8:16]):]
	require.Equal(t, []byte("PK\x06\x06"), zip64End[:4])
	require.Equal(t, uint64(70_002), binary.LittleEndian.Uint64(zip64End[32:40]), "the zip64 end record's count")

	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	require.Len(t, zr.File, 70_002)
	for _, f := range zr.File {
		require.Zero(t, f.Flags, f.Name)
		require.Equal(t, zip.Store, f.Method, f.Name)
	}
	require.Equal(t, "first.txt", zr.File[0].Name)
	require.Equal(t, "00000", zr.File[1].Name)
	require.Equal(t, "last.txt", zr.File[70_001].Name)
}
