package jobartifacts

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	benchArchivesMu sync.Mutex
	benchArchives   = map[int]string{}
)

// benchArchiveFile is manyEntries(n) in a file shared by the benchmarks of
// one run (removed with the first benchmark's temporary directory's parent).
func benchArchiveFile(b *testing.B, n int) (*os.File, int64) {
	benchArchivesMu.Lock()
	defer benchArchivesMu.Unlock()
	path, ok := benchArchives[n]
	if !ok {
		dir, err := os.MkdirTemp("", "zipbench")
		require.NoError(b, err)
		path = filepath.Join(dir, fmt.Sprintf("%d.zip", n))
		f, err := os.Create(path)
		require.NoError(b, err)
		w := bufio.NewWriterSize(f, 1<<20)
		_, err = manyEntries(n).WriteTo(w)
		require.NoError(b, err)
		require.NoError(b, w.Flush())
		require.NoError(b, f.Close())
		benchArchives[n] = path
	}
	f, err := os.Open(path)
	require.NoError(b, err)
	b.Cleanup(func() { _ = f.Close() })
	fi, err := f.Stat()
	require.NoError(b, err)
	return f, fi.Size()
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range benchArchives {
		_ = os.RemoveAll(filepath.Dir(p))
	}
	os.Exit(code)
}

// BenchmarkLookup finds the first and the last entry of archives of 10k,
// 100k and 1M entries: "walk" is the streaming walk every request made
// before the index; "cold" is the first request through an empty cache
// (answer-ns/op: until its building walk passes the entry; ns/op: until the
// build ends, which a request waits for only after serving, before closing
// its blob); "warm" is every later request.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		f, size := benchArchiveFile(b, n)
		for _, which := range []int{0, n - 1} {
			name := manyEntryName(which)
			pos := "first"
			if which > 0 {
				pos = "last"
			}
			b.Run(fmt.Sprintf("entries=%d/%s/walk", n, pos), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := findZipEntryByWalk(context.Background(), f, size, name); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("entries=%d/%s/cold", n, pos), func(b *testing.B) {
				// answer-ns/op is the time to the entry, what a request
				// waits for; ns/op includes the rest of the build, which
				// runs after the answer (the request is being served).
				var answer time.Duration
				for b.Loop() {
					c := newArchiveIndexCache(DefaultArchiveIndexBudget * 4)
					start := time.Now()
					_, wait, err := c.findEntry(context.Background(), testVersion("k"), f, size, name, nil)
					answer += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					wait()
				}
				b.ReportMetric(float64(answer.Nanoseconds())/float64(b.N), "answer-ns/op")
			})
			b.Run(fmt.Sprintf("entries=%d/%s/warm", n, pos), func(b *testing.B) {
				c := newArchiveIndexCache(DefaultArchiveIndexBudget * 4)
				_, wait, err := c.findEntry(context.Background(), testVersion("k"), f, size, name, nil)
				require.NoError(b, err)
				wait()
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, wait, err := c.findEntry(context.Background(), testVersion("k"), f, size, name, nil); err != nil {
						b.Fatal(err)
					} else {
						wait()
					}
				}
			})
		}
	}
}

// BenchmarkArchiveIndexBuild builds the index of archives of 100k and 1M
// entries, then their tree; B/op is what they keep and their garbage.
func BenchmarkArchiveIndexBuild(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		f, size := benchArchiveFile(b, n)
		b.Run(fmt.Sprintf("entries=%d/index", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := buildArchiveIndex(context.Background(), f, size, 1<<30, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		idx, err := buildArchiveIndex(context.Background(), f, size, 1<<30, nil)
		require.NoError(b, err)
		b.Run(fmt.Sprintf("entries=%d/tree", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buildArchiveTree(idx)
			}
			b.ReportMetric(float64(idx.Cost()+buildArchiveTree(idx).cost())/float64(n), "B/entry")
		})
	}
}

// BenchmarkTreePage answers the first page (100 rows) of the recursive
// listing of an archive of 100k and 1M entries: from a warm index, from
// streaming passes (an archive over the budget), and the whole listing that
// every page cost before (listArchiveTree).
func BenchmarkTreePage(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		f, size := benchArchiveFile(b, n)
		idx, err := buildArchiveIndex(context.Background(), f, size, 1<<30, nil)
		require.NoError(b, err)
		tree := buildArchiveTree(idx)
		b.Run(fmt.Sprintf("entries=%d/indexed", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, err := tree.list(idx, "", true)
				if err != nil || len(v.rows(0, 100)) != 100 {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("entries=%d/streamed", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, err := streamTreeRows(context.Background(), f, size, "", true, 0, 101)
				if err != nil || len(rows) != 101 {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("entries=%d/whole-listing", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := listArchiveTree(context.Background(), f, size, "", true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
