package s3store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/s3store"
)

// s3Server is the S3 service the tests run against, from the environment
// that .ci/start-s3 sets.
type s3Server struct {
	endpoint, accessKey, secretKey, region string
}

// testServer returns the service to test against. Without one it skips
// the test, or fails it under CI, where every suite must run.
func testServer(tb testing.TB) s3Server {
	tb.Helper()
	srv := s3Server{
		endpoint:  os.Getenv("JOBARTIFACTS_TEST_S3_ENDPOINT"),
		accessKey: os.Getenv("JOBARTIFACTS_TEST_S3_ACCESS_KEY"),
		secretKey: os.Getenv("JOBARTIFACTS_TEST_S3_SECRET_KEY"),
		region:    os.Getenv("JOBARTIFACTS_TEST_S3_REGION"),
	}
	if srv.endpoint == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("S3 not available under CI: .ci/test-all must start it (.ci/start-s3)")
		}
		tb.Skip("S3 not available: run .ci/test-all to start it and run every suite")
	}
	if srv.region == "" {
		srv.region = "us-east-1"
	}
	return srv
}

// requestCounter is an http.RoundTripper that counts the requests it
// carries by method, and GETs with a Range header apart.
type requestCounter struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func newRequestCounter() *requestCounter {
	return &requestCounter{base: http.DefaultTransport.(*http.Transport).Clone(), n: map[string]int{}}
}

func (c *requestCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.Method]++
	if r.Method == http.MethodGet && r.Header.Get("Range") != "" {
		c.n["ranged GET"]++
	}
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

// count returns the number of requests of kind (a method, or "ranged GET").
func (c *requestCounter) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[kind]
}

// reset zeroes every count.
func (c *requestCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.n)
}

// newClient returns a path-style minio-go client of the test service whose
// requests go through rt.
func newClient(tb testing.TB, srv s3Server, rt http.RoundTripper) *minio.Client {
	tb.Helper()
	client, err := minio.New(srv.endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(srv.accessKey, srv.secretKey, ""),
		Region:       srv.region,
		BucketLookup: minio.BucketLookupPath,
		Transport:    rt,
	})
	require.NoError(tb, err)
	return client
}

// newBucket makes a bucket with a random name and removes it, with
// everything in it, when the test ends.
func newBucket(tb testing.TB, client *minio.Client) string {
	tb.Helper()
	bucket := "jobartifacts-test-" + strings.ToLower(rand.Text()[:16])
	require.NoError(tb, client.MakeBucket(tb.Context(), bucket, minio.MakeBucketOptions{}))
	tb.Cleanup(func() {
		// t.Context is done when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		emptyBucket(ctx, tb, client, bucket)
		require.NoError(tb, client.RemoveBucket(ctx, bucket))
	})
	return bucket
}

// emptyBucket removes every object and incomplete upload of bucket.
func emptyBucket(ctx context.Context, tb testing.TB, client *minio.Client, bucket string) {
	tb.Helper()
	for obj := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		require.NoError(tb, obj.Err)
		require.NoError(tb, client.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{}))
	}
	for up := range client.ListIncompleteUploads(ctx, bucket, "", true) {
		require.NoError(tb, up.Err)
		require.NoError(tb, minio.Core{Client: client}.AbortMultipartUpload(ctx, bucket, up.Key, up.UploadID))
	}
}

// fixture is a Store on a fresh bucket, with the client under it and a
// count of its requests.
type fixture struct {
	store   *s3store.Store
	client  *minio.Client
	bucket  string
	counter *requestCounter
	server  s3Server
}

// newFixture returns a Store on a fresh bucket of the test service.
func newFixture(tb testing.TB, opts ...s3store.Option) fixture {
	tb.Helper()
	srv := testServer(tb)
	counter := newRequestCounter()
	client := newClient(tb, srv, counter)
	bucket := newBucket(tb, client)
	return fixture{store: s3store.New(client, bucket, opts...), client: client, bucket: bucket, counter: counter, server: srv}
}

// second returns another Store on the same bucket, through a client of its
// own: what another replica sees.
func (f fixture) second(tb testing.TB, opts ...s3store.Option) *s3store.Store {
	tb.Helper()
	return s3store.New(newClient(tb, f.server, http.DefaultTransport.(*http.Transport).Clone()), f.bucket, opts...)
}

// pseudoRandom returns n deterministic bytes that do not repeat, so that a
// misplaced chunk cannot read back as correct.
func pseudoRandom(seed byte, n int) []byte {
	var s [32]byte
	s[0] = seed
	b := make([]byte, n)
	_, _ = mrand.NewChaCha8(s).Read(b) // never fails
	return b
}

// blobKey is a fresh key shaped as jobartifacts.NewBlobKey makes them.
func blobKey(name string) jobartifacts.BlobKey {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return jobartifacts.BlobKey("projects/1/jobs/2/" + name + "-" + hex.EncodeToString(b[:]))
}

// onlyReader hides everything but Read, as a request body does.
type onlyReader struct {
	r interface{ Read([]byte) (int, error) }
}

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
