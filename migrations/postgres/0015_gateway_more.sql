-- gateway: accounts' own routes, media, system_prompt agents' model

-- Provider keys an account brought (BYOK). The secret is sealed with the host's secrets key
-- (XChaCha20-Poly1305, the row's id authenticated with it) and never leaves the host. Status
-- follows use: `active`, `rate_limited` (until estimated_reset_at), `invalid` (refused by the
-- provider), `failing`.
CREATE TABLE gateway_provider_keys (
    id                 TEXT PRIMARY KEY,
    agent_id           TEXT NOT NULL REFERENCES agents(id),
    workspace_id       TEXT REFERENCES gateway_workspaces(id),
    provider           TEXT NOT NULL,
    label              TEXT NOT NULL,
    sealed_secret      TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('active', 'rate_limited', 'invalid', 'failing')),
    last_success_at    BIGINT,
    last_failure_at    BIGINT,
    last_failure_code  TEXT,
    estimated_reset_at BIGINT,
    created_at         BIGINT NOT NULL,
    deleted_at         BIGINT
);
CREATE INDEX gateway_provider_keys_by_agent ON gateway_provider_keys (agent_id, created_at, id);

-- Self-hosted OpenAI-compatible endpoints (Ollama, vLLM, LocalAI) an account registered. Their
-- headers are sealed like provider keys. Health checks and model discovery keep `status` and
-- `models` current; requests of the account (of the workspace, or any when the endpoint has
-- none) try a healthy endpoint first.
CREATE TABLE gateway_local_endpoints (
    id              TEXT PRIMARY KEY,
    agent_id        TEXT NOT NULL REFERENCES agents(id),
    workspace_id    TEXT REFERENCES gateway_workspaces(id),
    url             TEXT NOT NULL,
    label           TEXT NOT NULL,
    default_model   TEXT,
    sealed_headers  TEXT,
    status          TEXT NOT NULL CHECK (status IN ('healthy', 'unreachable')),
    models          TEXT NOT NULL DEFAULT '[]',
    last_error      TEXT,
    last_checked_at BIGINT,
    latency_ms      BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    deleted_at      BIGINT
);
CREATE INDEX gateway_local_endpoints_by_agent ON gateway_local_endpoints (agent_id, created_at, id);
CREATE INDEX gateway_local_endpoints_checked ON gateway_local_endpoints (last_checked_at);

-- Media requests are billed per unit (an image, 1,000 characters spoken, a started megabyte
-- transcribed, a second of video).
ALTER TABLE gateway_usage ADD COLUMN units BIGINT NOT NULL DEFAULT 0;

-- Video jobs: our id for the upstream's, so that polling reaches the upstream that took the job
-- and only the account that made it. Billed when submitted.
CREATE TABLE gateway_videos (
    id              TEXT PRIMARY KEY,
    agent_id        TEXT NOT NULL REFERENCES agents(id),
    usage_id        TEXT NOT NULL,
    upstream        TEXT NOT NULL,
    upstream_job_id TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('processing', 'completed', 'failed')),
    url             TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The mode (auto, fast, max) or model a system_prompt agent answers with; null is auto.
ALTER TABLE agents ADD COLUMN model TEXT;
