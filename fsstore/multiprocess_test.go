package fsstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// The multi-process tests run TestHelperProcess in several child processes
// (the test binary itself) on one directory. Each child opens its own Store,
// waits for "go" on stdin so that all start together, and reports what it
// did on stdout, one line per outcome. The parent checks the contract's
// race rules on the union of the reports and on the directory.

const (
	helperWorkerEnv = "FSSTORE_HELPER_WORKER"
	helperCountEnv  = "FSSTORE_HELPER_COUNT"
)

// raceJobs is how many jobs the racing children contend for; raceJob(i) is
// the i-th.
const raceJobs = 300

func raceJob(i int) int64 { return 1000 + int64(i) }

// sweepNow is the "now" of the sweep races: every record seeded to expire
// before it is due.
var sweepNow = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// runRaceHelper is the child's side of a multi-process test. It reports
// whether mode is one of its modes.
func runRaceHelper(ctx context.Context, s *Store, mode string) (bool, error) {
	var run func() error
	worker := os.Getenv(helperWorkerEnv)
	switch mode {
	case "create-race":
		// Every job gets one create from every child, with the child's key.
		run = func() error {
			for i := range raceJobs {
				key := jobartifacts.BlobKey(fmt.Sprintf("projects/1/jobs/%d/archive-%s", raceJob(i), worker))
				j, err := s.CreateArtifact(ctx, 1, raceJob(i), jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, Blob: key})
				switch {
				case err == nil:
					fmt.Printf("won %d %s\n", raceJob(i), key)
				case errors.Is(err, jobartifacts.ErrConflict) && j != nil:
					held, _ := j.Archive()
					fmt.Printf("lost %d %s\n", raceJob(i), held.Blob)
				default:
					return err
				}
			}
			return nil
		}
	case "sweep-race":
		run = func() error {
			for {
				swept, err := s.SweepExpiredArtifacts(ctx, sweepNow, 7)
				if err != nil {
					return err
				}
				for _, a := range swept {
					fmt.Printf("swept %d %s %s\n", a.JobID, a.Artifact.FileType, a.Artifact.Blob)
				}
				if len(swept) < 7 {
					return nil
				}
			}
		}
	case "claim-race":
		run = func() error {
			for {
				keys, err := s.ClaimBlobDeletions(ctx, 0, time.Hour, 5)
				if err != nil {
					return err
				}
				for _, k := range keys {
					fmt.Printf("claimed %s\n", k)
				}
				if len(keys) < 5 {
					return nil
				}
			}
		}
	case "delete-blob":
		// Deletes the blob named by the environment, from another
		// process than the one holding its file idle.
		run = func() error {
			key := jobartifacts.BlobKey(os.Getenv(helperKeyEnv))
			if err := s.DeleteBlob(ctx, key); err != nil {
				return err
			}
			fmt.Printf("deleted %s\n", key)
			return nil
		}
	case "delete-blob-dies":
		// Removes the blob named by the environment as DeleteBlob does
		// and dies right after the unlink, before the generation after
		// it is written.
		run = func() error {
			key := jobartifacts.BlobKey(os.Getenv(helperKeyEnv))
			return s.removals.remove(func() error {
				if err := s.removeFile(s.blobFile(key)); err != nil {
					return err
				}
				fmt.Printf("unlinked %s\ndone\n", key)
				os.Exit(0)
				return nil
			})
		}
	default:
		return false, nil
	}
	if line, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil || line != "go\n" {
		return true, fmt.Errorf("waiting for go: %q, %v", line, err)
	}
	if err := run(); err != nil {
		return true, err
	}
	fmt.Println("done")
	return true, nil
}

// runChildren runs n children in mode on dir, starts them together and
// returns each one's report lines, "done" left out. It fails the test if a
// child fails or does not finish its report.
func runChildren(t *testing.T, mode, dir string, n int, env ...string) [][]string {
	t.Helper()
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   io.Reader
	}
	children := make([]child, n)
	for w := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), append(env, helperModeEnv+"="+mode, helperDirEnv+"="+dir, helperWorkerEnv+"="+strconv.Itoa(w))...)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		children[w] = child{cmd, stdin, out}
	}
	reports := make([][]string, n)
	var wg sync.WaitGroup
	for w, c := range children {
		wg.Go(func() {
			lines := bufio.NewScanner(c.out)
			for lines.Scan() {
				reports[w] = append(reports[w], lines.Text())
			}
		})
	}
	for _, c := range children {
		_, err := io.WriteString(c.stdin, "go\n")
		require.NoError(t, err)
		require.NoError(t, c.stdin.Close())
	}
	wg.Wait()
	for w, c := range children {
		require.NoError(t, c.cmd.Wait(), "child %d", w)
		require.NotEmpty(t, reports[w], "child %d reported nothing", w)
		require.Equal(t, "done", reports[w][len(reports[w])-1], "child %d finished its report", w)
		reports[w] = reports[w][:len(reports[w])-1]
	}
	return reports
}

// Racing CreateArtifact from several processes: each job's create is won
// by exactly one, and every loser is told whose record is there.
func TestCreateArtifactRaceAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestStore(t, dir, WithoutFsync())
	seedJob(t, s)
	jobs := make([]jobartifacts.Job, raceJobs)
	for i := range jobs {
		jobs[i] = jobartifacts.Job{ID: raceJob(i), ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "race"}
	}
	require.NoError(t, s.PutJobs(ctx, jobs...))

	const children = 3
	reports := runChildren(t, "create-race", dir, children)
	winners := map[int64]string{}
	lost := map[int64][]string{}
	for w, report := range reports {
		require.Len(t, report, raceJobs, "child %d reported every job", w)
		for _, line := range report {
			var outcome, key string
			var jobID int64
			_, err := fmt.Sscan(line, &outcome, &jobID, &key)
			require.NoError(t, err, line)
			if outcome == "won" {
				_, dup := winners[jobID]
				require.False(t, dup, "job %d: a second create won", jobID)
				winners[jobID] = key
			} else {
				lost[jobID] = append(lost[jobID], key)
			}
		}
	}
	require.Len(t, winners, raceJobs, "every job's create was won once")
	contested := 0
	for i := range raceJobs {
		jobID := raceJob(i)
		for _, held := range lost[jobID] {
			require.Equal(t, winners[jobID], held, "job %d: a loser sees the winner's record", jobID)
		}
		j, err := s.Job(ctx, 1, jobID)
		require.NoError(t, err)
		require.Len(t, j.Artifacts, 1)
		require.Equal(t, winners[jobID], string(j.Artifacts[0].Blob))
		if !strings.HasSuffix(winners[jobID], "-0") {
			contested++
		}
	}
	t.Logf("%d of %d jobs were won by a child other than the first", contested, raceJobs)
}

// seedDue seeds raceJobs jobs, each with two records due at sweepNow, a
// due log, and every tenth one kept, and returns the due records' keys, in
// order, that a sweep must remove.
func seedDue(t *testing.T, s *Store) []string {
	t.Helper()
	ctx := context.Background()
	seedJob(t, s)
	expired := sweepNow.Add(-time.Hour)
	var due []string
	jobs := make([]jobartifacts.Job, raceJobs)
	for i := range jobs {
		id := raceJob(i)
		key := func(fileType string) jobartifacts.BlobKey {
			return jobartifacts.BlobKey(fmt.Sprintf("projects/1/jobs/%d/%s-0", id, fileType))
		}
		jobs[i] = jobartifacts.Job{ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "race",
			ArtifactsLocked: i%10 == 0,
			Artifacts: []jobartifacts.Artifact{
				{FileType: jobartifacts.ArtifactTypeArchive, Blob: key("archive"), ExpireAt: &expired},
				{FileType: "junit", Blob: key("junit"), ExpireAt: &expired},
				{FileType: jobartifacts.ArtifactTypeTrace, Blob: key("trace"), ExpireAt: &expired},
			}}
		if i%10 != 0 {
			due = append(due, string(key("archive")), string(key("junit")))
		}
	}
	require.NoError(t, s.PutJobs(ctx, jobs...))
	slices.Sort(due)
	return due
}

// Sweepers in several processes remove every due record exactly once, and
// never a log or a kept job's record; the removed records' blobs are
// queued, and claimers in several processes then claim each exactly once.
func TestSweepAndClaimRaceAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTestStore(t, dir, WithoutFsync())
	due := seedDue(t, s)

	var swept []string
	for _, report := range runChildren(t, "sweep-race", dir, 3) {
		for _, line := range report {
			fields := strings.Fields(line)
			require.Len(t, fields, 4, line)
			swept = append(swept, fields[3])
		}
	}
	slices.Sort(swept)
	require.Equal(t, due, swept, "every due record was removed by exactly one sweeper")
	for i := range raceJobs {
		j, err := s.Job(ctx, 1, raceJob(i))
		require.NoError(t, err)
		want := 1 // the log
		if i%10 == 0 {
			want = 3 // kept
		}
		require.Len(t, j.Artifacts, want, "job %d", raceJob(i))
	}

	var claimed []string
	for _, report := range runChildren(t, "claim-race", dir, 3) {
		for _, line := range report {
			key, ok := strings.CutPrefix(line, "claimed ")
			require.True(t, ok, line)
			claimed = append(claimed, key)
		}
	}
	slices.Sort(claimed)
	require.Equal(t, due, claimed, "every queued key was claimed by exactly one claimer")
}
