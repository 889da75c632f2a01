package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

func listCases() []blobCase {
	return []blobCase{
		{"Empty", testListEmpty},
		{"PrefixAndKeyOrder", testListPrefix},
		{"Paging", testListPaging},
		{"ListsAfterPageToken", testListPageToken},
		{"Attributes", testListAttributes},
		{"DeletedNotListed", testListDeleted},
	}
}

// listKeys are stored by the list cases, in key order.
var listKeys = []jobartifacts.BlobKey{
	"projects/1/jobs/2/archive-0000000000000001",
	"projects/1/jobs/2/archive-0000000000000002",
	"projects/1/jobs/2/metadata-0000000000000001",
	"projects/1/jobs/20/archive-0000000000000001",
	"projects/11/jobs/2/archive-0000000000000001",
	"projects/2/jobs/3/junit-0000000000000001",
	"projects/2/jobs/3/trace-0000000000000001",
}

// putListKeys puts listKeys in a shuffled order, each holding its own key
// repeated i+1 times, so that sizes differ.
func putListKeys(t *testing.T, s jobartifacts.BlobStore) {
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(listKeys))
	for _, i := range order {
		putBlob(t, s, listKeys[i], []byte(strings.Repeat(string(listKeys[i]), i+1)))
	}
}

// listAll lists every blob under prefix, page by page, checking that pages
// hold up to limit blobs, are in key order and end.
func listAll(t *testing.T, s jobartifacts.BlobStore, prefix string, limit int) []jobartifacts.BlobAttributes {
	t.Helper()
	var all []jobartifacts.BlobAttributes
	token := ""
	for range 1000 {
		page, next, err := s.ListBlobs(t.Context(), prefix, token, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), limit, "ListBlobs returns up to limit blobs")
		all = append(all, page...)
		if next == "" {
			require.True(t, slices.IsSortedFunc(all, func(a, b jobartifacts.BlobAttributes) int { return strings.Compare(string(a.Key), string(b.Key)) }),
				"ListBlobs returns blobs in key order, across pages")
			return all
		}
		require.NotEmpty(t, page, "a page before the last is not empty")
		token = next
	}
	require.FailNow(t, "ListBlobs never returned the last page")
	return nil
}

func attrKeys(as []jobartifacts.BlobAttributes) []jobartifacts.BlobKey {
	var keys []jobartifacts.BlobKey
	for _, a := range as {
		keys = append(keys, a.Key)
	}
	return keys
}

func testListEmpty(t *testing.T, s jobartifacts.BlobStore) {
	page, next, err := s.ListBlobs(t.Context(), "", "", 10)
	require.NoError(t, err)
	require.Empty(t, page)
	require.Empty(t, next, "no next page")
	putListKeys(t, s)
	page, next, err = s.ListBlobs(t.Context(), "projects/3/", "", 10)
	require.NoError(t, err)
	require.Empty(t, page, "no key has the prefix")
	require.Empty(t, next)
}

// ListBlobs returns, in key order, the blobs whose key starts with prefix
// (a string prefix, not a directory).
func testListPrefix(t *testing.T, s jobartifacts.BlobStore) {
	putListKeys(t, s)
	tests := []struct {
		prefix string
		want   []jobartifacts.BlobKey
	}{
		{"", listKeys},
		{jobartifacts.BlobKeyPrefix, listKeys},
		{"projects/1/", listKeys[:4]},
		{"projects/1", listKeys[:5]},
		{"projects/1/jobs/2/", listKeys[:3]},
		{"projects/1/jobs/2/archive-", listKeys[:2]},
		{"projects/2/jobs/3/trace-0000000000000001", listKeys[6:]},
		{"projects/2/jobs/3/trace-00000000000000010", nil},
	}
	for _, tc := range tests {
		got := listAll(t, s, tc.prefix, 100)
		require.Equal(t, tc.want, attrKeys(got), "prefix %q", tc.prefix)
	}
}

// Following the page tokens lists every blob once, whatever the limit.
func testListPaging(t *testing.T, s jobartifacts.BlobStore) {
	putListKeys(t, s)
	for limit := 1; limit <= len(listKeys)+1; limit++ {
		require.Equal(t, listKeys, attrKeys(listAll(t, s, "", limit)), "limit %d", limit)
		require.Equal(t, listKeys[:4], attrKeys(listAll(t, s, "projects/1/", limit)), "limit %d", limit)
	}
	page, next, err := s.ListBlobs(t.Context(), "", "", 3)
	require.NoError(t, err)
	require.NotEmpty(t, page)
	require.NotEmpty(t, next, "more blobs than the limit: there is a next page")
}

// ListBlobs returns the blobs that sort after pageToken.
func testListPageToken(t *testing.T, s jobartifacts.BlobStore) {
	putListKeys(t, s)
	for i, k := range listKeys {
		page, _, err := s.ListBlobs(t.Context(), "", string(k), 100)
		require.NoError(t, err)
		require.Equal(t, nilIfEmpty(listKeys[i+1:]), nilIfEmpty(attrKeys(page)), "after %s", k)
	}
	page, _, err := s.ListBlobs(t.Context(), "projects/1/", "projects/1/jobs/2/b", 100)
	require.NoError(t, err)
	require.Equal(t, listKeys[2:4], attrKeys(page), "a token that is no key")
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Listed blobs carry their size and when they were stored.
func testListAttributes(t *testing.T, s jobartifacts.BlobStore) {
	start := time.Now()
	putListKeys(t, s)
	end := time.Now()
	got := listAll(t, s, "", 100)
	require.Len(t, got, len(listKeys))
	for i, a := range got {
		require.Equal(t, int64(len(listKeys[i])*(i+1)), a.Size, "size of %s", a.Key)
		// Object stores keep seconds, and their clock is not ours.
		require.WithinRange(t, a.ModTime, start.Add(-time.Minute), end.Add(time.Minute), "ModTime of %s", a.Key)
	}
	b, err := s.OpenBlob(t.Context(), listKeys[0])
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	require.Equal(t, b.Info().Size, got[0].Size)
}

// A deleted blob is not listed.
func testListDeleted(t *testing.T, s jobartifacts.BlobStore) {
	putListKeys(t, s)
	for _, i := range []int{0, 3, 6} {
		require.NoError(t, s.DeleteBlob(t.Context(), listKeys[i]))
	}
	want := []jobartifacts.BlobKey{listKeys[1], listKeys[2], listKeys[4], listKeys[5]}
	for limit := 1; limit <= 5; limit++ {
		require.Equal(t, want, attrKeys(listAll(t, s, "", limit)), fmt.Sprintf("limit %d", limit))
	}
}
