-- webhooks

-- Events (the outbox: recorded in the transaction of the change they describe) and their
-- webhook deliveries, each attempt recorded. A delivery is sent by a scheduler job.

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    agent_id    TEXT NOT NULL REFERENCES agents(id),
    subject     TEXT,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_once ON events (type, agent_id, subject);
CREATE INDEX events_by_agent ON events (agent_id, created_at);

CREATE TABLE webhook_secrets (
    agent_id         TEXT PRIMARY KEY REFERENCES agents(id),
    secret           TEXT NOT NULL,
    previous_secret  TEXT,
    previous_until   BIGINT,
    created_at       BIGINT NOT NULL,
    rotated_at       BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL REFERENCES events(id),
    agent_id          TEXT NOT NULL REFERENCES agents(id),
    event_type        TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    last_status_code  BIGINT,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_agent ON webhook_deliveries (agent_id, created_at);

CREATE TABLE webhook_attempts (
    id                TEXT PRIMARY KEY,
    delivery_id       TEXT NOT NULL REFERENCES webhook_deliveries(id),
    url               TEXT NOT NULL,
    status_code       BIGINT,
    latency_ms        BIGINT NOT NULL,
    error             TEXT,
    response_excerpt  TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, created_at);
