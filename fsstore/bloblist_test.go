package fsstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// ListBlobs walks directories, but pages in key order: '-' and '.' sort
// before '/', digits and letters after it. Every page size, prefix and
// token, including tokens that name no key, agrees with sorting the keys.
func TestListBlobsInKeyOrder(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), WithoutFsync())
	keys := []string{
		"a", "a-b", "a.b", "a0", "ab",
		"a/b", "a/b/c", "a/b-c", "a/b.c", "a/b0", "a/bc", "a/b/c-d", "a/b/c/d",
		"projects/1/jobs/2/archive-00", "projects/1/jobs/2-x", "projects/1/jobs/20/archive-00",
		"projects/10/jobs/1/archive-00", "projects/1/jobs/2/trace-00", "z",
	}
	// A file and a directory cannot share a name, so "a" and "a/b" cannot
	// both be blobs: drop the files that are also directories.
	var stored []string
	for _, k := range keys {
		if !slices.ContainsFunc(keys, func(o string) bool { return strings.HasPrefix(o, k+"/") }) {
			stored = append(stored, k)
			_, err := s.PutBlob(ctx, jobartifacts.BlobKey(k), strings.NewReader(k))
			require.NoError(t, err, k)
		}
	}
	slices.Sort(stored)
	reference := func(prefix, after string) []string {
		var want []string
		for _, k := range stored {
			if strings.HasPrefix(k, prefix) && k > after {
				want = append(want, k)
			}
		}
		return want
	}
	tokens := append([]string{"", "a/", "a/b/", "a/b/c/", "projects/1/jobs/2", "projects/1/jobs/2/", "zz", "0"}, stored...)
	for _, prefix := range []string{"", "a", "a/", "a/b", "a/b/", "projects/1/", "projects/1/jobs/2", "q"} {
		for _, limit := range []int{1, 2, 3, 100} {
			for _, start := range tokens {
				t.Run(fmt.Sprintf("prefix=%q,limit=%d,after=%q", prefix, limit, start), func(t *testing.T) {
					var got []string
					token := start
					for pages := 0; ; pages++ {
						require.Less(t, pages, 100, "paging ends")
						page, next, err := s.ListBlobs(ctx, prefix, token, limit)
						require.NoError(t, err)
						require.LessOrEqual(t, len(page), limit)
						for _, b := range page {
							got = append(got, string(b.Key))
							require.EqualValues(t, len(b.Key), b.Size)
						}
						if next == "" {
							break
						}
						require.Len(t, page, limit, "only a full page has a next one")
						token = next
					}
					require.Equal(t, reference(prefix, start), got)
				})
			}
		}
	}
}
