// Package pgstore is a jobartifacts.MetadataStore on PostgreSQL (pgx v5 and
// pgxpool): projects, pipelines, jobs, artifact records and the blob
// deletion queue of any number of server replicas that share one database.
// Pair it with a blob store (fsstore's for one machine, an object store for
// many) through jobartifacts.CombineStores.
//
//	meta, err := pgstore.Open(ctx, "host=/run/postgresql dbname=ci")
//	…
//	defer meta.Close()
//	h := jobartifacts.New(jobartifacts.CombineStores(meta, blobs), authz)
//
// # Schema
//
// The tables live in one PostgreSQL schema (DefaultSchema, or WithSchema):
//
//   - projects (id, path UNIQUE, doc): ProjectByPath is the unique index.
//   - pipelines (id, project_id, ref, status, doc), with the partial index
//     pipelines_success_by_ref (project_id, ref, id DESC) WHERE status =
//     'success'.
//   - jobs (id, project_id, pipeline_id, name, status, artifacts_expire_at,
//     artifacts_locked, doc), with jobs_by_pipeline_name (pipeline_id, name,
//     id DESC) and jobs_by_project (project_id).
//   - artifacts (job_id, file_type, file_format, filename, size, sha256,
//     expire_at, blob_key, job_locked, seq), whose primary key (job_id,
//     file_type) is the rule "one record per type". job_locked copies the
//     job's artifacts_locked, as GitLab's ci_job_artifacts.locked does, so
//     that the partial index artifacts_sweepable (expire_at) WHERE NOT
//     job_locked AND file_type <> 'trace' AND expire_at IS NOT NULL holds
//     exactly what a sweep may remove.
//   - deleted_blobs (blob_key, queued_at, lease_until): the blob deletion
//     queue (GitLab's ci_deleted_objects), indexed by queued_at.
//   - schema_migrations (version, name, applied_at).
//
// The doc columns (jsonb) hold what no query looks at: a project's
// visibility and job token allowlist, a pipeline's sha and times, a job's
// user, commit, runner, runner manager, tag list and times. Times are kept
// exactly to the microsecond (timestamptz) or nanosecond (doc) and are
// returned in UTC.
//
// # Atomicity
//
// Every mutation is one short transaction that asks for READ COMMITTED
// itself (whatever the server's default_transaction_isolation), so it is
// atomic across every process that shares the database:
//
//   - CreateArtifact, ReplaceArtifact, KeepArtifacts and ForgetArtifacts
//     first lock the job's row (SELECT … FOR UPDATE), so changes to one job
//     are serialised; each later statement sees what committed before it.
//     CreateArtifact's insert is conditional on the (job_id, file_type) key
//     (ON CONFLICT DO NOTHING): of racing creates, exactly one wins.
//     ReplaceArtifact then locks the old record, upserts the new one and
//     queues the old blob, so each replaced record is returned once. (An
//     upsert that reads the old key in the same statement, without the job
//     lock, orphaned 46–74 of 320 blobs when measured: CTEs read the
//     snapshot taken before the lock wait.)
//   - KeepArtifacts also locks the job's records before it checks for an
//     available archive (the model's Job.HasAvailableArchive), then clears
//     every expiry and sets the lock flags.
//   - SweepExpiredArtifacts is one statement: the expired, unkept, non-log
//     records are selected from artifacts_sweepable with FOR UPDATE SKIP
//     LOCKED, deleted by their ctid and queued. Concurrent sweeps take
//     disjoint records; a record being kept, replaced or forgotten is locked
//     and skipped, and one changed after the statement's snapshot is
//     re-checked against the expiry and job_locked once locked.
//   - ClaimBlobDeletions is GitLab's lease: UPDATE … WHERE blob_key = ANY
//     (ARRAY(SELECT … FOR UPDATE SKIP LOCKED)) RETURNING, on the database's
//     clock (now()), as is every queued_at.
//
// Both take the locked rows as an array rather than joining them (IN, or a
// CTE): a prepared statement's generic plan cannot know the batch size and
// planned that join as a hash join over the whole table.
//
// Records are removed only with their blob key queued in the same
// transaction; PutJob (seeding) replaces records without queueing.
//
// # Migrations
//
// The schema is a series of SQL files embedded in the package
// (migrations/NNNN_name.sql). Migrate, which Open calls, applies the ones
// that schema_migrations does not list, in one transaction under
// pg_advisory_xact_lock keyed by the schema name: several replicas
// starting at once migrate exactly once, and a failure leaves nothing
// half-applied. A store made with New expects Migrate to have run.
//
// # Indexes
//
// No query of the handler's paths scans a table: every lookup is an index
// probe (the latest successful job is two), "recent successful" reads at
// most 100 entries of pipelines_success_by_ref and probes the jobs and
// artifacts indexes once for each, a sweep batch walks artifacts_sweepable
// and a claim walks deleted_blobs by queued_at. The package's tests check
// each plan with EXPLAIN over a seeded, analysed database.
package pgstore
