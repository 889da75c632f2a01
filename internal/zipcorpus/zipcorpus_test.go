package zipcorpus

import (
	"bufio"
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
// archive it names exists in Dir and has exactly one whole-archive row.
func TestManifestMatchesCorpus(t *testing.T) {
	dir := Dir(t)
	wholeRows := make(map[string]int)
	for _, row := range Manifest(t) {
		if row.Whole {
			wholeRows[row.File]++
			require.Equal(t, int64(-1), row.Size, row.File)
		}
		_, err := os.Stat(filepath.Join(dir, row.File))
		require.NoError(t, err)
	}
	require.NotEmpty(t, wholeRows)
	for file, n := range wholeRows {
		require.Equal(t, 1, n, file)
	}
}
