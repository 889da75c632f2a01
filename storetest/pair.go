package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// Cases for jobartifacts.StoreArtifact, which puts a blob and records it.
func storeArtifactCases() []storeCase {
	return []storeCase{
		{"Stores", testStoreArtifact},
		{"Replaces", testStoreArtifactReplaces},
		{"FailedUploadKeepsOld", testStoreArtifactFailedUpload},
		{"MissingJob", testStoreArtifactMissingJob},
		{"ConcurrentOnTwoViewsLeaveNoOrphans", testStoreArtifactConcurrent},
	}
}

// Cases for jobartifacts.Sweeper over the store.
func sweeperCases() []storeCase {
	return []storeCase{
		{"Sweep", testSweeperSweep},
		{"ConcurrentSweepersOnTwoViews", testSweepersConcurrent},
		{"CollectOrphanBlobs", testSweeperOrphans},
	}
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// storeArtifact uploads data as a job's artifact of the given type with
// StoreArtifact.
func storeArtifact(t *testing.T, s StoreUnderTest, projectID, jobID int64, fileType string, data []byte, expireAt *time.Time) *jobartifacts.Job {
	t.Helper()
	j, err := jobartifacts.StoreArtifact(t.Context(), s, projectID, jobID,
		jobartifacts.Artifact{FileType: fileType, FileFormat: "zip", Filename: "artifacts.zip", ExpireAt: expireAt},
		onlyReader{bytes.NewReader(data)})
	require.NoError(t, err)
	return j
}

// StoreArtifact stores the bytes in a blob and records them, with Size,
// SHA256 and Blob filled in and FileType "archive" by default; another view
// reads both.
func testStoreArtifact(t *testing.T, a, b StoreUnderTest) {
	twoProjects(t, a)
	data := pseudoRandom(20, 30_000)
	j := storeArtifact(t, a, 1, 100, "", data, at(time.Hour))

	got, ok := j.Archive()
	require.True(t, ok)
	require.Equal(t, "zip", got.FileFormat)
	require.Equal(t, "artifacts.zip", got.Filename)
	require.Equal(t, int64(len(data)), got.Size)
	require.Equal(t, hexSHA256(data), got.SHA256)
	require.NotEmpty(t, got.Blob)
	requireSameTime(t, at(time.Hour), got.ExpireAt, "artifact ExpireAt")
	requireSameTime(t, at(time.Hour), j.ArtifactsExpireAt, "job ArtifactsExpireAt")

	again, err := b.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, j, again)
	bytesRead, _ := readBlob(t, b, got.Blob)
	require.Equal(t, data, bytesRead)
}

// StoreArtifact replaces the artifact of the same type under a fresh key
// and queues the old blob, which stays readable until a Sweeper deletes it
// after the grace period.
func testStoreArtifactReplaces(t *testing.T, a, b StoreUnderTest) {
	twoProjects(t, a)
	first := storeArtifact(t, a, 1, 100, "", []byte("first archive"), nil)
	old, _ := first.Archive()

	data := pseudoRandom(21, 5000)
	j := storeArtifact(t, b, 1, 100, "", data, nil)
	require.Len(t, j.Artifacts, 1)
	got, _ := j.Archive()
	require.NotEqual(t, old.Blob, got.Blob, "a fresh key per upload")
	require.Equal(t, hexSHA256(data), got.SHA256)
	bytesRead, _ := readBlob(t, a, got.Blob)
	require.Equal(t, data, bytesRead)

	bytesRead, _ = readBlob(t, a, old.Blob)
	require.Equal(t, "first archive", string(bytesRead), "the replaced blob stays for the grace period")
	require.Equal(t, []jobartifacts.BlobKey{old.Blob}, drainQueue(t, a), "the replaced blob is queued")
}

// StoreArtifact with a broken upload records nothing and leaves no blob:
// the old artifact and its bytes stay.
func testStoreArtifactFailedUpload(t *testing.T, a, b StoreUnderTest) {
	twoProjects(t, a)
	before := storeArtifact(t, a, 1, 100, "", []byte("good archive"), nil)

	_, err := jobartifacts.StoreArtifact(t.Context(), b, 1, 100,
		jobartifacts.Artifact{FileFormat: "zip", Filename: "artifacts.zip"}, failingReader(pseudoRandom(22, 10_000)))
	require.Error(t, err)

	after, err := a.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, before, after)
	old, _ := after.Archive()
	got, _ := readBlob(t, a, old.Blob)
	require.Equal(t, "good archive", string(got))
	require.Equal(t, []jobartifacts.BlobKey{old.Blob}, attrKeys(listAll(t, a, "projects/1/jobs/100/", 10)), "no blob of the broken upload")
	require.Empty(t, drainQueue(t, a))
}

func testStoreArtifactMissingJob(t *testing.T, a, _ StoreUnderTest) {
	twoProjects(t, a)
	for _, ids := range []struct{ project, job int64 }{{1, 999}, {1, 200}, {3, 100}} {
		_, err := jobartifacts.StoreArtifact(t.Context(), a, ids.project, ids.job,
			jobartifacts.Artifact{FileFormat: "zip", Filename: "artifacts.zip"}, onlyReader{bytes.NewReader([]byte("zip"))})
		requireNotFound(t, err, "project %d job %d", ids.project, ids.job)
	}
	j, err := a.Job(t.Context(), 2, 200)
	require.NoError(t, err)
	require.Empty(t, j.Artifacts)
	require.Empty(t, listAll(t, a, "", 10), "no blob was left")
}

// StoreArtifact on one job from both views at once: the job ends with one
// archive, and every other blob written is queued, none orphaned.
func testStoreArtifactConcurrent(t *testing.T, a, b StoreUnderTest) {
	const writers, uploads = 8, 5
	twoProjects(t, a)
	var problems errorList
	race(writers, func(w int) {
		s := a
		if w%2 == 1 {
			s = b
		}
		for u := range uploads {
			_, err := jobartifacts.StoreArtifact(t.Context(), s, 1, 100,
				jobartifacts.Artifact{FileFormat: "zip", Filename: "artifacts.zip"},
				onlyReader{bytes.NewReader(pseudoRandom(byte(w*uploads+u), 2000))})
			if err != nil {
				problems.add("writer %d upload %d: %v", w, u, err)
			}
		}
	})
	problems.require(t)

	j, err := b.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Len(t, j.Artifacts, 1)
	final, _ := j.Archive()
	listed := attrKeys(listAll(t, a, "projects/1/jobs/100/", 100))
	require.Len(t, listed, writers*uploads, "every upload's blob")
	queued := drainQueue(t, b)
	require.Len(t, queued, writers*uploads-1, "every replaced blob is queued once")
	require.Equal(t, listed, slices.Sorted(slices.Values(append(slices.Clone(queued), final.Blob))),
		"every blob is recorded or queued")
}

// seedSweep stores artifacts for the Sweeper cases through a: job 100's
// archive is due at baseTime, 101's is not, 102's was kept, 103 has only a
// due log, and 104 a due archive and a metadata file that never expires.
// It returns the due records and the records that stay.
func seedSweep(t *testing.T, a StoreUnderTest) (due, stay []jobartifacts.Artifact) {
	sd := seeder{t, a}
	sd.project(1, "group/app")
	sd.pipeline(1, 10, "main", success)
	for id := int64(100); id <= 104; id++ {
		sd.job(1, 10, id, "build", success)
	}
	store := func(id int64, fileType string, expireAt *time.Time) jobartifacts.Artifact {
		j := storeArtifact(t, a, 1, id, fileType, pseudoRandom(byte(id), 3000), expireAt)
		got, ok := artifactOf(j, fileType)
		require.True(t, ok)
		return got
	}
	due = append(due, store(100, archive, at(-time.Hour)))
	stay = append(stay, store(101, archive, at(time.Hour)))
	store(102, archive, at(-time.Hour))
	kept, err := a.KeepArtifacts(t.Context(), 1, 102, baseTime.Add(-2*time.Hour))
	require.NoError(t, err)
	stay = append(stay, kept.Artifacts...)
	stay = append(stay, store(103, trace, at(-time.Hour)))
	due = append(due, store(104, archive, at(-time.Hour)))
	stay = append(stay, store(104, "metadata", nil))
	return due, stay
}

// requireSwept checks that the due records and blobs are gone, and the
// others are there.
func requireSwept(t *testing.T, s StoreUnderTest, due, stay []jobartifacts.Artifact) {
	t.Helper()
	for _, a := range due {
		requireNoBlob(t, s, a.Blob, "swept blob %s", a.Blob)
	}
	for _, a := range stay {
		got, _ := readBlob(t, s, a.Blob)
		require.Len(t, got, int(a.Size), "blob %s", a.Blob)
	}
	var records []jobartifacts.Artifact
	for id := int64(100); id <= 104; id++ {
		j, err := s.Job(t.Context(), 1, id)
		require.NoError(t, err)
		records = append(records, j.Artifacts...)
	}
	require.Equal(t, blobKeys(stay...), blobKeys(records...), "the records left")
}

// Sweep removes the due records at once and their blobs once the grace
// period has passed; kept, unexpired and log records and their blobs stay.
func testSweeperSweep(t *testing.T, a, b StoreUnderTest) {
	due, stay := seedSweep(t, a)
	clock := jobartifacts.WithSweeperClock(func() time.Time { return baseTime })

	removed, err := jobartifacts.NewSweeper(a, clock, jobartifacts.WithSweeperBatchSize(1)).Sweep(t.Context())
	require.NoError(t, err)
	require.Equal(t, len(due), removed)
	for _, r := range due {
		got, _ := readBlob(t, b, r.Blob)
		require.Len(t, got, int(r.Size), "within the grace period the blob %s stays", r.Blob)
	}

	removed, err = jobartifacts.NewSweeper(b, clock, jobartifacts.WithBlobGrace(0)).Sweep(t.Context())
	require.NoError(t, err)
	require.Zero(t, removed)
	requireSwept(t, a, due, stay)
	require.Empty(t, drainQueue(t, a), "every queued blob was deleted")
}

// Sweepers on two views at once remove every due record once and delete
// its blob; nothing else.
func testSweepersConcurrent(t *testing.T, a, b StoreUnderTest) {
	due, stay := seedSweep(t, a)
	opts := []jobartifacts.SweeperOption{
		jobartifacts.WithSweeperClock(func() time.Time { return baseTime }),
		jobartifacts.WithBlobGrace(0), jobartifacts.WithSweeperBatchSize(1),
	}
	removed := make([]int, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range 4 {
		s := a
		if i%2 == 1 {
			s = b
		}
		sweeper := jobartifacts.NewSweeper(s, opts...)
		wg.Go(func() { removed[i], errs[i] = sweeper.Sweep(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "sweeper %d", i)
	}
	require.Equal(t, len(due), removed[0]+removed[1]+removed[2]+removed[3], "each record removed once")
	// A sweeper may have claimed before another queued: one more sweep
	// deletes what is left.
	n, err := jobartifacts.NewSweeper(a, opts...).Sweep(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)
	requireSwept(t, b, due, stay)
	require.Empty(t, drainQueue(t, a))
}

// CollectOrphanBlobs queues blobs that no record names, and a sweep
// deletes them; recorded blobs stay.
func testSweeperOrphans(t *testing.T, a, b StoreUnderTest) {
	twoProjects(t, a)
	j := storeArtifact(t, a, 1, 100, "", []byte("recorded"), nil)
	recorded, _ := j.Archive()
	orphan := jobartifacts.NewBlobKey(1, 100, archive)
	putBlob(t, b, orphan, []byte("orphan"))
	gone := jobartifacts.NewBlobKey(1, 999, archive)
	putBlob(t, b, gone, []byte("of a job that does not exist"))

	sweeper := jobartifacts.NewSweeper(a,
		jobartifacts.WithSweeperClock(func() time.Time { return time.Now().Add(time.Minute) }),
		jobartifacts.WithOrphanBlobAge(0), jobartifacts.WithBlobGrace(0), jobartifacts.WithSweeperBatchSize(1))
	queued, err := sweeper.CollectOrphanBlobs(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, queued)
	_, err = sweeper.Sweep(t.Context())
	require.NoError(t, err)
	requireNoBlob(t, b, orphan)
	requireNoBlob(t, b, gone)
	got, _ := readBlob(t, b, recorded.Blob)
	require.Equal(t, "recorded", string(got))
	require.Empty(t, drainQueue(t, b))
}
