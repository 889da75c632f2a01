package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// bulkSize says how much seedBulk writes.
type bulkSize struct {
	projects, pipelines int // jobs: 3 per pipeline
	queued              int // deletion queue entries
}

// seedBulk fills the store's schema directly with SQL, much faster than the
// Seeder: projects 1..P ("group/pN"); pipelines 1..N, half of them in
// projects 1..10, the rest spread round-robin over all projects, on refs main, dev, feature/x and release, every fifth
// failed; jobs build, test and lint in each (job id = pipeline id*4+n),
// every other lint failed, expiring from 10 days ago to 9 days ahead, the
// jobs of every 50th pipeline kept; a trace for every job and an archive
// for two jobs in three; queued keys over the last days. It ANALYZEs the
// tables, as autovacuum would have.
func seedBulk(tb testing.TB, s *Store, size bulkSize) {
	tb.Helper()
	ctx := context.Background()
	q := qualifier(s.schema)
	started := time.Now()
	conn, err := s.pool.Acquire(ctx)
	require.NoError(tb, err)
	defer conn.Release()
	// Skips the foreign key triggers while seeding (the data is consistent
	// by construction); the test user is the cluster's superuser.
	_, err = conn.Exec(ctx, "SET session_replication_role = replica")
	require.NoError(tb, err)
	defer func() { _, _ = conn.Exec(ctx, "RESET session_replication_role") }()
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO {s}.projects (id, path, doc)
			SELECT g, 'group/p' || g, '{"visibility":"private"}' FROM generate_series(1, $1::int) g`, []any{size.projects}},
		{`INSERT INTO {s}.pipelines (id, project_id, ref, status, doc)
			SELECT g, CASE WHEN g % 2 = 0 THEN 1 + g % 10 ELSE 1 + g % $1::int END,
				(ARRAY['main','dev','feature/x','release'])[1 + (g / 10) % 4],
				CASE WHEN g % 5 = 0 THEN 'failed' ELSE 'success' END, '{"sha":"abc"}'
			FROM generate_series(1, $2::int) g`, []any{size.projects, size.pipelines}},
		{`INSERT INTO {s}.jobs (id, project_id, pipeline_id, name, status, artifacts_expire_at, artifacts_locked, doc)
			SELECT p.id * 4 + n, p.project_id, p.id, (ARRAY['build','test','lint'])[n],
				CASE WHEN n = 3 AND p.id % 2 = 0 THEN 'failed' ELSE 'success' END,
				now() + ((p.id % 20) - 10) * interval '1 day', p.id % 50 = 0, '{"stage":"build"}'
			FROM {s}.pipelines p, generate_series(1, 3) n`, nil},
		{`INSERT INTO {s}.artifacts (job_id, file_type, file_format, filename, size, sha256, expire_at, blob_key, job_locked)
			SELECT j.id, t.ft, 'zip', 'artifacts.zip', 100, 'abc',
				CASE WHEN j.artifacts_locked THEN NULL ELSE j.artifacts_expire_at END,
				'projects/' || j.project_id || '/jobs/' || j.id || '/' || t.ft, j.artifacts_locked
			FROM {s}.jobs j, unnest(ARRAY['archive','trace']) t(ft)
			WHERE t.ft = 'trace' OR j.id % 3 <> 0`, nil},
		{`INSERT INTO {s}.deleted_blobs (blob_key, queued_at)
			SELECT 'projects/0/jobs/' || g || '/archive', now() - g * interval '10 seconds'
			FROM generate_series(1, $1::int) g`, []any{size.queued}},
		{`ANALYZE {s}.projects, {s}.pipelines, {s}.jobs, {s}.artifacts, {s}.deleted_blobs`, nil},
	} {
		_, err := conn.Exec(ctx, q.Replace(stmt.sql), stmt.args...)
		require.NoError(tb, err, stmt.sql)
	}
	tb.Logf("seeded %d projects, %d pipelines, %d jobs in %v", size.projects, size.pipelines, 3*size.pipelines, time.Since(started).Round(time.Millisecond))
}
