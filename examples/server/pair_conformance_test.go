package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/pgstore"
	"github.com/ciartifacts/jobartifacts/s3store"
	"github.com/ciartifacts/jobartifacts/storetest"
)

// seededPair is the Store a replica runs on, pgstore's metadata and
// s3store's blobs joined by CombineStores, seeded through pgstore, with
// the combined store's ProjectJob (pgstore's), which embedding the Store
// alone would hide from the suite.
type seededPair struct {
	jobartifacts.Store
	jobartifacts.ProjectJobReader
	seed *pgstore.Store
}

func (p seededPair) PutProject(ctx context.Context, proj jobartifacts.Project) error {
	return p.seed.PutProject(ctx, proj)
}

func (p seededPair) PutPipeline(ctx context.Context, pl jobartifacts.Pipeline) error {
	return p.seed.PutPipeline(ctx, pl)
}

func (p seededPair) PutJob(ctx context.Context, j jobartifacts.Job) error {
	return p.seed.PutJob(ctx, j)
}

// TestPairConformance runs the whole suite, the cross-half cases
// (StoreArtifact, the Sweeper) included, on the pair that a deployment of
// several replicas uses: every view is another pool and another S3 client on
// one schema and one bucket.
func TestPairConformance(t *testing.T) {
	t.Parallel() // a schema and a bucket of its own per case
	svc := testServices(t)
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() storetest.StoreUnderTest {
			schema := svc.newSchema(t)
			bucket := svc.newBucket(t, svc.s3Client(t))
			return func() storetest.StoreUnderTest {
				meta, err := pgstore.Open(t.Context(), svc.dsn, pgstore.WithSchema(schema))
				require.NoError(t, err)
				t.Cleanup(meta.Close)
				blobs := s3store.New(svc.s3Client(t), bucket)
				pair := jobartifacts.CombineStores(meta, blobs)
				pj, ok := pair.(jobartifacts.ProjectJobReader)
				require.True(t, ok, "CombineStores keeps pgstore's ProjectJob")
				return seededPair{Store: pair, ProjectJobReader: pj, seed: meta}
			}
		},
		PutBlobNotConditional: true,
		HTTPClient:            http.DefaultClient,
	})
}
