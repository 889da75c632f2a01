package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/s3store"
)

// Open reaches a bucket by Config, path style, and refuses a missing one.
func TestOpen(t *testing.T) {
	srv := testServer(t)
	bucket := newBucket(t, newClient(t, srv, nil))
	cfg := s3store.Config{
		Endpoint:   srv.endpoint,
		Region:     srv.region,
		AccessKey:  srv.accessKey,
		SecretKey:  srv.secretKey,
		Bucket:     bucket,
		Addressing: s3store.PathStyle,
	}
	s, err := s3store.Open(t.Context(), cfg)
	require.NoError(t, err)
	key := blobKey("archive")
	_, err = s.PutBlob(t.Context(), key, bytes.NewReader([]byte("bytes")))
	require.NoError(t, err)
	_, err = s.OpenBlob(t.Context(), key)
	require.NoError(t, err)

	missing := cfg
	missing.Bucket = "jobartifacts-no-such-bucket"
	_, err = s3store.Open(t.Context(), missing)
	require.ErrorContains(t, err, "does not exist")

	wrong := cfg
	wrong.SecretKey = "wrong"
	_, err = s3store.Open(t.Context(), wrong)
	require.Error(t, err, "wrong credentials")
}

// Open with virtual-host addressing: the bucket is in the host name
// (bucket.s3.test), which the test's transport dials on the test service.
// Reads, writes and signed URLs all work.
func TestOpenVirtualHostStyle(t *testing.T) {
	srv := testServer(t)
	domain := os.Getenv("JOBARTIFACTS_TEST_S3_VIRTUAL_DOMAIN")
	if domain == "" {
		const hint = "the S3 service has no virtual-host domain (.ci/start-s3 sets JOBARTIFACTS_TEST_S3_VIRTUAL_DOMAIN)"
		if os.Getenv("CI") == "true" {
			t.Fatal(hint)
		}
		t.Skip(hint)
	}
	_, port, err := net.SplitHostPort(srv.endpoint)
	require.NoError(t, err)
	host, _, err := net.SplitHostPort(srv.endpoint)
	require.NoError(t, err)
	counter := newRequestCounter()
	transport := counter.base.(*http.Transport)
	var hosts sync.Map
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		hosts.Store(h, true)
		if h == domain || strings.HasSuffix(h, "."+domain) {
			h = host
		}
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(h, p))
	}
	bucket := newBucket(t, newClient(t, srv, nil))
	s, err := s3store.Open(t.Context(), s3store.Config{
		Endpoint:   net.JoinHostPort(domain, port),
		Region:     srv.region,
		AccessKey:  srv.accessKey,
		SecretKey:  srv.secretKey,
		Bucket:     bucket,
		Addressing: s3store.VirtualHostStyle,
		Transport:  counter,
	}, s3store.WithPartSize(5<<20))
	require.NoError(t, err)

	data := pseudoRandom(80, 6<<20) // multipart
	key := blobKey("archive")
	_, err = s.PutBlob(t.Context(), key, bytes.NewReader(data))
	require.NoError(t, err)
	b, err := s.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	defer b.Close()
	rc, err := b.NewRangeReader(0, -1)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.True(t, bytes.Equal(data, got))

	u, err := s.SignedURL(t.Context(), key, jobartifacts.SignedURLOptions{})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u, "http://"+bucket+"."+domain+":"+port+"/projects/"), u)
	resp, err := (&http.Client{Transport: transport}).Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	var dialed []string
	hosts.Range(func(h, _ any) bool {
		dialed = append(dialed, h.(string))
		return true
	})
	require.Equal(t, []string{bucket + "." + domain}, dialed, "every request named the bucket in the host")
}

// WithPrefix keeps every object under the prefix; keys in and out are the
// store's own.
func TestPrefix(t *testing.T) {
	f := newFixture(t)
	s := s3store.New(f.client, f.bucket, s3store.WithPrefix("ci/artifacts/"))
	key := jobartifacts.BlobKey("projects/1/jobs/2/archive-00")
	_, err := s.PutBlob(t.Context(), key, bytes.NewReader([]byte("bytes")))
	require.NoError(t, err)
	_, err = f.client.StatObject(t.Context(), f.bucket, "ci/artifacts/"+string(key), minio.StatObjectOptions{})
	require.NoError(t, err, "stored under the prefix")
	_, err = f.client.PutObject(t.Context(), f.bucket, "projects/9/outside", bytes.NewReader(nil), 0, minio.PutObjectOptions{})
	require.NoError(t, err)

	page, next, err := s.ListBlobs(t.Context(), "projects/", "", 10)
	require.NoError(t, err)
	require.Empty(t, next)
	require.Len(t, page, 1)
	require.Equal(t, key, page[0].Key)
	page, _, err = s.ListBlobs(t.Context(), "", string(key), 10)
	require.NoError(t, err)
	require.Empty(t, page, "the page token is a key without the prefix")

	b, err := s.OpenBlob(t.Context(), key)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	u, err := s.SignedURL(t.Context(), key, jobartifacts.SignedURLOptions{})
	require.NoError(t, err)
	require.Contains(t, u, "/ci/artifacts/projects/1/jobs/2/archive-00?")
	require.NoError(t, s.DeleteBlob(t.Context(), key))
	_, err = s.OpenBlob(t.Context(), key)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
}

// On a service that honours If-None-Match on PUT and on multipart
// completion (versitygw does), puts of one key racing on two replicas have
// exactly one winner, whole, whatever their size.
func TestRacingPutBlob(t *testing.T) {
	const part = 5 << 20
	f := newFixture(t, s3store.WithPartSize(part))
	other := f.second(t, s3store.WithPartSize(part))
	for _, size := range []int{50_000, part + 1000} {
		t.Run(sizeName(size), func(t *testing.T) {
			const racers = 4
			key := blobKey("race")
			data := make([][]byte, racers)
			errs := make([]error, racers)
			for r := range racers {
				data[r] = pseudoRandom(byte(70+r), size+r)
			}
			start := make(chan struct{})
			done := make(chan struct{})
			for r := range racers {
				s := f.store
				if r%2 == 1 {
					s = other
				}
				go func() {
					defer func() { done <- struct{}{} }()
					<-start
					_, errs[r] = s.PutBlob(t.Context(), key, onlyReader{bytes.NewReader(data[r])})
				}()
			}
			close(start)
			for range racers {
				<-done
			}
			winner := -1
			for r, err := range errs {
				if err == nil {
					require.Equal(t, -1, winner, "racers %d and %d both put", winner, r)
					winner = r
					continue
				}
				require.ErrorIs(t, err, jobartifacts.ErrConflict, fmt.Sprintf("racer %d", r))
			}
			require.NotEqual(t, -1, winner)
			require.Equal(t, data[winner], f.read(t, key))
			n, err := f.store.AbortIncompleteUploads(t.Context(), 0)
			require.NoError(t, err)
			require.Zero(t, n, "losers aborted their uploads")
		})
	}
}

// The empty key names no blob: deleting it succeeds, so that a queue entry
// for it can never fail every sweep.
func TestDeleteEmptyKey(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.store.DeleteBlob(t.Context(), ""))
}
