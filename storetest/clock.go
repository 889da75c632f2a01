package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// The cases that move the store's clock by hand (Harness.NewWithClock),
// where the others can only sleep.

// clockStart is where the clock of every clock case starts.
var clockStart = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// testClock is a store clock that the cases move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// clockCase is a subtest on a fresh whole store whose views open returns,
// all on clock.
type clockCase struct {
	name string
	run  func(t *testing.T, open func() StoreUnderTest, clock *testClock)
}

func clockCases() []clockCase {
	return []clockCase{
		{"BlobDeletionQueue", testClockedBlobDeletionQueue},
		{"ViewsShareEverything", testViewsShareEverything},
	}
}

func runClockCases(t *testing.T, h Harness) {
	if h.NewWithClock == nil {
		t.Skip("the harness cannot set the store's clock (NewWithClock)")
	}
	for _, c := range clockCases() {
		t.Run(c.name, func(t *testing.T) {
			clock := &testClock{now: clockStart}
			c.run(t, h.NewWithClock(t, clock.Now), clock)
		})
	}
}

// drainQueueLater claims every key of the queue, whatever its grace and
// claim, by moving the clock far ahead; the keys are finished, so the
// queue is empty afterwards.
func drainQueueLater(t *testing.T, s jobartifacts.MetadataStore, clock *testClock) []jobartifacts.BlobKey {
	t.Helper()
	clock.Advance(1000 * time.Hour)
	keys, err := s.ClaimBlobDeletions(t.Context(), 0, time.Minute, 1000)
	require.NoError(t, err)
	require.NoError(t, s.FinishBlobDeletions(t.Context(), keys...))
	slices.Sort(keys)
	return keys
}

// The blob deletion queue on the store's clock: grace from the first
// queueing, the limit, leases and their end, finished keys.
func testClockedBlobDeletionQueue(t *testing.T, open func() StoreUnderTest, clock *testClock) {
	ctx := t.Context()
	s := open()
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

// Another view sees and changes the same data, blobs and queue included.
func testViewsShareEverything(t *testing.T, open func() StoreUnderTest, clock *testClock) {
	ctx := t.Context()
	s, v := open(), open()
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{
		ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "job-100",
		Status: jobartifacts.StatusSuccess,
	}))
	_, err := v.CreateArtifact(ctx, 1, 100, jobartifacts.Artifact{FileType: "archive", Blob: "a"})
	require.NoError(t, err)
	_, err = v.PutBlob(ctx, "a", strings.NewReader("bytes"))
	require.NoError(t, err)
	j, err := s.Job(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a"}, blobKeys(j.Artifacts...))
	_, err = s.OpenBlob(ctx, "a")
	require.NoError(t, err)
	_, err = s.ForgetArtifacts(ctx, 1, 100)
	require.NoError(t, err)
	require.Equal(t, []jobartifacts.BlobKey{"a"}, drainQueueLater(t, v, clock))
}
