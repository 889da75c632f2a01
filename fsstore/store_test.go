package fsstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

func openTestStore(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(dir, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// seedJob stores project 1 ("group/app"), pipeline 10 (main, success) and
// job 100 named "build".
func seedJob(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: jobartifacts.StatusSuccess}))
}

func readBlob(t testing.TB, s *Store, key jobartifacts.BlobKey) ([]byte, jobartifacts.BlobInfo) {
	t.Helper()
	b, err := s.OpenBlob(context.Background(), key)
	require.NoError(t, err)
	defer b.Close()
	data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Info().Size))
	require.NoError(t, err)
	return data, b.Info()
}

func sha256ETag(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// tempFiles lists the temporary files under dir.
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
			found = append(found, path)
		}
		return err
	})
	require.NoError(t, err)
	return found
}

func TestReopenKeepsMetadataAndBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestStore(t, dir)
	seedJob(t, s)
	expire := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	a := jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip", ExpireAt: &expire}
	stored, err := jobartifacts.StoreArtifact(ctx, s, 1, 100, a, strings.NewReader("zip bytes"))
	require.NoError(t, err)
	archive, ok := stored.Archive()
	require.True(t, ok)
	_, infoBefore := readBlob(t, s, archive.Blob)
	require.NoError(t, s.Close())

	s = openTestStore(t, dir)
	p, err := s.ProjectByPath(ctx, "group/app")
	require.NoError(t, err)
	require.Equal(t, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private"}, *p)
	j, err := s.LatestSuccessfulJob(ctx, 1, "main", "build")
	require.NoError(t, err)
	require.Equal(t, *stored, *j)
	require.Equal(t, "main", j.Pipeline.Ref, "the job carries its pipeline")
	require.True(t, j.ArtifactsExpireAt.Equal(expire))
	data, infoAfter := readBlob(t, s, archive.Blob)
	require.Equal(t, "zip bytes", string(data))
	require.Equal(t, infoBefore.ETag, infoAfter.ETag)
	require.Equal(t, sha256ETag(data), infoAfter.ETag)
	require.Equal(t, archive.SHA256, strings.Trim(infoAfter.ETag, `"`))

	// The layout is the documented one.
	for _, rel := range []string{
		"projects/1/project.json",
		"projects/1/pipelines/10.json",
		"projects/1/pipelines/10.jobs.json",
		"projects/1/refs/main.pipelines",
		"project-paths/group%2Fapp.id",
		"jobs/100.json",
		"blobs/" + string(archive.Blob),
		"blobinfo/" + string(archive.Blob) + ".json",
		"reserve",
	} {
		require.FileExists(t, filepath.Join(dir, filepath.FromSlash(rel)))
	}
}

func TestBlobKeyValidation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestStore(t, filepath.Join(dir, "store"))
	tests := []struct {
		key   jobartifacts.BlobKey
		valid bool
	}{
		{"projects/1/jobs/2/archive-0123456789abcdef", true},
		{"a", true},
		{"a.b/c_d-e", true},
		{"..a/b..", true},
		{"", false},
		{"..", false},
		{"../escape", false},
		{"a/../../escape", false},
		{"a/./b", false},
		{"/abs", false},
		{"trailing/", false},
		{"a//b", false},
		{"Upper", false},
		{"a b", false},
		{"a\\b", false},
		{"a~tmp", false},
		{"a\x00b", false},
		{jobartifacts.BlobKey(strings.Repeat("a", maxKeyLen+1)), false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.key), func(t *testing.T) {
			_, putErr := s.PutBlob(ctx, tt.key, strings.NewReader("x"))
			_, openErr := s.OpenBlob(ctx, tt.key)
			_, _, listErr := s.ListBlobs(ctx, string(tt.key), "", 10)
			deleteErr := s.DeleteBlob(ctx, tt.key)
			require.NoError(t, listErr, "any prefix may be listed")
			require.NoError(t, deleteErr, "no blob has an invalid key: deleting it succeeds")
			if tt.valid {
				require.NoError(t, putErr)
				require.NoError(t, openErr)
				return
			}
			require.ErrorIs(t, putErr, ErrInvalidKey)
			require.ErrorIs(t, openErr, ErrInvalidKey)
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing was written outside the store's directory")
}

func TestPutBlobFailureLeavesNothing(t *testing.T) {
	errBroken := errors.New("broken upload")
	tests := []struct {
		name    string
		reader  func(cancel context.CancelFunc) io.Reader
		wantErr error
	}{
		{
			name: "reader error",
			reader: func(context.CancelFunc) io.Reader {
				return io.MultiReader(strings.NewReader("new bytes, partly"), errReader{errBroken})
			},
			wantErr: errBroken,
		},
		{
			name: "context cancelled mid-stream",
			reader: func(cancel context.CancelFunc) io.Reader {
				return &cancellingReader{data: bytes.Repeat([]byte("n"), 1<<20), cancelAfter: 768 << 10, cancel: cancel}
			},
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir)
			const key = "projects/1/jobs/2/archive-aaaa"
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := s.PutBlob(ctx, key, tt.reader(cancel))
			require.ErrorIs(t, err, tt.wantErr)
			_, err = s.OpenBlob(context.Background(), key)
			require.ErrorIs(t, err, jobartifacts.ErrNotFound)
			require.Empty(t, tempFiles(t, dir))
			_, err = s.PutBlob(context.Background(), key, strings.NewReader("retried"))
			require.NoError(t, err, "the key is still free")
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// cancellingReader serves data and cancels its context once cancelAfter
// bytes were read.
type cancellingReader struct {
	data        []byte
	read        int
	cancelAfter int
	cancel      context.CancelFunc
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.read >= r.cancelAfter {
		r.cancel()
	}
	n := copy(p, r.data[r.read%len(r.data):])
	r.read += n
	return n, nil
}

func TestBlobWriteOnceAndDelete(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	const key = "projects/1/jobs/2/archive-bbbb"
	first, err := s.PutBlob(ctx, key, strings.NewReader("first"))
	require.NoError(t, err)
	require.Equal(t, sha256ETag([]byte("first")), first.ETag)
	require.EqualValues(t, 5, first.Size)

	old, err := s.OpenBlob(ctx, key)
	require.NoError(t, err)
	defer old.Close()

	_, err = s.PutBlob(ctx, key, strings.NewReader("second!"))
	require.ErrorIs(t, err, jobartifacts.ErrConflict)
	data, info := readBlob(t, s, key)
	require.Equal(t, "first", string(data))
	require.Equal(t, first, info)

	require.NoError(t, s.DeleteBlob(ctx, key))
	require.NoError(t, s.DeleteBlob(ctx, key), "deleting a missing blob succeeds")
	_, err = s.OpenBlob(ctx, key)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)

	// The blob opened before the delete reads its bytes.
	buf := make([]byte, 16)
	n, err := old.ReadAt(buf, 0)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, "first", string(buf[:n]))
	require.Equal(t, first.ETag, old.Info().ETag)

	// Directories emptied by the delete were tidied away.
	_, err = os.Stat(filepath.Join(s.Dir(), "blobs", "projects"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestOpenBlobContextGovernsReads(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	const key = "k"
	_, err := s.PutBlob(context.Background(), key, strings.NewReader("0123456789"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	b, err := s.OpenBlob(ctx, key)
	require.NoError(t, err)
	defer b.Close()

	buf := make([]byte, 4)
	n, err := b.ReadAt(buf, 8)
	require.ErrorIs(t, err, io.EOF, "a read spanning the end")
	require.Equal(t, "89", string(buf[:n]))
	n, err = b.ReadAt(buf, 10)
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF, "a read at Size")
	_, err = b.ReadAt(buf, -1)
	require.Error(t, err, "a negative offset")

	cancel()
	_, err = b.ReadAt(buf, 0)
	require.ErrorIs(t, err, context.Canceled)
}

func TestStaleBlobInfoIsNotTrusted(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	const key = "a/b"
	_, err := s.PutBlob(ctx, key, strings.NewReader("old"))
	require.NoError(t, err)
	staleInfo, err := os.ReadFile(s.blobInfoFile(key))
	require.NoError(t, err)
	require.NoError(t, s.DeleteBlob(ctx, key))
	_, err = s.PutBlob(ctx, key, strings.NewReader("new"))
	require.NoError(t, err)
	// As if the process died between the blob's link and its info's write,
	// with an older blob's info left behind.
	require.NoError(t, os.WriteFile(s.blobInfoFile(key), staleInfo, 0o600))

	_, info := readBlob(t, s, key)
	require.Equal(t, sha256ETag([]byte("new")), info.ETag)
}

func TestOpenRemovesTemporaryFilesOnlyWhenAlone(t *testing.T) {
	dir := t.TempDir()
	first := openTestStore(t, dir)
	seedJob(t, first)
	leftover := filepath.Join(dir, "jobs", tempPrefix+"123")
	require.NoError(t, os.WriteFile(leftover, []byte(`{"half":`), 0o600))

	// Another Store is open: the leftover may be its write in progress.
	second := openTestStore(t, dir)
	require.FileExists(t, leftover)
	swept, err := second.SweepExpiredArtifacts(context.Background(), time.Now(), 10)
	require.NoError(t, err, "reading the jobs ignores temporary files")
	require.Empty(t, swept)
	require.NoError(t, second.Close())
	require.NoError(t, first.Close())

	third := openTestStore(t, dir)
	require.NoFileExists(t, leftover)
	_, err = third.Job(context.Background(), 1, 100)
	require.NoError(t, err)
}

func TestClosedStore(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Close(), ErrClosed)
	_, err = s.Project(ctx, 1)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, s.PutProject(ctx, jobartifacts.Project{ID: 1}), ErrClosed)
	_, err = s.PutBlob(ctx, "k", strings.NewReader("x"))
	require.ErrorIs(t, err, ErrClosed)
}

func TestSeedingRules(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	seedJob(t, s)
	tests := []struct {
		name    string
		put     func() error
		wantErr error
	}{
		{"pipeline of a missing project", func() error {
			return s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 11, ProjectID: 2})
		}, jobartifacts.ErrNotFound},
		{"job of a missing project", func() error {
			return s.PutJob(ctx, jobartifacts.Job{ID: 101, ProjectID: 2, Pipeline: jobartifacts.Pipeline{ID: 10}})
		}, jobartifacts.ErrNotFound},
		{"job of a missing pipeline", func() error {
			return s.PutJob(ctx, jobartifacts.Job{ID: 101, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 11}})
		}, jobartifacts.ErrNotFound},
		{"second project with a taken path", func() error {
			return s.PutProject(ctx, jobartifacts.Project{ID: 2, PathWithNamespace: "group/app"})
		}, jobartifacts.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.put(), tt.wantErr)
		})
	}
}

func TestProjectPathChange(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/old"}))
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/new"}))
	_, err := s.ProjectByPath(ctx, "group/old")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	p, err := s.ProjectByPath(ctx, "group/new")
	require.NoError(t, err)
	require.EqualValues(t, 1, p.ID)
	// The old path is free again.
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 2, PathWithNamespace: "group/old"}))
	_, err = s.ProjectByPath(ctx, "Group/New")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound, "paths are case-sensitive")
}

func TestNameForIsOneToOneAndSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"main", "main"},
		{"feature/x", "feature%2Fx"},
		{".hidden", "%2Ehidden"},
		{"a.b", "a.b"},
		{"100%", "100%25"},
		{"a~b", "a%7Eb"},
		{"", ""},
		{"ü", "%C3%BC"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, nameFor(tt.in), tt.in)
	}
	long := nameFor(strings.Repeat("x", 300))
	require.True(t, strings.HasPrefix(long, "%sha256-"))
	require.NotEqual(t, long, nameFor(strings.Repeat("x", 301)))
}

func TestIndexes(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "g/app"}))
	pipeline := func(id int64, ref, status string) {
		require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: id, ProjectID: 1, Ref: ref, Status: status}))
	}
	job := func(id, pipelineID int64, name string) {
		require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: pipelineID}, Name: name, Status: jobartifacts.StatusSuccess}))
	}
	latest := func(ref, name string) int64 {
		j, err := s.LatestSuccessfulJob(ctx, 1, ref, name)
		if errors.Is(err, jobartifacts.ErrNotFound) {
			return 0
		}
		require.NoError(t, err)
		return j.ID
	}
	pipeline(1, "main", jobartifacts.StatusSuccess)
	pipeline(2, "main", jobartifacts.StatusSuccess)
	pipeline(3, "main", jobartifacts.StatusFailed)
	job(11, 1, "build")
	job(21, 2, "build")
	job(22, 2, "build")
	job(23, 2, "test")
	job(31, 3, "build")

	require.EqualValues(t, 22, latest("main", "build"), "newest successful pipeline, highest job id")
	require.EqualValues(t, 0, latest("other", "build"))

	job(22, 2, "lint") // renamed: the index forgets it under "build"
	require.EqualValues(t, 21, latest("main", "build"))

	pipeline(2, "main", jobartifacts.StatusFailed) // no longer successful
	require.EqualValues(t, 11, latest("main", "build"))
	pipeline(3, "main", jobartifacts.StatusSuccess)
	require.EqualValues(t, 31, latest("main", "build"))
	require.EqualValues(t, 0, latest("main", "test"), "no fallback to an older pipeline")

	pipeline(3, "release", jobartifacts.StatusSuccess) // moved to another ref
	require.EqualValues(t, 11, latest("main", "build"))
	require.EqualValues(t, 31, latest("release", "build"))

	ids, err := readIDLines(s.refFile(1, "main"), 0)
	require.NoError(t, err)
	require.Equal(t, []int64{1}, ids)
	index, err := s.readPipelineJobs(1, 2)
	require.NoError(t, err)
	require.Equal(t, pipelineJobs{"build": {21}, "test": {23}, "lint": {22}}, index)

	// Stale entries, as a crash between an index write and a record write
	// leaves them, are skipped.
	require.NoError(t, s.writeIDLines(s.refFile(1, "main"), []int64{99, 3, 1}))
	require.NoError(t, s.writeJSON(s.pipelineJobsFile(1, 1), pipelineJobs{"build": {98, 21, 11}}))
	require.EqualValues(t, 11, latest("main", "build"))
}

func TestRecentSuccessfulJobLooksAtHundredPipelines(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), WithoutFsync())
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "g/app"}))
	for id := int64(1); id <= 102; id++ {
		require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: id, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
		require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 1000 + id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: id}, Name: "build", Status: jobartifacts.StatusFailed}))
	}
	withArchive := func(jobID int64) {
		_, _, err := s.ReplaceArtifact(ctx, 1, jobID, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, Blob: "x"})
		require.NoError(t, err)
	}
	withArchive(1001) // pipeline 1: outside the 100 newest
	_, err := s.RecentSuccessfulJob(ctx, 1, "main", "build")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)

	withArchive(1003) // failed job: not usable
	_, err = s.RecentSuccessfulJob(ctx, 1, "main", "build")
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)

	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 1003, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 3}, Name: "build", Status: jobartifacts.StatusSuccess,
		Artifacts: []jobartifacts.Artifact{{FileType: jobartifacts.ArtifactTypeArchive, Blob: "x"}}}))
	j, err := s.RecentSuccessfulJob(ctx, 1, "main", "build")
	require.NoError(t, err)
	require.EqualValues(t, 1003, j.ID)
	require.EqualValues(t, 3, j.Pipeline.ID)
}

func TestConcurrentStoresDoNotLoseUpdates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stores := []*Store{openTestStore(t, dir, WithoutFsync()), openTestStore(t, dir, WithoutFsync())}
	seedJob(t, stores[0])

	const writers = 8
	const perWriter = 10
	errs := make(chan error, writers*perWriter*2)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			for i := range perWriter {
				fileType := fmt.Sprintf("type_%d_%d", w, i)
				blob := jobartifacts.BlobKey(fmt.Sprintf("b/%d/%d", w, i))
				if _, err := s.PutBlob(ctx, blob, strings.NewReader(fileType)); err != nil {
					errs <- err
				}
				if _, err := s.CreateArtifact(ctx, 1, 100, jobartifacts.Artifact{FileType: fileType, Blob: blob}); err != nil {
					errs <- err
				}
				if _, err := s.LatestSuccessfulJob(ctx, 1, "main", "build"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	j, err := stores[1].Job(ctx, 1, 100)
	require.NoError(t, err)
	require.Len(t, j.Artifacts, writers*perWriter, "every read-modify-write kept the others' artifacts")
	for _, a := range j.Artifacts {
		data, _ := readBlob(t, stores[0], a.Blob)
		require.Equal(t, a.FileType, string(data))
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	seedJob(t, s)
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 101, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "test"}))
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 102, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "lint"}))
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	for _, jobID := range []int64{100, 101, 102} {
		_, err := s.CreateArtifact(ctx, 1, jobID, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, Blob: jobartifacts.BlobKey(fmt.Sprint(jobID)), ExpireAt: &later})
		require.NoError(t, err)
	}
	_, err := s.KeepArtifacts(ctx, 1, 101, now)
	require.NoError(t, err)
	swept, err := s.SweepExpiredArtifacts(ctx, now, 10)
	require.NoError(t, err)
	require.Empty(t, swept)

	require.NoError(t, s.ExpireProjectArtifacts(ctx, 1, now))
	require.ErrorIs(t, s.ExpireProjectArtifacts(ctx, 2, now), jobartifacts.ErrNotFound)
	j, err := s.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.True(t, j.ArtifactsExpireAt.Equal(now))
	swept, err = s.SweepExpiredArtifacts(ctx, now, 1)
	require.NoError(t, err)
	require.Len(t, swept, 1)
	require.EqualValues(t, 100, swept[0].JobID)
	swept, err = s.SweepExpiredArtifacts(ctx, now, 10)
	require.NoError(t, err)
	require.Len(t, swept, 1, "the kept job does not expire")
	require.EqualValues(t, 102, swept[0].JobID)
}

func TestPutJobs(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir())
	seedJob(t, s)
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 11, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	job := func(id, pipelineID int64, name string) jobartifacts.Job {
		return jobartifacts.Job{ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: pipelineID}, Name: name}
	}

	err := s.PutJobs(ctx, job(200, 11, "build"), job(201, 12, "build"))
	require.ErrorIs(t, err, jobartifacts.ErrNotFound, "pipeline 12 does not exist")
	_, err = s.JobByID(ctx, 200)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound, "a refused batch stores nothing")

	// Job 100 moves from pipeline 10 to pipeline 11 along with new jobs.
	require.NoError(t, s.PutJobs(ctx, job(100, 11, "build"), job(200, 11, "build"), job(201, 11, "test")))
	latest, err := s.LatestSuccessfulJob(ctx, 1, "main", "build")
	require.NoError(t, err)
	require.EqualValues(t, 200, latest.ID)
	old, err := s.readPipelineJobs(1, 10)
	require.NoError(t, err)
	require.Empty(t, old, "the moved job left its old pipeline's index")
	index, err := s.readPipelineJobs(1, 11)
	require.NoError(t, err)
	require.Equal(t, pipelineJobs{"build": {200, 100}, "test": {201}}, index)
}
