package pgstore

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// Every statement on the handler's paths uses an index: EXPLAIN over a
// seeded, analysed schema shows no Seq Scan, with the plan for these values
// (custom) and the one a prepared statement may switch to after five runs
// (generic). Every table can grow, so any Seq Scan fails.
func TestQueryPlansUseIndexes(t *testing.T) {
	s := newStore(t)
	seedBulk(t, s, bulkSize{projects: 5_000, pipelines: 20_000, queued: 5_000})

	const jobID = 4002*4 + 1 // build of pipeline 4002, project 3
	// The lookups find something: the plans are of real work.
	j, err := s.LatestSuccessfulJob(t.Context(), 3, "main", "build")
	require.NoError(t, err)
	require.Equal(t, "build", j.Name)
	_, err = s.RecentSuccessfulJob(t.Context(), 3, "main", "build")
	require.NoError(t, err)
	_, err = s.JobByID(t.Context(), jobID)
	require.NoError(t, err)
	now := time.Now().UTC()
	a := jobartifacts.Artifact{FileType: "archive", FileFormat: "zip", Filename: "a.zip", Size: 1, SHA256: "x", ExpireAt: &now, Blob: "k"}
	type stmt struct {
		name string
		sql  string
		args []any
	}
	stmts := []stmt{
		{"Project (and ProjectJob)", s.q.project, []any{3}},
		{"ProjectByPath", s.q.projectByPath, []any{"group/p3"}},
		{"Job (and ProjectJob)", s.q.job, []any{3, jobID}},
		{"JobByID", s.q.jobByID, []any{jobID}},
		{"LatestSuccessfulJob", s.q.latestSuccessful, []any{3, "main", "build"}},
		{"RecentSuccessfulJob", s.q.recentSuccessful, []any{3, "main", "build"}},
		{"RecentSuccessfulJob/none of 100", s.q.recentSuccessful, []any{3, "main", "nope"}},
		// CreateArtifact, ReplaceArtifact, KeepArtifacts, ForgetArtifacts.
		{"lock job", s.q.lockJob, []any{3, jobID}},
		{"lock artifact", s.q.lockArtifact, []any{jobID, "archive"}},
		{"lock artifacts", s.q.lockArtifacts, []any{jobID}},
		{"create artifact", s.q.createArtifact, artifactArgs(jobID, a, false)},
		{"upsert artifact", s.q.upsertArtifact, artifactArgs(jobID, a, false)},
		{"set job expiry", s.q.setJobExpiry, []any{jobID, now}},
		{"keep job", s.q.keepJob, []any{jobID}},
		{"keep artifacts", s.q.keepArtifacts, []any{jobID}},
		{"forget", s.q.forget, []any{jobID, []string{"trace"}}},
		{"read job in tx", s.q.job, []any{3, jobID}},
		// ExpireProjectArtifacts (route 7).
		{"project exists", s.q.projectExists, []any{3}},
		{"lock project jobs", s.q.lockProjectJobs, []any{3}},
		{"expire artifacts", s.q.expireArtifacts, []any{[]int64{jobID, jobID + 1}, now}},
		{"expire jobs", s.q.expireJobs, []any{[]int64{jobID, jobID + 1}, now}},
		// The Sweeper.
		{"SweepExpiredArtifacts", s.q.sweep, []any{now, 100}},
		{"QueueBlobDeletions", s.q.queue, []any{[]string{"k1", "k2"}}},
		{"ClaimBlobDeletions", s.q.claim, []any{time.Hour.Microseconds(), (10 * time.Minute).Microseconds(), 100}},
		{"FinishBlobDeletions", s.q.finish, []any{[]string{"k1", "k2"}}},
	}
	conn, err := s.pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	for i, st := range stmts {
		name := fmt.Sprintf("q%d", i)
		_, err := conn.Exec(t.Context(), "PREPARE "+name+" AS "+st.sql)
		require.NoError(t, err, st.name)
		args := make([]string, len(st.args))
		for i, v := range st.args {
			args[i] = literal(t, v)
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			_, err := conn.Exec(t.Context(), "SET plan_cache_mode = "+mode)
			require.NoError(t, err)
			rows, _ := conn.Query(t.Context(), "EXPLAIN EXECUTE "+name+"("+strings.Join(args, ", ")+")", pgx.QueryExecModeSimpleProtocol)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err, st.name)
			plan := strings.Join(lines, "\n")
			assert.NotContains(t, plan, "Seq Scan", "%s (%s):\n%s", st.name, mode, plan)
			if testing.Verbose() {
				t.Logf("%s (%s):\n%s", st.name, mode, plan)
			}
		}
		_, err = conn.Exec(t.Context(), "DEALLOCATE "+name)
		require.NoError(t, err)
	}
}

// literal writes v as an SQL literal for EXECUTE.
func literal(t *testing.T, v any) string {
	t.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case string:
		return quote(v)
	case jobartifacts.BlobKey:
		return quote(string(v))
	case time.Time:
		return quote(v.Format(time.RFC3339Nano)) + "::timestamptz"
	case *time.Time:
		if v == nil {
			return "NULL"
		}
		return literal(t, *v)
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = quote(s)
		}
		return "ARRAY[" + strings.Join(parts, ",") + "]::text[]"
	case []int64:
		parts := make([]string, len(v))
		for i, n := range v {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return "ARRAY[" + strings.Join(parts, ",") + "]::bigint[]"
	}
	t.Fatalf("no literal for %T", v)
	return ""
}
