package jobartifacts

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/klauspost/compress/zip"
	"github.com/stretchr/testify/require"
)

// treeRows gives listing rows in short form: "d dir/" or "f path".
func treeRows(entries []treeEntry) []string {
	rows := make([]string, len(entries))
	for i, e := range entries {
		switch e.Type {
		case treeTypeDirectory:
			rows[i] = "d " + e.Path
		default:
			rows[i] = "f " + e.Path
		}
	}
	return rows
}

func TestListArchiveTreeCorpus(t *testing.T) {
	blob := openCorpusBlob(t, "infozip-tree.zip")
	cases := []struct {
		name      string
		dir       string
		recursive bool
		want      []string
	}{
		{name: "root", dir: "", want: []string{
			"d dir with space/", "d empty-dir/", "d names/", "d nested/", "d some/",
			"f README.txt", "f app.js", "f empty.txt", "f index.html", "f junit.xml", "f link-abs",
			"f link-dir", "f link-to-readme", "f logo.svg", "f pixel.png", "f report.json",
		}},
		{name: "root as slash", dir: "/", want: []string{
			"d dir with space/", "d empty-dir/", "d names/", "d nested/", "d some/",
			"f README.txt", "f app.js", "f empty.txt", "f index.html", "f junit.xml", "f link-abs",
			"f link-dir", "f link-to-readme", "f logo.svg", "f pixel.png", "f report.json",
		}},
		{name: "nested dir", dir: "nested/a", want: []string{"d nested/a/b/", "f nested/a/big.log"}},
		{name: "nested dir with slash", dir: "nested/a/", want: []string{"d nested/a/b/", "f nested/a/big.log"}},
		{name: "recursive", dir: "nested", recursive: true, want: []string{
			"d nested/a/", "d nested/a/b/", "d nested/a/b/c/",
			"f nested/a/b/c/deep.txt", "f nested/a/b/random.bin", "f nested/a/big.log",
		}},
		{name: "odd names stay raw", dir: "names", want: []string{
			"f names/hash#1.txt", "f names/pct%41.txt", "f names/query?x=1.txt", "f names/semi;colon.txt",
		}},
		{name: "non-ASCII", dir: "dir with space", want: []string{"f dir with space/file +plus é 日本.txt"}},
		{name: "explicit empty dir", dir: "empty-dir", want: []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := listArchiveTree(blob, blob.info.Size, tc.dir, tc.recursive)
			require.NoError(t, err)
			require.Equal(t, tc.want, treeRows(entries))
			for _, e := range entries {
				p := strings.TrimSuffix(e.Path, "/")
				require.Equal(t, p[len(p)-len(e.Name):], e.Name, "name is the last segment of path")
				require.Equal(t, e.Type == treeTypeDirectory, strings.HasSuffix(e.Path, "/"), "only a directory's path ends with /")
				if e.Type == treeTypeDirectory {
					require.Nil(t, e.Size)
					require.Regexp(t, `^040[0-7]{3}$`, string(e.Mode), "an explicit directory entry carries its Unix mode")
					continue
				}
				require.Regexp(t, `^1[02]0[0-7]{3}$`, string(e.Mode), "a regular file's or a symlink's Unix mode")
				require.NotNil(t, e.Size)
				require.Equal(t, zipManifestEntry(t, "infozip-tree.zip", e.Path).Size, *e.Size)
			}
		})
	}
}

func TestListArchiveTreeNotFound(t *testing.T) {
	blob := openCorpusBlob(t, "infozip-tree.zip")
	for _, dir := range []string{"nope", "README.txt", "nested/a/big.log", "Nested", "nested//a", "./nested", "nested/a/b/c/deep.txt"} {
		_, err := listArchiveTree(blob, blob.info.Size, dir, false)
		require.ErrorIs(t, err, ErrNotFound, "%q", dir)
		_, err = listArchiveTree(blob, blob.info.Size, dir, true)
		require.ErrorIs(t, err, ErrNotFound, "%q recursive", dir)
	}
}

func TestListArchiveTreeBuilt(t *testing.T) {
	archive := buildTestZip(t,
		storedEntry("x/y/z.txt", "zzz"), // no directory entries at all
		storedEntry("x/a.txt", "a"),
		storedEntry("dup.txt", "first"),
		storedEntry("dup.txt", "second, longer"),
		storedEntry("b/", ""),
		storedEntry("b", "a file next to a directory of the same name"),
		storedEntry("../evil.txt", "outside"),
		storedEntry("/abs.txt", "absolute"),
		storedEntry("q//r.txt", "empty segment"),
		storedEntry("./c.txt", "dot"),
		storedEntry(`w\in.txt`, "backslash is not a separator"),
	)
	blob := memZipBlob(archive)
	cases := []struct {
		name      string
		dir       string
		recursive bool
		want      []string
	}{
		{name: "root", want: []string{"d b/", "d x/", `f b`, "f dup.txt", `f w\in.txt`}},
		{name: "recursive root", recursive: true, want: []string{
			"d b/", "d x/", "d x/y/", "f b", "f dup.txt", `f w\in.txt`, "f x/a.txt", "f x/y/z.txt",
		}},
		{name: "synthesized dir", dir: "x", want: []string{"d x/y/", "f x/a.txt"}},
		{name: "synthesized nested dir", dir: "x/y/", want: []string{"f x/y/z.txt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := listArchiveTree(blob, blob.info.Size, tc.dir, tc.recursive)
			require.NoError(t, err)
			require.Equal(t, tc.want, treeRows(entries))
		})
	}

	// "q//r.txt" is left out whole, so "q" does not exist.
	_, err := listArchiveTree(blob, blob.info.Size, "q", false)
	require.ErrorIs(t, err, ErrNotFound)

	entries, err := listArchiveTree(blob, blob.info.Size, "", false)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Path == "dup.txt" {
			require.Equal(t, int64(len("first")), *e.Size, "first duplicate in central-directory order wins")
		}
	}
}

// TestTreeEntryJSON pins the wire form of a row (spec §7).
func TestTreeEntryJSON(t *testing.T) {
	archive := buildTestZip(t, storedEntry("d/f.txt", "12345"))
	blob := memZipBlob(archive)
	entries, err := listArchiveTree(blob, blob.info.Size, "", true)
	require.NoError(t, err)
	got, err := json.Marshal(entries)
	require.NoError(t, err)
	require.JSONEq(t, `[
		{"name":"d","path":"d/","type":"directory","mode":null},
		{"name":"f.txt","path":"d/f.txt","type":"file","size":5,"mode":"100644"}
	]`, string(got))
}

// TestListArchiveTreeModes pins where modes come from: the Unix mode in an
// entry's external attributes, GitLab's usual ones for entries without one,
// and none (null) for a directory that has no entry of its own.
func TestListArchiveTreeModes(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name string
		mode fs.FileMode
	}{
		{"bin/", fs.ModeDir | 0o750},
		{"bin/tool", 0o755},
		{"bin/link", fs.ModeSymlink | 0o777},
		{"plain.txt", 0}, // no Unix mode recorded
		{"dos/", 0},
		{"synth/only.txt", 0o600},
	} {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Store}
		if e.mode != 0 {
			fh.SetMode(e.mode)
		}
		_, err := zw.CreateHeader(fh)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	blob := memZipBlob(buf.Bytes())
	entries, err := listArchiveTree(blob, blob.info.Size, "", true)
	require.NoError(t, err)
	modes := make(map[string]nullString)
	for _, e := range entries {
		modes[e.Path] = e.Mode
	}
	require.Equal(t, map[string]nullString{
		"bin/": "040750", "dos/": "040755", "synth/": "",
		"bin/tool": "100755", "bin/link": "120777", "plain.txt": "100644", "synth/only.txt": "100600",
	}, modes)
}

func TestListArchiveTreeArchives(t *testing.T) {
	t.Run("zip64 with 70002 entries", func(t *testing.T) {
		blob := openCorpusBlob(t, "py-zip64-70000-entries.zip")
		entries, err := listArchiveTree(blob, blob.info.Size, "", false)
		require.NoError(t, err)
		require.Len(t, entries, 70002)
		require.Equal(t, "00000", entries[0].Name)
		require.Equal(t, "last.txt", entries[len(entries)-1].Name)
	})
	t.Run("empty archive", func(t *testing.T) {
		blob := openCorpusBlob(t, "py-empty-archive.zip")
		entries, err := listArchiveTree(blob, blob.info.Size, "", true)
		require.NoError(t, err)
		require.Empty(t, entries)
		_, err = listArchiveTree(blob, blob.info.Size, "anything", false)
		require.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("odd names", func(t *testing.T) {
		blob := openCorpusBlob(t, "py-odd-names.zip")
		entries, err := listArchiveTree(blob, blob.info.Size, "", false)
		require.NoError(t, err)
		require.Equal(t, []string{
			"d a/", `f ..\win-evil.txt`, `f a\b.txt`, "f cafe\u0301.txt", "f café.txt", "f trailing-space.txt ", "f tree",
		}, treeRows(entries))
	})
	for _, file := range []string{"neg-not-a-zip.zip", "neg-empty-file.zip", "neg-truncated-in-cd.zip", "neg-truncated-in-data.zip"} {
		t.Run(file, func(t *testing.T) {
			blob := openCorpusBlob(t, file)
			_, err := listArchiveTree(blob, blob.info.Size, "", false)
			require.ErrorIs(t, err, ErrInvalidArchive)
		})
	}
}

func TestValidateZipArchive(t *testing.T) {
	cases := []struct {
		file  string
		valid bool
	}{
		{"infozip-tree.zip", true},
		{"py-empty-archive.zip", true},
		{"py-zip64-70000-entries.zip", true},
		{"infozip-encrypted.zip", true}, // readable; its entries are refused when served
		{"kp-zstd-method20.zip", true},
		{"neg-bad-crc-stored.zip", true}, // the damage is in the data, not the directory
		{"neg-not-a-zip.zip", false},
		{"neg-empty-file.zip", false},
		{"neg-truncated-in-cd.zip", false},
		{"neg-truncated-in-data.zip", false},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			blob := openCorpusBlob(t, tc.file)
			err := validateZipArchive(blob, blob.info.Size)
			if tc.valid {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidArchive)
		})
	}

	t.Run("built in memory", func(t *testing.T) {
		archive := buildTestZip(t, storedEntry("a.txt", "a"), zipTestEntry{
			header: zip.FileHeader{Name: "b.txt", Method: zip.Deflate}, data: []byte("bbbb"),
		})
		require.NoError(t, validateZipArchive(memZipBlob(archive), int64(len(archive))))
		require.ErrorIs(t, validateZipArchive(memZipBlob(archive[:len(archive)-30]), int64(len(archive)-30)), ErrInvalidArchive)
	})
}

// BenchmarkListArchiveTree lists the root of an archive of 100k tiny entries,
// all in one directory: the response is one row, so B/op shows what the
// listing keeps of the entries it does not return.
func BenchmarkListArchiveTree(b *testing.B) {
	archive := manyEntryZip(b, 100_000)
	ra, size := bytes.NewReader(archive), int64(len(archive))
	b.ReportAllocs()
	for b.Loop() {
		entries, err := listArchiveTree(ra, size, "", false)
		if err != nil || len(entries) != 1 {
			b.Fatalf("root listing: %d rows, %v", len(entries), err)
		}
	}
}
