package pgstore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/storetest"
)

var _ storetest.Seeder = (*Store)(nil)

// The metadata suite, each case on a fresh schema; every view is another
// pool on that schema, as another replica would open it.
func TestMetadataConformance(t *testing.T) {
	t.Parallel() // a schema of its own per case
	testDSN(t)
	storetest.RunMetadataStore(t, storetest.MetadataHarness{
		New: func(t *testing.T) func() storetest.MetadataUnderTest {
			schema := newSchema(t)
			require.NoError(t, New(newPool(t), WithSchema(schema)).Migrate(t.Context()))
			return func() storetest.MetadataUnderTest {
				return New(newPool(t), WithSchema(schema))
			}
		},
	})
}

// pairUnderTest is pgstore's metadata with another store's blobs, seeded
// through pgstore, and the combined store's ProjectJob (CombineStores keeps
// pgstore's), which embedding the Store alone would hide from the suite.
type pairUnderTest struct {
	jobartifacts.Store
	storetest.Seeder
	jobartifacts.ProjectJobReader
}

// The whole suite, with fsstore's blob half over one directory: the cases
// that need both halves (StoreArtifact, the Sweeper) run on pgstore's
// records and deletion queue.
func TestStoreConformanceWithFSBlobs(t *testing.T) {
	t.Parallel() // a schema of its own per case
	testDSN(t)
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() storetest.StoreUnderTest {
			schema := newSchema(t)
			require.NoError(t, New(newPool(t), WithSchema(schema)).Migrate(t.Context()))
			dir := t.TempDir()
			return func() storetest.StoreUnderTest {
				meta := New(newPool(t), WithSchema(schema))
				blobs, err := fsstore.Open(dir)
				require.NoError(t, err)
				t.Cleanup(func() { _ = blobs.Close() })
				pair := jobartifacts.CombineStores(meta, blobs)
				pj, ok := pair.(jobartifacts.ProjectJobReader)
				require.True(t, ok, "CombineStores keeps pgstore's ProjectJob")
				return pairUnderTest{pair, meta, pj}
			}
		},
	})
}
