package fsstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// rehashes counts the blobs a Store hashed on open.
type rehashes struct {
	mu   sync.Mutex
	keys []jobartifacts.BlobKey
}

func (r *rehashes) hook(then func()) func(jobartifacts.BlobKey) {
	return func(key jobartifacts.BlobKey) {
		r.mu.Lock()
		r.keys = append(r.keys, key)
		r.mu.Unlock()
		if then != nil {
			then()
		}
	}
}

func (r *rehashes) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

// openRehashStore opens a Store on dir without idle files (each open reads
// the blob's info, or hashes) that counts its rehashes.
func openRehashStore(t *testing.T, dir string) (*Store, *rehashes) {
	t.Helper()
	s := openTestStore(t, dir, WithIdleBlobFiles(0))
	r := &rehashes{}
	s.testHookRehashed = r.hook(nil)
	return s, r
}

// putBlobLosingInfo puts data under key and removes its info, as a crash
// between the blob's link and its info's write leaves it; it returns the
// info PutBlob wrote.
func putBlobLosingInfo(t *testing.T, s *Store, key jobartifacts.BlobKey, data string) []byte {
	t.Helper()
	_, err := s.PutBlob(context.Background(), key, strings.NewReader(data))
	require.NoError(t, err)
	info, err := os.ReadFile(s.blobInfoFile(key))
	require.NoError(t, err)
	require.NoError(t, os.Remove(s.blobInfoFile(key)))
	return info
}

// A blob whose info a crash lost is hashed by the first open, which writes
// the info back as PutBlob wrote it: later opens, by this Store or by a
// fresh one (a restart, another process), read it and hash nothing.
func TestLostBlobInfoIsWrittenBack(t *testing.T) {
	dir := t.TempDir()
	s, hashed := openRehashStore(t, dir)
	const key = "projects/1/jobs/100/archive-0123456789abcdef"
	lost := putBlobLosingInfo(t, s, key, "the archive")

	data, info := readBlob(t, s, key)
	require.Equal(t, "the archive", string(data))
	require.Equal(t, sha256ETag(data), info.ETag)
	require.Equal(t, 1, hashed.count(), "the first open hashes")
	back, err := os.ReadFile(s.blobInfoFile(key))
	require.NoError(t, err, "the info is back")
	require.Equal(t, string(lost), string(back), "the record PutBlob wrote")
	require.Empty(t, tempFiles(t, dir))

	_, info = readBlob(t, s, key)
	require.Equal(t, sha256ETag(data), info.ETag)
	require.Equal(t, 1, hashed.count(), "the second open does not")

	fresh, freshHashed := openRehashStore(t, dir)
	_, info = readBlob(t, fresh, key)
	require.Equal(t, sha256ETag(data), info.ETag)
	require.Zero(t, freshHashed.count(), "nor does a fresh Store's")
}

// Two Stores on one directory: the info one writes back spares the other
// the hash; a blob the other deletes while one hashes keeps no info; and a
// blob replaced under its key while one hashes (keys are never reused, but
// the file identity must still tell) is hashed again by the next open,
// whose ETag is the new bytes'.
func TestLostBlobInfoTwoStores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	one, oneHashed := openRehashStore(t, dir)
	two, twoHashed := openRehashStore(t, dir)

	t.Run("written back for the other", func(t *testing.T) {
		const key = "projects/1/jobs/1/archive-aa"
		putBlobLosingInfo(t, one, key, "shared")
		_, info := readBlob(t, one, key)
		require.Equal(t, 1, oneHashed.count())
		_, info2 := readBlob(t, two, key)
		require.Equal(t, info.ETag, info2.ETag)
		require.Zero(t, twoHashed.count(), "two read the info one wrote back")
	})

	t.Run("deleted while hashed", func(t *testing.T) {
		const key = "projects/1/jobs/2/archive-bb"
		putBlobLosingInfo(t, one, key, "going")
		one.testHookRehashed = func(jobartifacts.BlobKey) {
			require.NoError(t, two.DeleteBlob(ctx, key))
		}
		data, info := readBlob(t, one, key)
		one.testHookRehashed = oneHashed.hook(nil)
		require.Equal(t, "going", string(data), "the open file keeps its bytes")
		require.Equal(t, sha256ETag(data), info.ETag)
		require.NoFileExists(t, one.blobInfoFile(key), "no info outlives its blob")
		require.NoDirExists(t, filepath.Join(dir, "blobinfo", "projects", "1", "jobs", "2"))
		_, err := two.OpenBlob(ctx, key)
		require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	})

	t.Run("replaced while hashed", func(t *testing.T) {
		const key = "projects/1/jobs/3/archive-cc"
		putBlobLosingInfo(t, one, key, "old bytes")
		one.testHookRehashed = func(jobartifacts.BlobKey) {
			require.NoError(t, two.DeleteBlob(ctx, key))
			_, err := two.PutBlob(ctx, key, strings.NewReader("new bytes"))
			require.NoError(t, err)
		}
		data, info := readBlob(t, one, key)
		one.testHookRehashed = oneHashed.hook(nil)
		require.Equal(t, "old bytes", string(data))
		require.Equal(t, sha256ETag(data), info.ETag)

		// one wrote back the old file's info over two's: it does not
		// describe the new file, which the next open hashes.
		oneBefore, twoBefore := oneHashed.count(), twoHashed.count()
		data, info = readBlob(t, two, key)
		require.Equal(t, "new bytes", string(data))
		require.Equal(t, sha256ETag(data), info.ETag)
		require.Equal(t, twoBefore+1, twoHashed.count())
		data, info = readBlob(t, one, key)
		require.Equal(t, sha256ETag(data), info.ETag)
		require.Equal(t, oneBefore, oneHashed.count(), "and writes it back")
	})
}
