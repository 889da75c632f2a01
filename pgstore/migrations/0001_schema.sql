-- The schema of pgstore, version 1. The runner applies this file with
-- search_path set to the store's schema, in one transaction.

-- projects: the path is the ProjectByPath lookup; doc holds the rest of
-- jobartifacts.Project (visibility, job token allowlist, …).
CREATE TABLE projects (
    id   bigint PRIMARY KEY,
    path text   NOT NULL UNIQUE,
    doc  jsonb  NOT NULL
);

-- pipelines: ref and status are the "latest successful" lookups; doc holds
-- the rest of jobartifacts.Pipeline.
CREATE TABLE pipelines (
    id         bigint PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id),
    ref        text   NOT NULL,
    status     text   NOT NULL,
    doc        jsonb  NOT NULL
);

-- The newest successful pipelines of a ref, newest first: one index probe
-- for LatestSuccessfulJob, 100 index entries for RecentSuccessfulJob
-- (GitLab's index on (project_id, ref, status, id), made partial).
CREATE INDEX pipelines_success_by_ref ON pipelines (project_id, ref, id DESC)
    WHERE status = 'success';

-- jobs: the columns that lookups and record rules read; doc holds the
-- presentation graph of jobartifacts.Job (user, commit, runner, tags, …).
CREATE TABLE jobs (
    id                  bigint      PRIMARY KEY,
    project_id          bigint      NOT NULL REFERENCES projects (id),
    pipeline_id         bigint      NOT NULL REFERENCES pipelines (id),
    name                text        NOT NULL,
    status              text        NOT NULL,
    artifacts_expire_at timestamptz,
    artifacts_locked    boolean     NOT NULL DEFAULT false,
    doc                 jsonb       NOT NULL
);

-- A pipeline's jobs by name, highest id first.
CREATE INDEX jobs_by_pipeline_name ON jobs (pipeline_id, name, id DESC);
-- A project's jobs (ExpireProjectArtifacts).
CREATE INDEX jobs_by_project ON jobs (project_id);

-- artifacts: one record per job and file type, which the primary key
-- enforces. job_locked copies jobs.artifacts_locked (written under the job's
-- row lock) so that the sweep's index can leave kept jobs out, as GitLab's
-- ci_job_artifacts.locked does. seq keeps the order records were made in.
CREATE TABLE artifacts (
    job_id      bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    file_type   text        NOT NULL,
    file_format text        NOT NULL,
    filename    text        NOT NULL,
    size        bigint      NOT NULL,
    sha256      text        NOT NULL,
    expire_at   timestamptz,
    blob_key    text        NOT NULL,
    job_locked  boolean     NOT NULL,
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (job_id, file_type)
);

-- What SweepExpiredArtifacts may remove, oldest expiry first.
CREATE INDEX artifacts_sweepable ON artifacts (expire_at)
    WHERE NOT job_locked AND file_type <> 'trace' AND expire_at IS NOT NULL;

-- deleted_blobs: the blob deletion queue (GitLab's ci_deleted_objects).
-- queued_at and lease_until are the database's clock.
CREATE TABLE deleted_blobs (
    blob_key    text        PRIMARY KEY,
    queued_at   timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz
);

CREATE INDEX deleted_blobs_by_queued_at ON deleted_blobs (queued_at);
