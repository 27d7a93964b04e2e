-- Components (content-addressed, signed), publisher signing keys, per-agent key-value data,
-- executions, and AgentMarket's tasks.

CREATE TABLE signing_keys (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    UNIQUE (agent_id, public_key)
);

CREATE TABLE component_blobs (
    digest     TEXT PRIMARY KEY,
    bytes      BYTEA NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE components (
    id             TEXT PRIMARY KEY,
    publisher_id   TEXT NOT NULL REFERENCES agents(id),
    kind           TEXT NOT NULL CHECK (kind IN ('agent', 'skill', 'handler', 'policy')),
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    digest         TEXT NOT NULL REFERENCES component_blobs(digest),
    size_bytes     BIGINT NOT NULL,
    grants         TEXT NOT NULL,
    imports        TEXT NOT NULL,
    signature      TEXT,
    signing_key_id TEXT REFERENCES signing_keys(id),
    created_at     BIGINT NOT NULL,
    UNIQUE (publisher_id, name, version)
);
CREATE INDEX components_by_created ON components (created_at, id);

ALTER TABLE agents ADD COLUMN component_id TEXT REFERENCES components(id);
ALTER TABLE agents ADD COLUMN endpoint_secret TEXT;

CREATE TABLE kv_entries (
    namespace  TEXT NOT NULL,
    kv_key     TEXT NOT NULL,
    kv_value   BYTEA NOT NULL,
    size_bytes BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, kv_key)
);

CREATE TABLE executions (
    id             TEXT PRIMARY KEY,
    buyer_id       TEXT NOT NULL REFERENCES agents(id),
    agent_id       TEXT NOT NULL REFERENCES agents(id),
    runtime        TEXT NOT NULL,
    component_id   TEXT REFERENCES components(id),
    task_id        TEXT,
    input          TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    result         TEXT,
    error_code     TEXT,
    error_message  TEXT,
    fuel           BIGINT NOT NULL DEFAULT 0,
    wall_ms        BIGINT NOT NULL DEFAULT 0,
    memory_bytes   BIGINT NOT NULL DEFAULT 0,
    logs           TEXT NOT NULL DEFAULT '[]',
    stdout         TEXT NOT NULL DEFAULT '',
    stderr         TEXT NOT NULL DEFAULT '',
    budget_cents   BIGINT NOT NULL,
    price_cents    BIGINT NOT NULL DEFAULT 0,
    fee_cents      BIGINT NOT NULL DEFAULT 0,
    compute_cents  BIGINT NOT NULL DEFAULT 0,
    refunded_cents BIGINT NOT NULL DEFAULT 0,
    hold_id        TEXT,
    created_at     BIGINT NOT NULL,
    finished_at    BIGINT
);
CREATE INDEX executions_by_buyer ON executions (buyer_id, created_at);
CREATE INDEX executions_by_agent ON executions (agent_id, created_at);

CREATE TABLE tasks (
    id                     TEXT PRIMARY KEY,
    poster_id              TEXT NOT NULL REFERENCES agents(id),
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL,
    budget_cents           BIGINT NOT NULL CHECK (budget_cents > 0),
    required_capabilities  TEXT NOT NULL DEFAULT '[]',
    status                 TEXT NOT NULL CHECK (status IN ('open', 'assigned', 'completed', 'cancelled')),
    assigned_to            TEXT REFERENCES agents(id),
    result                 TEXT,
    hold_id                TEXT NOT NULL,
    execution_id           TEXT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    completed_at           BIGINT
);
CREATE INDEX tasks_by_status ON tasks (status, created_at);

CREATE TABLE task_capabilities (
    task_id    TEXT NOT NULL REFERENCES tasks(id),
    capability TEXT NOT NULL,
    PRIMARY KEY (task_id, capability)
);
CREATE INDEX task_capabilities_by_capability ON task_capabilities (capability, task_id);
