package s3store_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/s3store"
)

// Archives in an S3 bucket, records elsewhere (memstore here; PostgreSQL in
// production), and a janitor for uploads that a crashed replica left
// incomplete.
func Example() {
	ctx := context.Background()
	blobs, err := s3store.Open(ctx, s3store.Config{
		Endpoint:   "s3.eu-west-1.amazonaws.com",
		Region:     "eu-west-1",
		AccessKey:  os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey:  os.Getenv("AWS_SECRET_ACCESS_KEY"),
		Bucket:     "ci-artifacts",
		UseSSL:     true,
		Addressing: s3store.VirtualHostStyle,
	}, s3store.WithPrefix("jobartifacts/"))
	if err != nil {
		log.Fatal(err)
	}
	store := jobartifacts.CombineStores(memstore.New(), blobs)
	_ = store // jobartifacts.New(store, authorizer) serves it

	go func() {
		// Longer than any upload may take.
		const longestUpload = 3 * time.Hour
		for range time.Tick(time.Hour) {
			if n, err := blobs.AbortIncompleteUploads(ctx, longestUpload); err != nil || n > 0 {
				log.Printf("aborted %d incomplete uploads: %v", n, err)
			}
		}
	}()
}
