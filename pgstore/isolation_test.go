package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/storetest"
)

// A server whose default isolation is repeatable read (DBAs set it) changes
// nothing: every mutation asks for READ COMMITTED itself, so the races of
// several replicas still end as the contract says, without serialization
// failures.
func TestRepeatableReadServerDefault(t *testing.T) {
	t.Parallel() // a schema of its own per case
	dsn := testDSN(t)
	newRRPool := func(t *testing.T) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(dsn)
		require.NoError(t, err)
		cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "repeatable read"
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		return pool
	}
	storetest.RunMetadataStore(t, storetest.MetadataHarness{New: func(t *testing.T) func() storetest.MetadataUnderTest {
		schema := newSchema(t)
		require.NoError(t, New(newPool(t), WithSchema(schema)).Migrate(t.Context()))
		return func() storetest.MetadataUnderTest { return New(newRRPool(t), WithSchema(schema)) }
	}})
}

// A record without a blob key queues nothing: no key that no blob store
// could delete.
func TestRecordWithoutBlobQueuesNothing(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "g/a"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "success"}))
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "b", Status: "success",
		Artifacts: []jobartifacts.Artifact{{FileType: "metadata", FileFormat: "gzip", Filename: "m.gz"}}}))
	_, err := s.ForgetArtifacts(ctx, 1, 100)
	require.NoError(t, err)
	require.NoError(t, s.QueueBlobDeletions(ctx, ""))
	keys, err := s.ClaimBlobDeletions(ctx, 0, time.Hour, 10)
	require.NoError(t, err)
	require.Empty(t, keys)
}
