package jobartifacts

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/zipcorpus"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
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
			entries, err := listArchiveTree(context.Background(), blob, blob.info.Size, tc.dir, tc.recursive)
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
		_, err := listArchiveTree(context.Background(), blob, blob.info.Size, dir, false)
		require.ErrorIs(t, err, ErrNotFound, "%q", dir)
		_, err = listArchiveTree(context.Background(), blob, blob.info.Size, dir, true)
		require.ErrorIs(t, err, ErrNotFound, "%q recursive", dir)
	}
}

func TestListArchiveTreeBuilt(t *testing.T) {
	archive := ziptest.Build(t,
		ziptest.Stored("x/y/z.txt", "zzz"), // no directory entries at all
		ziptest.Stored("x/a.txt", "a"),
		ziptest.Stored("dup.txt", "first"),
		ziptest.Stored("dup.txt", "second, longer"),
		ziptest.Stored("b/", ""),
		ziptest.Stored("b", "a file next to a directory of the same name"),
		ziptest.Stored("../evil.txt", "outside"),
		ziptest.Stored("/abs.txt", "absolute"),
		ziptest.Stored("q//r.txt", "empty segment"),
		ziptest.Stored("./c.txt", "dot"),
		ziptest.Stored(`w\in.txt`, "backslash is not a separator"),
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
			entries, err := listArchiveTree(context.Background(), blob, blob.info.Size, tc.dir, tc.recursive)
			require.NoError(t, err)
			require.Equal(t, tc.want, treeRows(entries))
		})
	}

	// "q//r.txt" is left out whole, so "q" does not exist.
	_, err := listArchiveTree(context.Background(), blob, blob.info.Size, "q", false)
	require.ErrorIs(t, err, ErrNotFound)

	entries, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", false)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Path == "dup.txt" {
			require.Equal(t, int64(len("first")), *e.Size, "first duplicate in central-directory order wins")
		}
	}
}

// TestTreeEntryJSON pins the wire form of a row, as GitLab's JobArtifactEntry
// renders it.
func TestTreeEntryJSON(t *testing.T) {
	archive := ziptest.Build(t, ziptest.Stored("d/f.txt", "12345"))
	blob := memZipBlob(archive)
	entries, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", true)
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
	blob := memZipBlob(ziptest.Build(t,
		ziptest.Entry{Name: "bin/", Mode: fs.ModeDir | 0o750},
		ziptest.Entry{Name: "bin/tool", Mode: 0o755},
		ziptest.Entry{Name: "bin/link", Mode: fs.ModeSymlink | 0o777},
		ziptest.Entry{Name: "plain.txt"}, // no Unix mode recorded
		ziptest.Entry{Name: "dos/"},
		ziptest.Entry{Name: "synth/only.txt", Mode: 0o600},
	))
	entries, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", true)
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
		entries, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", false)
		require.NoError(t, err)
		require.Len(t, entries, 70002)
		require.Equal(t, "00000", entries[0].Name)
		require.Equal(t, "last.txt", entries[len(entries)-1].Name)
	})
	t.Run("empty archive", func(t *testing.T) {
		blob := openCorpusBlob(t, "py-empty-archive.zip")
		entries, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", true)
		require.NoError(t, err)
		require.Empty(t, entries)
		_, err = listArchiveTree(context.Background(), blob, blob.info.Size, "anything", false)
		require.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("odd names", func(t *testing.T) {
		blob := openCorpusBlob(t, "py-odd-names.zip")
		entries, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", false)
		require.NoError(t, err)
		require.Equal(t, []string{
			"d a/", `f ..\win-evil.txt`, `f a\b.txt`, "f cafe\u0301.txt", "f café.txt", "f trailing-space.txt ", "f tree",
		}, treeRows(entries))
	})
	for _, file := range []string{"neg-not-a-zip.zip", "neg-empty-file.zip", "neg-truncated-in-cd.zip", "neg-truncated-in-data.zip"} {
		t.Run(file, func(t *testing.T) {
			blob := openCorpusBlob(t, file)
			_, err := listArchiveTree(context.Background(), blob, blob.info.Size, "", false)
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
		archive := ziptest.Build(t, ziptest.Stored("a.txt", "a"), ziptest.Deflated("b.txt", "bbbb"))
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
		entries, err := listArchiveTree(context.Background(), ra, size, "", false)
		if err != nil || len(entries) != 1 {
			b.Fatalf("root listing: %d rows, %v", len(entries), err)
		}
	}
}

// referenceArchiveTree lists dir the declarative way, from every header
// zip.NewReader holds: the listed keys are the explicit entries (the first of
// each name wins) and every directory their paths imply, below dir and, when
// not recursive, one level deep. It is what listArchiveTree is compared with.
func referenceArchiveTree(ra io.ReaderAt, size int64, dir string, recursive bool) ([]treeEntry, error) {
	zr, err := openZipReader(context.Background(), ra, size)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(dir, "/")
	if prefix != "" {
		prefix += "/"
	}
	segmentsValid := func(p string) bool {
		return !slices.ContainsFunc(strings.Split(p, "/"), func(seg string) bool { return seg == "" || seg == "." || seg == ".." })
	}
	explicit := make(map[string]*zip.File) // by name, a directory's with its "/"
	implied := make(map[string]bool)       // directory paths, with their "/"
	found := prefix == ""
	for _, f := range zr.File {
		clean := strings.TrimSuffix(f.Name, "/")
		if !segmentsValid(clean) {
			continue
		}
		if prefix != "" && strings.HasPrefix(f.Name, prefix) && segmentsValid(strings.TrimSuffix(prefix, "/")) {
			found = true
		}
		if _, seen := explicit[f.Name]; !seen {
			explicit[f.Name] = f
		}
		for i := range len(clean) {
			if clean[i] == '/' {
				implied[clean[:i+1]] = true
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: directory %q", ErrNotFound, dir)
	}
	listed := func(key string) bool {
		if !strings.HasPrefix(key, prefix) || len(key) == len(prefix) {
			return false
		}
		return recursive || !strings.Contains(strings.TrimSuffix(key[len(prefix):], "/"), "/")
	}
	var rows []treeEntry // nil when empty, as listArchiveTree (the pager renders [])
	for key := range implied {
		if listed(key) && explicit[key] == nil {
			name := strings.TrimSuffix(key, "/")
			rows = append(rows, treeEntry{Name: name[strings.LastIndex(name, "/")+1:], Path: key, Type: treeTypeDirectory})
		}
	}
	for key, f := range explicit {
		if !listed(key) {
			continue
		}
		name := strings.TrimSuffix(key, "/")
		e := treeEntry{Name: name[strings.LastIndex(name, "/")+1:], Path: key, Type: treeTypeDirectory}
		isDir := strings.HasSuffix(key, "/")
		e.Mode = zipEntryMode(f.ExternalAttrs, isDir)
		if !isDir {
			size := int64(f.UncompressedSize64)
			e.Type, e.Size = treeTypeFile, &size
		}
		rows = append(rows, e)
	}
	slices.SortFunc(rows, func(a, b treeEntry) int { return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Path, b.Path)) })
	return rows, nil
}

// treeListingCase is one listing both listers are asked for.
type treeListingCase struct {
	dir       string
	recursive bool
}

// treeListingCases are the root, the recursive root, a missing directory and
// up to maxDirs directories of the archive (plainly and recursively, with and
// without their "/"), taken from the reference's recursive listing.
func treeListingCases(ra io.ReaderAt, size int64, maxDirs int) []treeListingCase {
	cases := []treeListingCase{{"", false}, {"", true}, {"no such dir", false}, {"/", false}}
	all, err := referenceArchiveTree(ra, size, "", true)
	if err != nil {
		return cases
	}
	dirs := 0
	for _, e := range all {
		if e.Type != treeTypeDirectory || dirs == maxDirs {
			continue
		}
		dirs++
		cases = append(cases,
			treeListingCase{e.Path, false}, treeListingCase{strings.TrimSuffix(e.Path, "/"), true})
	}
	return cases
}

// requireSameListing asserts that listArchiveTree and the reference agree
// on one listing: the same rows, or errors of the same class.
func requireSameListing(t *testing.T, ra io.ReaderAt, size int64, c treeListingCase) {
	t.Helper()
	want, wantErr := referenceArchiveTree(ra, size, c.dir, c.recursive)
	got, gotErr := listArchiveTree(context.Background(), ra, size, c.dir, c.recursive)
	require.Equal(t, zipErrorClass(wantErr), zipErrorClass(gotErr), "dir %q recursive %v: %v", c.dir, c.recursive, gotErr)
	require.Equal(t, want, got, "dir %q recursive %v", c.dir, c.recursive)
}

// TestListArchiveTreeMatchesZipReaderCorpus lists every corpus archive both
// ways: the streamed listing must equal the reference built on zip.NewReader.
func TestListArchiveTreeMatchesZipReaderCorpus(t *testing.T) {
	files := make(map[string]bool)
	for _, row := range zipcorpus.Manifest(t) {
		files[row.File] = true
	}
	require.NotEmpty(t, files)
	for _, file := range slices.Sorted(func(yield func(string) bool) {
		for f := range files {
			if !yield(f) {
				return
			}
		}
	}) {
		t.Run(file, func(t *testing.T) {
			blob := openCorpusBlob(t, file)
			dirs := 6
			if raceEnabled {
				dirs = 1
			}
			for _, c := range treeListingCases(blob, blob.info.Size, dirs) {
				requireSameListing(t, blob, blob.info.Size, c)
			}
		})
	}
}

// TestListArchiveTreeMatchesZipReaderBuilt covers the orders the corpus does
// not: a directory's own entry after, between or before its contents, repeated
// directory entries with different modes, and names no tree can hold.
func TestListArchiveTreeMatchesZipReaderBuilt(t *testing.T) {
	type entry struct {
		name string
		mode fs.FileMode // 0: no Unix mode
	}
	cases := []struct {
		name    string
		entries []entry
	}{
		{name: "directory entry after its contents", entries: []entry{
			{"a/b/c.txt", 0o640}, {"a/x.txt", 0}, {"a/b/", fs.ModeDir | 0o700}, {"a/", fs.ModeDir | 0o711},
		}},
		{name: "repeated directory entries: the first mode wins", entries: []entry{
			{"d/", fs.ModeDir | 0o700}, {"d/f", 0o600}, {"d/", fs.ModeDir | 0o755}, {"d/", 0},
		}},
		{name: "repeated files: the first size and mode win", entries: []entry{
			{"f.txt", 0o600}, {"g/f.txt", 0}, {"f.txt", 0o644}, {"g/f.txt", 0o777},
		}},
		{name: "file and directory of one name", entries: []entry{
			{"same", 0o644}, {"same/", fs.ModeDir | 0o755}, {"same/inner", 0o644},
		}},
		{name: "invalid names", entries: []entry{
			{"/abs", 0}, {"a//b", 0}, {"./c", 0}, {"x/../y", 0}, {"..", 0}, {"/", 0}, {"", 0}, {"ok/fine", 0}, {`back\slash/x`, 0},
		}},
		{name: "deep synthesized tree", entries: []entry{
			{"1/2/3/4/5/6.txt", 0}, {"1/2/other.txt", 0}, {"1/2/3/", fs.ModeDir | 0o750},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var entries []ziptest.Entry
			for i, e := range tc.entries {
				entry := ziptest.Entry{Name: e.name, Mode: e.mode}
				if !strings.HasSuffix(e.name, "/") {
					entry.Body = []byte(strings.Repeat("x", i))
				}
				entries = append(entries, entry)
			}
			archive := ziptest.Build(t, entries...)
			ra, size := bytes.NewReader(archive), int64(len(archive))
			for _, c := range treeListingCases(ra, size, -1) {
				requireSameListing(t, ra, size, c)
			}
		})
	}
}

// TestListArchiveTreeBoundedMemory: listing the root of an archive whose
// 20,000 entries all sit in one directory keeps one row, not the entries:
// as many allocations as with 20 entries, and bytes bounded by the walk's
// buffers.
func TestListArchiveTreeBoundedMemory(t *testing.T) {
	listRoot := func(ra io.ReaderAt, size int64) {
		entries, err := listArchiveTree(context.Background(), ra, size, "", false)
		if err != nil || len(entries) != 1 || entries[0].Path != "entries/" {
			panic(fmt.Sprintf("root listing: %v, %v", entries, err))
		}
	}
	allocs := func(n int) float64 {
		archive := manyEntryZip(t, n)
		ra, size := bytes.NewReader(archive), int64(len(archive))
		return testing.AllocsPerRun(5, func() { listRoot(ra, size) })
	}
	small, large := allocs(20), allocs(20_000)
	require.Less(t, large, 24.0)
	require.Equal(t, small, large, "allocations must not grow with the number of entries")

	archive := manyEntryZip(t, 20_000)
	ra, size := bytes.NewReader(archive), int64(len(archive))
	listRoot(ra, size) // warm up
	const runs = 5
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		listRoot(ra, size)
	}
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / runs
	require.Less(t, perRun, uint64(2*zipWalkBufferSize), "bytes per root listing")
}

// TestListArchiveTreeReadErrors: a blob that fails to read is reported as
// itself, never as an invalid archive, and a cancelled request stops the walk.
func TestListArchiveTreeReadErrors(t *testing.T) {
	archive := manyEntryZip(t, 5_000)
	errStorage := errors.New("storage offline")
	for okReads := range 3 {
		t.Run(fmt.Sprintf("fails after %d reads", okReads), func(t *testing.T) {
			ra := &failAfterReadAt{ra: bytes.NewReader(archive), ok: okReads, err: errStorage}
			_, err := listArchiveTree(context.Background(), ra, int64(len(archive)), "", true)
			require.ErrorIs(t, err, errStorage)
			require.NotErrorIs(t, err, ErrInvalidArchive)
		})
	}
	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := listArchiveTree(ctx, bytes.NewReader(archive), int64(len(archive)), "", false)
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, ErrInvalidArchive)
	})
}
