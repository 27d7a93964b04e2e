-- scheduler

-- Durable background jobs (host/src/scheduler): a host claims due jobs with a lease; a job
-- whose host died is taken over when its lease runs out. A job with a `job_key` exists once
-- per kind and key (recurring jobs, idempotent enqueues).

CREATE TABLE scheduled_jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    job_key       TEXT,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL,
    run_at        BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    max_attempts  BIGINT NOT NULL,
    lease_owner   TEXT,
    lease_until   BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX scheduled_jobs_kind_key ON scheduled_jobs (kind, job_key);
CREATE INDEX scheduled_jobs_due ON scheduled_jobs (status, run_at);
