package fsstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// mountTmpfs mounts a tmpfs of the given size (mount(8)'s "size=" option)
// on a new directory and returns it; it is unmounted when the test ends.
// Without the privilege to mount, the test is skipped, or fails under
// CI=true, where it must run.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		msg := "cannot mount a tmpfs to fill up (needs root or CAP_SYS_ADMIN): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fillUp writes path until the file system has not a byte left.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	for _, chunk := range []int{64 << 10, 4 << 10, 1} {
		buf := bytes.Repeat([]byte{'f'}, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				require.ErrorIs(t, err, syscall.ENOSPC)
				break
			}
		}
	}
}

func freeBytes(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st))
	return st.Bavail * uint64(st.Bsize)
}

// Issue 10, item 5: on a full file system, the operations that free space
// (forgetting, expiring, keeping and sweeping records, and the Sweeper's
// deletion of queued blobs) still work, while the others fail for lack of
// space. Each case runs on its own small, full tmpfs.
func TestFullFileSystem(t *testing.T) {
	now := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	expired := now.Add(-time.Hour)
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"ForgetArtifacts", func(t *testing.T, s *Store) {
			removed, err := s.ForgetArtifacts(t.Context(), 1, 101, jobartifacts.ArtifactTypeTrace)
			require.NoError(t, err)
			require.Len(t, removed, 1)
		}},
		{"KeepArtifacts", func(t *testing.T, s *Store) {
			j, err := s.KeepArtifacts(t.Context(), 1, 101, now)
			require.NoError(t, err)
			require.True(t, j.ArtifactsLocked)
		}},
		{"ExpireProjectArtifacts", func(t *testing.T, s *Store) {
			require.NoError(t, s.ExpireProjectArtifacts(t.Context(), 1, now))
			j, err := s.Job(t.Context(), 1, 101)
			require.NoError(t, err)
			require.True(t, j.ArtifactsExpireAt.Equal(now))
		}},
		{"SweepExpiredArtifacts", func(t *testing.T, s *Store) {
			swept, err := s.SweepExpiredArtifacts(t.Context(), now, 10)
			require.NoError(t, err)
			require.Len(t, swept, 1)
			require.EqualValues(t, 100, swept[0].JobID)
		}},
		{"QueueBlobDeletions", func(t *testing.T, s *Store) {
			require.NoError(t, s.QueueBlobDeletions(t.Context(), "projects/1/jobs/100/orphan-0"))
		}},
		{"DeleteQueuedBlobsWithoutReserve", func(t *testing.T, s *Store) {
			ctx := t.Context()
			_, err := s.ForgetArtifacts(ctx, 1, 101)
			require.NoError(t, err)
			// Full again, with the reserve spent: claiming, deleting and
			// finishing the queued blobs write no data.
			fillUp(t, filepath.Join(filepath.Dir(s.Dir()), "filler2"))
			require.NoFileExists(t, s.reserveFile())
			deleted, err := jobartifacts.NewSweeper(s, jobartifacts.WithBlobGrace(0)).DeleteQueuedBlobs(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, deleted, "job 101's archive and log")
		}},
		{"ForgetThenSweeperFreesSpace", func(t *testing.T, s *Store) {
			ctx := t.Context()
			before := freeBytes(t, s.Dir())
			_, err := s.ForgetArtifacts(ctx, 1, 101)
			require.NoError(t, err)
			sweeper := jobartifacts.NewSweeper(s, jobartifacts.WithBlobGrace(0),
				jobartifacts.WithSweeperClock(func() time.Time { return now }))
			removed, err := sweeper.Sweep(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, removed, "job 100's expired archive")
			page, _, err := s.ListBlobs(ctx, "", "", 10)
			require.NoError(t, err)
			require.Empty(t, page, "both archives and the log were deleted")
			require.Greater(t, freeBytes(t, s.Dir()), before+2*archiveSize, "their space is free")

			// With room again, the next delete makes the reserve again.
			require.NoError(t, os.Remove(filepath.Join(filepath.Dir(s.Dir()), "filler")))
			require.NoError(t, s.DeleteBlob(ctx, "projects/1/jobs/1/none-0"))
			fi, err := os.Stat(s.reserveFile())
			require.NoError(t, err)
			require.EqualValues(t, DefaultSpaceReserve, fi.Size())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			mnt := mountTmpfs(t, "2m")
			s := openTestStore(t, filepath.Join(mnt, "store"))
			fi, err := os.Stat(s.reserveFile())
			require.NoError(t, err, "Open made the reserve")
			require.EqualValues(t, DefaultSpaceReserve, fi.Size())
			seedJob(t, s)
			require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 101, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "test"}))
			archive := func(jobID int64, expireAt *time.Time) {
				a := jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, ExpireAt: expireAt}
				_, err := jobartifacts.StoreArtifact(ctx, s, 1, jobID, a, io.LimitReader(zeros{}, archiveSize))
				require.NoError(t, err)
			}
			archive(100, &expired)
			archive(101, nil)
			trace := jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeTrace, Blob: "projects/1/jobs/101/trace-0"}
			_, err = s.PutBlob(ctx, trace.Blob, bytes.NewReader([]byte("log")))
			require.NoError(t, err)
			_, err = s.CreateArtifact(ctx, 1, 101, trace)
			require.NoError(t, err)

			fillUp(t, filepath.Join(mnt, "filler"))
			err = s.PutProject(ctx, jobartifacts.Project{ID: 2, PathWithNamespace: "group/other"})
			require.True(t, errors.Is(err, syscall.ENOSPC), "the file system is full: %v", err)
			_, err = s.PutBlob(ctx, "projects/1/jobs/100/archive-1", bytes.NewReader([]byte("new")))
			require.True(t, errors.Is(err, syscall.ENOSPC), "uploads do not use the reserve: %v", err)
			_, err = s.OpenBlob(ctx, "projects/1/jobs/100/archive-1")
			require.ErrorIs(t, err, jobartifacts.ErrNotFound, "a failed put leaves nothing")
			require.Empty(t, tempFiles(t, s.Dir()))
			require.FileExists(t, s.reserveFile())

			tt.run(t, s)
		})
	}
}

const archiveSize = 256 << 10

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestPutBlobNoSpace: a blob larger than the space left fails with ENOSPC,
// from the direct writes of its full blocks or the cached write of its
// tail, and leaves no temporary file; with space again, it is stored.
func TestPutBlobNoSpace(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithoutDirectIO()}} {
		mnt := mountTmpfs(t, "8m")
		s, err := Open(filepath.Join(mnt, "store"), append(opts, WithSpaceReserve(0))...)
		require.NoError(t, err)
		data := randomBytes(12<<20+100, 13)
		_, err = s.PutBlob(t.Context(), "k", bytes.NewReader(data))
		require.ErrorIs(t, err, syscall.ENOSPC)
		var temps []string
		require.NoError(t, filepath.WalkDir(s.Dir(), func(path string, d os.DirEntry, err error) error {
			if err == nil && isTemp(d.Name()) {
				temps = append(temps, path)
			}
			return err
		}))
		require.Empty(t, temps)
		_, err = s.PutBlob(t.Context(), "k", bytes.NewReader(data[:3<<20+7]))
		require.NoError(t, err, "the space is back")
		require.NoError(t, s.Close())
	}
}
