-- gateway

-- Named parts of an account (an agent). `slug` is the API's `workspace_id`.
CREATE TABLE gateway_workspaces (
    id                    TEXT PRIMARY KEY,
    agent_id              TEXT NOT NULL REFERENCES agents(id),
    slug                  TEXT NOT NULL,
    name                  TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    metadata              TEXT NOT NULL DEFAULT '{}',
    monthly_budget_micros BIGINT CHECK (monthly_budget_micros >= 0),
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE UNIQUE INDEX gateway_workspaces_slug ON gateway_workspaces (agent_id, slug);

-- Runtime keys (`tok_...`), kept as the SHA-256 of the key like api_keys: created by an
-- account (an agent) for its apps, bound to one of its workspaces or none, with their own rate
-- limit. They reach the gateway's runtime routes only.
CREATE TABLE gateway_keys (
    id                    TEXT PRIMARY KEY,
    agent_id              TEXT NOT NULL REFERENCES agents(id),
    workspace_id          TEXT REFERENCES gateway_workspaces(id),
    name                  TEXT NOT NULL,
    prefix                TEXT NOT NULL UNIQUE,
    key_hash              TEXT NOT NULL,
    metadata              TEXT NOT NULL DEFAULT '{}',
    rate_limit_per_minute BIGINT,
    last_used_at          BIGINT,
    revoked_at            BIGINT,
    created_at            BIGINT NOT NULL
);
CREATE INDEX gateway_keys_by_agent ON gateway_keys (agent_id, created_at, id);

-- A workspace's spend in one calendar month (UTC, `YYYY-MM`), in micro-USD: charged, and
-- reserved by requests in flight. A request reserves its worst case here before any upstream
-- call, so concurrent requests cannot together pass the budget.
CREATE TABLE gateway_budget_periods (
    workspace_id    TEXT NOT NULL REFERENCES gateway_workspaces(id),
    month           TEXT NOT NULL,
    spent_micros    BIGINT NOT NULL DEFAULT 0,
    reserved_micros BIGINT NOT NULL DEFAULT 0 CHECK (reserved_micros >= 0),
    PRIMARY KEY (workspace_id, month)
);

-- One row per gateway request: written `reserved` with the hold of its worst case, then
-- `settled` with what it cost, or `failed` with the hold released.
CREATE TABLE gateway_usage (
    id               TEXT PRIMARY KEY,
    agent_id         TEXT NOT NULL REFERENCES agents(id),
    api_key_id       TEXT,
    workspace_id     TEXT REFERENCES gateway_workspaces(id),
    execution_id     TEXT,
    status           TEXT NOT NULL CHECK (status IN ('reserved', 'settled', 'failed')),
    request_type     TEXT NOT NULL,
    tier             TEXT NOT NULL,
    provider         TEXT NOT NULL DEFAULT '',
    upstream_model   TEXT NOT NULL DEFAULT '',
    routing_method   TEXT NOT NULL DEFAULT '',
    execution_source TEXT NOT NULL DEFAULT '',
    billing_mode     TEXT NOT NULL DEFAULT 'managed',
    input_tokens     BIGINT NOT NULL DEFAULT 0,
    output_tokens    BIGINT NOT NULL DEFAULT 0,
    cost_micros      BIGINT NOT NULL DEFAULT 0,
    charged_micros   BIGINT NOT NULL DEFAULT 0,
    baseline_micros  BIGINT NOT NULL DEFAULT 0,
    reserved_micros  BIGINT NOT NULL,
    hold_id          TEXT,
    cache_hit        BIGINT NOT NULL DEFAULT 0,
    attempts         TEXT NOT NULL DEFAULT '[]',
    error_code       TEXT,
    latency_ms       BIGINT,
    metadata         TEXT NOT NULL DEFAULT '{}',
    created_at       BIGINT NOT NULL,
    settled_at       BIGINT
);
CREATE INDEX gateway_usage_by_agent ON gateway_usage (agent_id, created_at, id);
CREATE INDEX gateway_usage_open ON gateway_usage (status, created_at);

-- Every account's usage ever charged, in micro-USD: its wallet has been billed the whole
-- cents of it (each settlement bills the cents its charge completes), so what is owed below a
-- cent is total_micros modulo 10,000.
CREATE TABLE gateway_meters (
    agent_id     TEXT PRIMARY KEY REFERENCES agents(id),
    total_micros BIGINT NOT NULL DEFAULT 0 CHECK (total_micros >= 0)
);
