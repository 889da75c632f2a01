package s3store_test

import (
	"net/http"
	"testing"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/s3store"
	"github.com/ciartifacts/jobartifacts/storetest"
)

// The blob suite on a fresh bucket per case; each view is a Store with a
// client of its own, as another replica would have.
func TestConformance(t *testing.T) {
	srv := testServer(t)
	storetest.RunBlobStore(t, storetest.BlobHarness{
		New: func(t *testing.T) func() jobartifacts.BlobStore {
			bucket := newBucket(t, newClient(t, srv, nil))
			return func() jobartifacts.BlobStore {
				return s3store.New(newClient(t, srv, nil), bucket, s3store.WithPartSize(5<<20))
			}
		},
		// Multipart completions carry If-None-Match, but not every
		// S3-compatible service honours it (versitygw does: see
		// TestPutExistingKey and TestRacingPutBlob).
		PutBlobNotConditional: true,
		HTTPClient:            &http.Client{},
	})
}
