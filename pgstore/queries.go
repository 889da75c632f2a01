package pgstore

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// queries is every statement of the store, its table names qualified with
// the store's schema, so that a pool need not set search_path.
type queries struct {
	project, projectByPath                           string
	job, jobByID, latestSuccessful, recentSuccessful string

	lockJob, lockArtifact, lockArtifacts                        string
	createArtifact, upsertArtifact, setJobExpiry                string
	keepJob, keepArtifacts                                      string
	forget, sweep                                               string
	lockProjectJobs, expireArtifacts, expireJobs, projectExists string

	queue, claim, finish string

	putProject, putPipeline, putJobCheck, putJob, deleteJobArtifacts, insertArtifact string
}

// newQueries returns the statements for the tables of schema.
func newQueries(schema string) queries {
	r := qualifier(schema)
	q := func(sql string) string { return r.Replace(sql) }
	return queries{
		project:       q(`SELECT id, path, doc FROM {s}.projects WHERE id = $1`),
		projectByPath: q(`SELECT id, path, doc FROM {s}.projects WHERE path = $1`),

		job:     q(selectJob + ` WHERE j.id = $2 AND j.project_id = $1`),
		jobByID: q(selectJob + ` WHERE j.id = $1`),
		// One probe of pipelines_success_by_ref, then one of jobs_by_pipeline_name.
		latestSuccessful: q(selectJob + ` WHERE j.id = (
			SELECT lj.id FROM {s}.jobs lj
			WHERE lj.pipeline_id = (
				SELECT lp.id FROM {s}.pipelines lp
				WHERE lp.project_id = $1 AND lp.ref = $2 AND lp.status = 'success'
				ORDER BY lp.id DESC LIMIT 1)
			  AND lj.name = $3
			ORDER BY lj.id DESC LIMIT 1)`),
		// At most 100 entries of pipelines_success_by_ref, one probe of
		// jobs_by_pipeline_name and of the artifacts key each.
		recentSuccessful: q(selectJob + ` WHERE j.id = (
			SELECT rj.id
			FROM (SELECT rp.id FROM {s}.pipelines rp
			      WHERE rp.project_id = $1 AND rp.ref = $2 AND rp.status = 'success'
			      ORDER BY rp.id DESC LIMIT 100) rp
			JOIN {s}.jobs rj ON rj.pipeline_id = rp.id AND rj.name = $3 AND rj.status = 'success'
			WHERE EXISTS (SELECT 1 FROM {s}.artifacts ra WHERE ra.job_id = rj.id AND ra.file_type = 'archive')
			ORDER BY rp.id DESC, rj.id DESC LIMIT 1)`),

		// Every change to a job's records takes the job's row lock first, so
		// that they are serialised per job: a single statement's CTEs read
		// the snapshot taken before its lock wait, so a replace that read
		// the old key while upserting would orphan blobs.
		lockJob: q(`SELECT artifacts_locked, artifacts_expire_at FROM {s}.jobs
			WHERE id = $2 AND project_id = $1 FOR UPDATE`),
		// The sweep does not take job locks: it locks the records it
		// removes, so these waits see its deletions.
		lockArtifact: q(`SELECT file_type, file_format, filename, size, sha256, expire_at, blob_key
			FROM {s}.artifacts WHERE job_id = $1 AND file_type = $2 FOR UPDATE`),
		lockArtifacts: q(`SELECT file_type, file_format, filename, size, sha256, expire_at, blob_key
			FROM {s}.artifacts WHERE job_id = $1 ORDER BY seq FOR UPDATE`),
		createArtifact: q(`INSERT INTO {s}.artifacts
			(job_id, file_type, file_format, filename, size, sha256, expire_at, blob_key, job_locked)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (job_id, file_type) DO NOTHING`),
		upsertArtifact: q(`INSERT INTO {s}.artifacts
			(job_id, file_type, file_format, filename, size, sha256, expire_at, blob_key, job_locked)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (job_id, file_type) DO UPDATE SET
				file_format = EXCLUDED.file_format, filename = EXCLUDED.filename,
				size = EXCLUDED.size, sha256 = EXCLUDED.sha256, expire_at = EXCLUDED.expire_at,
				blob_key = EXCLUDED.blob_key, job_locked = EXCLUDED.job_locked`),
		setJobExpiry: q(`UPDATE {s}.jobs SET artifacts_expire_at = $2 WHERE id = $1`),
		keepJob:      q(`UPDATE {s}.jobs SET artifacts_expire_at = NULL, artifacts_locked = true WHERE id = $1`),
		// Every record is written, also those without an expiry, so that a
		// sweep that read one before the keep re-checks it (job_locked).
		keepArtifacts: q(`UPDATE {s}.artifacts SET expire_at = NULL, job_locked = true WHERE job_id = $1`),
		forget: q(`WITH removed AS (
				DELETE FROM {s}.artifacts WHERE job_id = $1 AND NOT (file_type = ANY($2::text[]))
				RETURNING *
			), queued AS (
				INSERT INTO {s}.deleted_blobs (blob_key) SELECT blob_key FROM removed WHERE blob_key <> '' ORDER BY blob_key
				ON CONFLICT (blob_key) DO NOTHING
			)
			SELECT file_type, file_format, filename, size, sha256, expire_at, blob_key
			FROM removed ORDER BY seq`),
		// One statement: the records are locked with SKIP LOCKED, so
		// concurrent sweeps take disjoint records and a record being kept,
		// replaced or forgotten is left alone; a record changed after the
		// statement's snapshot is re-checked against the WHERE clause
		// (expiry, job_locked) once locked. The locked rows are deleted by
		// ctid from an array, not joined, so that even a generic plan is a
		// TID scan (see the package doc).
		sweep: q(`WITH removed AS (
				DELETE FROM {s}.artifacts WHERE ctid = ANY (ARRAY(
					SELECT ctid FROM {s}.artifacts
					WHERE expire_at <= $1 AND file_type <> 'trace' AND NOT job_locked
					ORDER BY expire_at
					LIMIT $2
					FOR UPDATE SKIP LOCKED))
				RETURNING *
			), queued AS (
				INSERT INTO {s}.deleted_blobs (blob_key) SELECT blob_key FROM removed WHERE blob_key <> '' ORDER BY blob_key
				ON CONFLICT (blob_key) DO NOTHING
			)
			SELECT j.project_id, r.job_id, r.file_type, r.file_format, r.filename, r.size, r.sha256, r.expire_at, r.blob_key
			FROM removed r JOIN {s}.jobs j ON j.id = r.job_id
			ORDER BY r.expire_at, r.job_id, r.seq`),

		projectExists:   q(`SELECT EXISTS (SELECT 1 FROM {s}.projects WHERE id = $1)`),
		lockProjectJobs: q(`SELECT id FROM {s}.jobs WHERE project_id = $1 AND NOT artifacts_locked ORDER BY id FOR UPDATE`),
		expireArtifacts: q(`UPDATE {s}.artifacts SET expire_at = $2
			WHERE job_id = ANY($1::bigint[]) AND (expire_at IS NULL OR expire_at > $2)`),
		expireJobs: q(`UPDATE {s}.jobs j SET artifacts_expire_at = $2
			WHERE j.id = ANY($1::bigint[]) AND (j.artifacts_expire_at IS NULL OR j.artifacts_expire_at > $2)
			  AND EXISTS (SELECT 1 FROM {s}.artifacts a WHERE a.job_id = j.id)`),

		queue: q(`INSERT INTO {s}.deleted_blobs (blob_key)
			SELECT DISTINCT k FROM unnest($1::text[]) k WHERE k <> '' ORDER BY k
			ON CONFLICT (blob_key) DO NOTHING`),
		// GitLab's lease (Ci::DeletedObject.lock_for_destruction), on the
		// database's clock; durations are microseconds. The array keeps the
		// update to primary key probes, as in sweep.
		claim: q(`UPDATE {s}.deleted_blobs SET lease_until = now() + $2::bigint * interval '1 microsecond'
			WHERE blob_key = ANY (ARRAY(
				SELECT blob_key FROM {s}.deleted_blobs
				WHERE queued_at <= now() - $1::bigint * interval '1 microsecond'
				  AND (lease_until IS NULL OR lease_until <= now())
				ORDER BY queued_at
				LIMIT $3
				FOR UPDATE SKIP LOCKED))
			RETURNING blob_key`),
		finish: q(`DELETE FROM {s}.deleted_blobs WHERE blob_key = ANY($1::text[])`),

		putProject: q(`INSERT INTO {s}.projects (id, path, doc) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET path = EXCLUDED.path, doc = EXCLUDED.doc`),
		// A pipeline never moves to another project: the update then
		// matches no row.
		putPipeline: q(`INSERT INTO {s}.pipelines (id, project_id, ref, status, doc) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET ref = EXCLUDED.ref, status = EXCLUDED.status, doc = EXCLUDED.doc
			WHERE pipelines.project_id = EXCLUDED.project_id`),
		putJobCheck: q(`SELECT EXISTS (SELECT 1 FROM {s}.projects WHERE id = $1),
			(SELECT project_id FROM {s}.pipelines WHERE id = $2 FOR SHARE)`),
		putJob: q(`INSERT INTO {s}.jobs
			(id, project_id, pipeline_id, name, status, artifacts_expire_at, artifacts_locked, doc)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET
				project_id = EXCLUDED.project_id, pipeline_id = EXCLUDED.pipeline_id,
				name = EXCLUDED.name, status = EXCLUDED.status,
				artifacts_expire_at = EXCLUDED.artifacts_expire_at,
				artifacts_locked = EXCLUDED.artifacts_locked, doc = EXCLUDED.doc`),
		deleteJobArtifacts: q(`DELETE FROM {s}.artifacts WHERE job_id = $1`),
		insertArtifact: q(`INSERT INTO {s}.artifacts
			(job_id, file_type, file_format, filename, size, sha256, expire_at, blob_key, job_locked)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
	}
}

// qualifier qualifies the table names of a statement ({s}.name) with
// the schema.
func qualifier(schema string) *strings.Replacer {
	return strings.NewReplacer("{s}.", pgx.Identifier{schema}.Sanitize()+".")
}

// selectJob reads a job with its pipeline and its records (in the order
// they were made) in one row; scanJob decodes it. Expiry times travel as
// microseconds since the epoch, exactly as stored.
const selectJob = `SELECT j.id, j.project_id, j.name, j.status, j.artifacts_expire_at, j.artifacts_locked, j.doc,
	p.id, p.project_id, p.ref, p.status, p.doc,
	(SELECT jsonb_agg(jsonb_build_object(
			'file_type', a.file_type, 'file_format', a.file_format, 'filename', a.filename,
			'size', a.size, 'sha256', a.sha256, 'blob', a.blob_key,
			'expire_at_us', (extract(epoch FROM a.expire_at) * 1000000)::bigint) ORDER BY a.seq)
	 FROM {s}.artifacts a WHERE a.job_id = j.id)
FROM {s}.jobs j JOIN {s}.pipelines p ON p.id = j.pipeline_id`
