package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// Cases for jobartifacts.StoreArtifact and DeleteArtifacts, which the
// handler builds on the store's methods.
func helperCases() []storeCase {
	return []storeCase{
		{"StoreArtifact", testStoreArtifact},
		{"StoreArtifactReplaces", testStoreArtifactReplaces},
		{"StoreArtifactFailedUploadKeepsOld", testStoreArtifactFailedUpload},
		{"StoreArtifactMissingJob", testStoreArtifactMissingJob},
		{"DeleteArtifacts", testDeleteArtifacts},
		{"DeleteArtifactsMissingJob", testDeleteArtifactsMissingJob},
	}
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// storeArchive uploads data as job 100's archive with StoreArtifact.
func storeArchive(t *testing.T, s StoreUnderTest, data []byte, expireAt *time.Time) *jobartifacts.Job {
	t.Helper()
	j, err := jobartifacts.StoreArtifact(t.Context(), s, 1, 100,
		jobartifacts.Artifact{FileFormat: "zip", Filename: "artifacts.zip", ExpireAt: expireAt},
		onlyReader{bytes.NewReader(data)})
	require.NoError(t, err)
	return j
}

// StoreArtifact stores the bytes in a blob and records them, with Size,
// SHA256 and Blob filled in and FileType "archive" by default.
func testStoreArtifact(t *testing.T, s StoreUnderTest) {
	twoProjects(t, s)
	data := pseudoRandom(20, 30_000)
	j := storeArchive(t, s, data, at(time.Hour))

	a, ok := j.Archive()
	require.True(t, ok)
	require.Equal(t, "zip", a.FileFormat)
	require.Equal(t, "artifacts.zip", a.Filename)
	require.Equal(t, int64(len(data)), a.Size)
	require.Equal(t, hexSHA256(data), a.SHA256)
	require.NotEmpty(t, a.Blob)
	requireSameTime(t, at(time.Hour), a.ExpireAt, "artifact ExpireAt")
	requireSameTime(t, at(time.Hour), j.ArtifactsExpireAt, "job ArtifactsExpireAt")

	again, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, j, again)
	got, _ := readBlob(t, s, a.Blob)
	require.Equal(t, data, got)
}

// StoreArtifact replaces the artifact of the same type and deletes the old
// blob.
func testStoreArtifactReplaces(t *testing.T, s StoreUnderTest) {
	twoProjects(t, s)
	first := storeArchive(t, s, []byte("first archive"), nil)
	oldArchive, _ := first.Archive()

	data := pseudoRandom(21, 5000)
	j := storeArchive(t, s, data, nil)
	require.Len(t, j.Artifacts, 1)
	a, _ := j.Archive()
	require.NotEqual(t, oldArchive.Blob, a.Blob, "a fresh key per upload")
	require.Equal(t, hexSHA256(data), a.SHA256)
	got, _ := readBlob(t, s, a.Blob)
	require.Equal(t, data, got)
	_, err := s.OpenBlob(t.Context(), oldArchive.Blob)
	requireNotFound(t, err, "the replaced blob is deleted")
}

// StoreArtifact with a broken upload records nothing: the old artifact and
// its bytes stay.
func testStoreArtifactFailedUpload(t *testing.T, s StoreUnderTest) {
	twoProjects(t, s)
	before := storeArchive(t, s, []byte("good archive"), nil)

	_, err := jobartifacts.StoreArtifact(t.Context(), s, 1, 100,
		jobartifacts.Artifact{FileFormat: "zip", Filename: "artifacts.zip"}, failingReader(pseudoRandom(22, 10_000)))
	require.Error(t, err)

	after, err := s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, before, after)
	a, _ := after.Archive()
	got, _ := readBlob(t, s, a.Blob)
	require.Equal(t, "good archive", string(got))
}

func testStoreArtifactMissingJob(t *testing.T, s StoreUnderTest) {
	twoProjects(t, s)
	for _, ids := range []struct{ project, job int64 }{{1, 999}, {1, 200}, {3, 100}} {
		_, err := jobartifacts.StoreArtifact(t.Context(), s, ids.project, ids.job,
			jobartifacts.Artifact{FileFormat: "zip", Filename: "artifacts.zip"}, onlyReader{bytes.NewReader([]byte("zip"))})
		requireNotFound(t, err, "project %d job %d", ids.project, ids.job)
	}
	j, err := s.Job(t.Context(), 2, 200)
	require.NoError(t, err)
	require.Empty(t, j.Artifacts)
}

// DeleteArtifacts forgets the artifacts of the given types (all when none
// are given) and deletes their blobs; nothing left is not an error.
func testDeleteArtifacts(t *testing.T, s StoreUnderTest) {
	twoProjects(t, s)
	storeArchive(t, s, []byte("archive bytes"), nil)
	j, err := jobartifacts.StoreArtifact(t.Context(), s, 1, 100,
		jobartifacts.Artifact{FileType: "metadata", FileFormat: "gzip", Filename: "metadata.gz"},
		onlyReader{bytes.NewReader([]byte("metadata bytes"))})
	require.NoError(t, err)
	archive, _ := j.Archive()
	var metadata jobartifacts.Artifact
	for _, a := range j.Artifacts {
		if a.FileType == "metadata" {
			metadata = a
		}
	}
	require.NotEmpty(t, metadata.Blob)

	require.NoError(t, jobartifacts.DeleteArtifacts(t.Context(), s, 1, 100, "metadata"))
	j, err = s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.Artifact{archive}, j.Artifacts)
	_, err = s.OpenBlob(t.Context(), metadata.Blob)
	requireNotFound(t, err)
	got, _ := readBlob(t, s, archive.Blob)
	require.Equal(t, "archive bytes", string(got))

	require.NoError(t, jobartifacts.DeleteArtifacts(t.Context(), s, 1, 100))
	j, err = s.Job(t.Context(), 1, 100)
	require.NoError(t, err)
	require.Empty(t, j.Artifacts)
	_, err = s.OpenBlob(t.Context(), archive.Blob)
	requireNotFound(t, err)

	require.NoError(t, jobartifacts.DeleteArtifacts(t.Context(), s, 1, 100), "nothing left to delete")
}

func testDeleteArtifactsMissingJob(t *testing.T, s StoreUnderTest) {
	twoProjects(t, s)
	requireNotFound(t, jobartifacts.DeleteArtifacts(t.Context(), s, 1, 999))
	requireNotFound(t, jobartifacts.DeleteArtifacts(t.Context(), s, 1, 200), "job 200 belongs to project 2")
}
