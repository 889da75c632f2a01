package pgstore

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Several replicas starting at once on an empty schema: the schema is
// migrated exactly once and every one of them succeeds.
func TestMigrateConcurrently(t *testing.T) {
	schema := newSchema(t)
	const replicas = 8
	stores := make([]*Store, replicas)
	for i := range stores {
		stores[i] = New(newPool(t), WithSchema(schema))
	}
	errs := make([]error, replicas)
	applied := make([]int, replicas)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			applied[i], errs[i] = s.migrate(context.Background())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "replica %d", i)
	}

	ms, err := migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	total := 0
	for _, n := range applied {
		total += n
	}
	require.Equal(t, len(ms), total, "one replica applied every migration, the others none: %v", applied)
	require.Contains(t, applied, len(ms))
	var rows, distinct int
	err = stores[0].pool.QueryRow(t.Context(),
		`SELECT count(*), count(DISTINCT version) FROM `+quoted(schema)+`.schema_migrations`).Scan(&rows, &distinct)
	require.NoError(t, err)
	require.Equal(t, len(ms), rows, "each migration recorded once")
	require.Equal(t, len(ms), distinct)

	// Migrating again changes nothing.
	n, err := stores[1].migrate(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, stores[0].pool.QueryRow(t.Context(),
		`SELECT count(*) FROM `+quoted(schema)+`.schema_migrations`).Scan(&rows))
	require.Equal(t, len(ms), rows)
}

// The embedded migrations are numbered NNNN_name.sql without gaps.
func TestMigrationFiles(t *testing.T) {
	ms, err := migrations()
	require.NoError(t, err)
	for i, m := range ms {
		require.Equal(t, i+1, m.version, m.name)
	}
}
