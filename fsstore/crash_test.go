package fsstore

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// The crash tests run TestHelperProcess in a child process (the test binary
// itself), kill it with SIGKILL in the middle of its writes, and check what
// a new Store finds in the directory.
const (
	helperModeEnv = "FSSTORE_CRASH_HELPER"
	helperDirEnv  = "FSSTORE_CRASH_DIR"
	helperKeyEnv  = "FSSTORE_CRASH_KEY"
	// helperRoundEnv is the first round of the record loop.
	helperRoundEnv = "FSSTORE_CRASH_ROUND"
)

// TestHelperProcess is the child of the crash tests and of the
// multi-process tests (runRaceHelper); on its own it does nothing.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperModeEnv)
	if mode == "" {
		t.Skip("runs only as the child process of the crash tests")
	}
	ctx := context.Background()
	s, err := Open(os.Getenv(helperDirEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch mode {
	case "put-blob":
		// Never returns: the reader never ends, and the parent kills us.
		_, err = s.PutBlob(ctx, jobartifacts.BlobKey(os.Getenv(helperKeyEnv)), slowEndlessReader{})
	case "record-loop":
		first, _ := strconv.Atoi(os.Getenv(helperRoundEnv))
		for i := first; err == nil; i++ {
			err = writeRound(ctx, s, i)
			if err == nil {
				fmt.Println(i) // round i is on disk
			}
		}
	default:
		var known bool
		if known, err = runRaceHelper(ctx, s, mode); known && err == nil {
			os.Exit(0)
		}
		if !known {
			err = fmt.Errorf("unknown mode %q", mode)
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}

// writeRound rewrites the job's archive record and its pipeline, so that
// each round changes a job record, a pipeline record and the ref index.
func writeRound(ctx context.Context, s *Store, round int) error {
	status := jobartifacts.StatusSuccess
	if round%2 == 0 {
		status = jobartifacts.StatusFailed
	}
	err := s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: status, SHA: strconv.Itoa(round)})
	if err != nil {
		return err
	}
	_, _, err = s.ReplaceArtifact(ctx, 1, 100, jobartifacts.Artifact{
		FileType: jobartifacts.ArtifactTypeArchive, Filename: "artifacts.zip", Size: int64(round), Blob: "old",
	})
	return err
}

// slowEndlessReader yields 64 KiB of bytes every millisecond, forever.
type slowEndlessReader struct{}

func (slowEndlessReader) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	n := min(len(p), 64<<10)
	for i := range p[:n] {
		p[i] = byte('a' + i%26)
	}
	return n, nil
}

// startHelper starts TestHelperProcess in the given mode on dir.
func startHelper(t *testing.T, mode, dir string, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append(env, helperModeEnv+"="+mode, helperDirEnv+"="+dir)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(stdout)
}

// killHelper kills the child with SIGKILL and reaps it.
func killHelper(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Kill())
	err := cmd.Wait()
	require.Error(t, err, "the child was killed, it did not exit")
}

// waitForGrowingTempFile waits until a temporary file under dir holds at
// least 1 MiB and keeps growing: the child is mid-upload.
func waitForGrowingTempFile(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last int64
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		var size int64
		for _, path := range tempFiles(t, dir) {
			if fi, err := os.Stat(path); err == nil {
				size = max(size, fi.Size())
			}
		}
		if size >= 1<<20 && last >= 1<<20 && size > last {
			return
		}
		last = size
	}
	t.Fatal("the child never started writing its upload")
}

// seedCrashStore seeds project 1, pipeline 10 and job 100 with an archive
// stored at key "old", and returns the archive's bytes and ETag.
func seedCrashStore(t *testing.T, dir string) ([]byte, string) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(dir)
	require.NoError(t, err)
	defer s.Close()
	seedJob(t, s)
	data := []byte("old archive bytes")
	info, err := s.PutBlob(ctx, "old", strings.NewReader(string(data)))
	require.NoError(t, err)
	_, _, err = s.ReplaceArtifact(ctx, 1, 100, jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, Size: info.Size, Blob: "old"})
	require.NoError(t, err)
	return data, info.ETag
}

// checkAfterCrash reopens the store and checks what every reader relies on:
// no temporary file is left, every JSON file parses, the job and its
// pipeline are readable, and the archive the job records is intact.
func checkAfterCrash(t *testing.T, dir string, oldData []byte, oldETag string) *Store {
	t.Helper()
	ctx := context.Background()
	s := openTestStore(t, dir)
	require.Empty(t, tempFiles(t, dir), "Open removed the crashed writer's temporary files")
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.True(t, json.Valid(data), "%s holds whole JSON", path)
		return nil
	})
	require.NoError(t, err)

	j, err := s.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.EqualValues(t, 10, j.Pipeline.ID)
	require.Equal(t, "main", j.Pipeline.Ref)
	archive, ok := j.Archive()
	require.True(t, ok)
	data, info := readBlob(t, s, archive.Blob)
	require.Equal(t, oldData, data)
	require.Equal(t, oldETag, info.ETag)
	return s
}

func TestCrashDuringPutBlob(t *testing.T) {
	const key = "projects/1/jobs/100/archive-0123456789abcdef"
	dir := t.TempDir()
	oldData, oldETag := seedCrashStore(t, dir)

	cmd, _ := startHelper(t, "put-blob", dir, helperKeyEnv+"="+key)
	waitForGrowingTempFile(t, filepath.Join(dir, "blobs"))
	killHelper(t, cmd)
	require.NotEmpty(t, tempFiles(t, dir), "the upload was cut short")

	s := checkAfterCrash(t, dir, oldData, oldETag)
	_, err := s.OpenBlob(context.Background(), key)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound, "no partial blob is visible")
	_, err = s.PutBlob(context.Background(), key, strings.NewReader("retried"))
	require.NoError(t, err, "the key is still free")
}

func TestCrashDuringRecordWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldData, oldETag := seedCrashStore(t, dir)

	// Where the kill lands is up to the scheduler; a few kills make it
	// likely that one hits a write between its temporary file and rename.
	lastDone := 0
	for kill := range 10 {
		cmd, rounds := startHelper(t, "record-loop", dir, helperRoundEnv+"="+strconv.Itoa(lastDone+1))
		target := lastDone + 20
		for lastDone < target && rounds.Scan() {
			n, err := strconv.Atoi(rounds.Text())
			require.NoError(t, err)
			lastDone = n
		}
		require.Equal(t, target, lastDone, "the child kept writing")
		killHelper(t, cmd)
		leftovers := len(tempFiles(t, dir))
		t.Logf("kill %d: after round %d, %d temporary files", kill, lastDone, leftovers)

		s := checkAfterCrash(t, dir, oldData, oldETag)
		j, err := s.Job(ctx, 1, 100)
		require.NoError(t, err)
		archive, _ := j.Archive()
		// The child may have finished a round it had not reported yet.
		require.GreaterOrEqual(t, archive.Size, int64(lastDone))
		pipelineRound, err := strconv.Atoi(j.Pipeline.SHA)
		require.NoError(t, err)
		require.GreaterOrEqual(t, pipelineRound, lastDone)
		lastDone = max(pipelineRound, int(archive.Size))

		// The ref index agrees with the pipeline's status as stored.
		latest, err := s.LatestSuccessfulJob(ctx, 1, "main", "build")
		if j.Pipeline.Status == jobartifacts.StatusSuccess {
			require.NoError(t, err)
			require.EqualValues(t, 100, latest.ID)
		} else {
			require.ErrorIs(t, err, jobartifacts.ErrNotFound)
		}
		require.NoError(t, s.Close())
		if leftovers > 0 {
			return // a kill landed mid-write, and the store recovered
		}
	}
	t.Log("no kill landed mid-write; the store was checked after each")
}
