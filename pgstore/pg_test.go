package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// dsnVariable names the environment variable with the test database's DSN;
// .ci/start-postgres sets it.
const dsnVariable = "JOBARTIFACTS_TEST_POSTGRES_DSN"

// testDSN returns the test database's DSN. Without one the test is skipped,
// except under CI, where every suite must run.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(dsnVariable)
	if dsn == "" {
		const hint = "PostgreSQL not available: run .ci/test-all to start it and run every suite"
		if os.Getenv("CI") == "true" {
			t.Fatal(hint)
		}
		t.Skip(hint)
	}
	return dsn
}

// newSchema returns the name of a fresh schema, dropped when the test ends.
// Each test works in its own.
func newSchema(t testing.TB) string {
	t.Helper()
	dsn := testDSN(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "pgstore_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// newPool opens a pool on the test database, closed when the test ends.
// Each pool is a replica's view of the database.
func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testDSN(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// openStore returns a migrated store on its own pool in schema.
func openStore(t testing.TB, schema string) *Store {
	t.Helper()
	s, err := Open(context.Background(), testDSN(t), WithSchema(schema))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// newStore returns a migrated store in a fresh schema.
func newStore(t testing.TB) *Store {
	t.Helper()
	return openStore(t, newSchema(t))
}

// quoted returns schema as a quoted identifier.
func quoted(schema string) string { return pgx.Identifier{schema}.Sanitize() }
