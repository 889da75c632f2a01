package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

func queueCases() []metadataCase {
	return []metadataCase{
		{"EmptyQueue", testQueueEmpty},
		{"Grace", testQueueGrace},
		{"QueuedKeyKeepsItsPlace", testQueueKeepsPlace},
		{"Lease", testQueueLease},
		{"LeaseEnds", testQueueLeaseEnds},
		{"Limit", testQueueLimit},
		{"Finish", testQueueFinish},
		{"Idempotent", testQueueIdempotent},
	}
}

// queueKey is the n-th key the queue cases queue; the queue never reads blobs.
func queueKey(n int) jobartifacts.BlobKey {
	return jobartifacts.BlobKey(fmt.Sprintf("projects/1/jobs/100/archive-%016x", n))
}

func queueKeys(from, to int) []jobartifacts.BlobKey {
	var keys []jobartifacts.BlobKey
	for n := from; n < to; n++ {
		keys = append(keys, queueKey(n))
	}
	return keys
}

func claim(t *testing.T, s jobartifacts.MetadataStore, grace, lease time.Duration, limit int) []jobartifacts.BlobKey {
	t.Helper()
	keys, err := s.ClaimBlobDeletions(t.Context(), grace, lease, limit)
	require.NoError(t, err)
	require.LessOrEqual(t, len(keys), limit, "ClaimBlobDeletions returns up to limit keys")
	slices.Sort(keys)
	return keys
}

func testQueueEmpty(t *testing.T, s MetadataUnderTest) {
	require.Empty(t, claim(t, s, 0, time.Hour, 10))
	require.NoError(t, s.FinishBlobDeletions(t.Context(), queueKey(1)), "keys not in the queue are ignored")
	require.NoError(t, s.QueueBlobDeletions(t.Context()), "nothing to queue")
}

// ClaimBlobDeletions hands a key out only once it was queued at least grace
// ago.
func testQueueGrace(t *testing.T, s MetadataUnderTest) {
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKey(1)))
	require.Empty(t, claim(t, s, time.Hour, time.Hour, 10), "queued just now: within an hour's grace")
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKey(2)))
	require.Empty(t, claim(t, s, time.Hour, time.Hour, 10))
	require.Equal(t, queueKeys(1, 3), claim(t, s, 0, time.Hour, 10), "no grace")
}

// A key queued already keeps its place: queueing it again does not restart
// its grace.
func testQueueKeepsPlace(t *testing.T, s MetadataUnderTest) {
	const grace = 200 * time.Millisecond
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKey(1)))
	time.Sleep(grace + 100*time.Millisecond)
	start := time.Now()
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKey(1)))
	got := claim(t, s, grace, time.Hour, 10)
	if time.Since(start) < grace {
		require.Equal(t, queueKeys(1, 2), got, "queued again %v ago, first %v ago", time.Since(start), grace)
	}
}

// Claimed keys are not handed out again, on any view, until the lease ends.
func testQueueLease(t *testing.T, s MetadataUnderTest) {
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKeys(1, 4)...))
	require.Equal(t, queueKeys(1, 4), claim(t, s, 0, time.Hour, 10))
	require.Empty(t, claim(t, s, 0, time.Hour, 10), "claimed for an hour")
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKey(4)))
	require.Equal(t, queueKeys(4, 5), claim(t, s, 0, time.Hour, 10), "only the unclaimed key")
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKeys(1, 5)...))
	require.Empty(t, claim(t, s, 0, time.Hour, 10), "queueing a claimed key again does not free it")
}

// A key whose deletion was not finished is handed out again once its lease
// has ended.
func testQueueLeaseEnds(t *testing.T, s MetadataUnderTest) {
	const lease = 300 * time.Millisecond
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKeys(1, 3)...))
	start := time.Now()
	require.Equal(t, queueKeys(1, 3), claim(t, s, 0, lease, 10))
	got := claim(t, s, 0, time.Hour, 10)
	if time.Since(start) < lease {
		require.Empty(t, got, "within the lease")
	}
	time.Sleep(time.Until(start.Add(lease + 200*time.Millisecond)))
	require.Equal(t, queueKeys(1, 3), claim(t, s, 0, time.Hour, 10), "the lease has ended")
}

// ClaimBlobDeletions returns up to limit keys; successive claims hand out
// every key once.
func testQueueLimit(t *testing.T, s MetadataUnderTest) {
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKeys(0, 7)...))
	var all []jobartifacts.BlobKey
	for _, n := range []int{3, 3, 1, 0} {
		got := claim(t, s, 0, time.Hour, 3)
		require.Len(t, got, n)
		all = append(all, got...)
	}
	slices.Sort(all)
	require.Equal(t, queueKeys(0, 7), all)
}

// FinishBlobDeletions removes keys from the queue, claimed or not; keys
// not in the queue are ignored.
func testQueueFinish(t *testing.T, s MetadataUnderTest) {
	const lease = 200 * time.Millisecond
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKeys(1, 5)...))
	claimed := claim(t, s, 0, lease, 2)
	require.Len(t, claimed, 2)
	unclaimed := slices.DeleteFunc(queueKeys(1, 5), func(k jobartifacts.BlobKey) bool { return slices.Contains(claimed, k) })
	require.NoError(t, s.FinishBlobDeletions(t.Context(), claimed[0], unclaimed[0], queueKey(99)))
	time.Sleep(lease + 100*time.Millisecond)
	left := []jobartifacts.BlobKey{claimed[1], unclaimed[1]}
	slices.Sort(left)
	require.Equal(t, left, claim(t, s, 0, time.Hour, 10),
		"finished keys are gone, claimed or not; the unfinished claim's lease ended")
	require.NoError(t, s.FinishBlobDeletions(t.Context(), left...))
	require.NoError(t, s.FinishBlobDeletions(t.Context(), left[0]), "finishing twice")
	require.Empty(t, claim(t, s, 0, time.Hour, 10))
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKey(1)))
	require.Equal(t, queueKeys(1, 2), claim(t, s, 0, time.Hour, 10), "a finished key can be queued anew")
}

// QueueBlobDeletions is idempotent: a key queued twice, or twice in one
// call, is handed out once.
func testQueueIdempotent(t *testing.T, s MetadataUnderTest) {
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKey(1), queueKey(1), queueKey(2)))
	require.NoError(t, s.QueueBlobDeletions(t.Context(), queueKey(2), queueKey(1)))
	require.Equal(t, queueKeys(1, 3), claim(t, s, 0, time.Hour, 10))
	require.Empty(t, claim(t, s, 0, time.Hour, 10))
}
