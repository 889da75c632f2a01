package fsstore

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// These tests check fsstore against the MetadataStore and BlobStore doc
// comments with the store's own clock (WithClock), where storetest can only
// sleep, and with races on several Stores of one directory.

var now0 = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// fakeClock is a store clock that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newStore opens a store on a fresh directory with a fake clock, and seeds
// project 1 and its pipeline 10.
func newStore(t *testing.T) (*Store, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: now0}
	s := openTestStore(t, t.TempDir(), WithClock(clock.Now), WithoutFsync())
	ctx := t.Context()
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	return s, clock
}

// view opens another Store on s's directory with s's clock, as another
// process would.
func view(t *testing.T, s *Store) *Store {
	t.Helper()
	return openTestStore(t, s.Dir(), WithClock(s.now), WithoutFsync())
}

func putJob(t *testing.T, s *Store, id int64, artifacts ...jobartifacts.Artifact) {
	t.Helper()
	require.NoError(t, s.PutJob(t.Context(), jobartifacts.Job{
		ID: id, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: fmt.Sprintf("job-%d", id),
		Status: jobartifacts.StatusSuccess, Artifacts: artifacts,
	}))
}

func artifact(fileType string, blob jobartifacts.BlobKey, expireAt *time.Time) jobartifacts.Artifact {
	return jobartifacts.Artifact{FileType: fileType, Blob: blob, ExpireAt: expireAt}
}

func blobsOf(j *jobartifacts.Job) []jobartifacts.BlobKey {
	var keys []jobartifacts.BlobKey
	for _, a := range j.Artifacts {
		keys = append(keys, a.Blob)
	}
	return keys
}

// queued claims every key of the queue, whatever its grace and claim, by
// moving the clock far ahead; the keys are finished, so the queue is empty
// afterwards.
func drainQueue(t *testing.T, s *Store, clock *fakeClock) []jobartifacts.BlobKey {
	t.Helper()
	clock.Advance(1000 * time.Hour)
	keys, err := s.ClaimBlobDeletions(t.Context(), 0, time.Minute, 1000)
	require.NoError(t, err)
	require.NoError(t, s.FinishBlobDeletions(t.Context(), keys...))
	slices.Sort(keys)
	return keys
}

func TestBlobDeletionQueue(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	const grace, lease = time.Hour, 10 * time.Minute

	require.NoError(t, s.QueueBlobDeletions(ctx, "a", "b"))
	clock.Advance(30 * time.Minute)
	require.NoError(t, s.QueueBlobDeletions(ctx, "c", "a")) // "a" keeps its place
	keys, err := s.ClaimBlobDeletions(ctx, grace, lease, 10)
	require.NoError(t, err)
	require.Empty(t, keys, "nothing was queued an hour ago")

	clock.Advance(30 * time.Minute)
	keys, err = s.ClaimBlobDeletions(ctx, grace, lease, 1)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a"}, keys, "re-queuing a did not restart its grace; limit holds")
	keys, err = s.ClaimBlobDeletions(ctx, grace, lease, 10)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"b"}, keys, "a is claimed; c is in its grace")

	clock.Advance(lease)
	keys, err = s.ClaimBlobDeletions(ctx, grace, lease, 10)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a", "b"}, keys, "claims ended: retried")

	require.NoError(t, s.FinishBlobDeletions(ctx, "a", "never-queued"))
	clock.Advance(2 * lease)
	keys, err = s.ClaimBlobDeletions(ctx, grace, lease, 10)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"b", "c"}, keys, "a is finished; c's grace is over")

	_, err = s.ClaimBlobDeletions(ctx, grace, lease, 0)
	require.Error(t, err, "limit must be positive")
}

// Another Store on the directory sees and changes the same data, blobs and
// queue included.
func TestViewSharesEverything(t *testing.T) {
	ctx := t.Context()
	s, clock := newStore(t)
	v := view(t, s)
	putJob(t, s, 100)
	_, err := v.CreateArtifact(ctx, 1, 100, artifact("archive", "a", nil))
	require.NoError(t, err)
	_, err = v.PutBlob(ctx, "a", strings.NewReader("bytes"))
	require.NoError(t, err)
	j, err := s.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a"}, blobsOf(j))
	_, err = s.OpenBlob(ctx, "a")
	require.NoError(t, err)
	_, err = s.ForgetArtifacts(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a"}, drainQueue(t, v, clock))
}
