-- messaging

-- An agent's messaging identity: its Ed25519 key pair (the private key sealed with the host's
-- secrets key) under the agent's handle, and the last position of its inbox (`last_seq`,
-- taken under this row's lock, so an inbox's positions commit in order).
CREATE TABLE messaging_identities (
    agent_id        TEXT PRIMARY KEY REFERENCES agents(id),
    public_key      TEXT NOT NULL UNIQUE,
    sealed_secret   TEXT NOT NULL,
    connection_mode TEXT NOT NULL DEFAULT 'open'
                    CHECK (connection_mode IN ('open', 'approval', 'allowlist', 'closed')),
    last_seq        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    rotated_at      BIGINT
);

-- Each key an agent had, and the statement by which the old key named its successor: a peer
-- that knew an old key follows the chain to the current one.
CREATE TABLE messaging_key_rotations (
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    old_key    TEXT NOT NULL,
    new_key    TEXT NOT NULL,
    statement  TEXT NOT NULL,
    signature  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, new_key)
);
CREATE INDEX messaging_key_rotations_old ON messaging_key_rotations (old_key);

-- Conversations: a thread is open until a participant closes it.
CREATE TABLE messaging_threads (
    id         TEXT PRIMARY KEY,
    closed_at  BIGINT,
    closed_by  TEXT,
    created_at BIGINT NOT NULL
);

-- One row per message and recipient. A local sender's copy is the same row
-- (`sender_agent_id`); a local recipient's inbox is ordered by `inbox_seq`, which SSE streams
-- give as event ids. `signature` is the sender's Ed25519 signature over the envelope;
-- `sent_by_handler` names the sender's handler that wrote it (none: sent through the API).
CREATE TABLE messages (
    id                 TEXT PRIMARY KEY,
    thread_id          TEXT NOT NULL REFERENCES messaging_threads(id),
    from_address       TEXT NOT NULL,
    from_key           TEXT NOT NULL,
    to_address         TEXT NOT NULL,
    sender_agent_id    TEXT REFERENCES agents(id),
    recipient_agent_id TEXT REFERENCES agents(id),
    inbox_seq          BIGINT,
    reply_to           TEXT,
    content_type       TEXT NOT NULL,
    body               TEXT NOT NULL,
    signature          TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('delivered', 'held', 'rejected', 'queued', 'failed')),
    sent_by_handler    TEXT,
    created_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_inbox ON messages (recipient_agent_id, inbox_seq);
CREATE INDEX messages_sent ON messages (sender_agent_id, created_at, id);
CREATE INDEX messages_thread ON messages (thread_id, created_at, id);
CREATE INDEX messages_held ON messages (recipient_agent_id, from_key, status);

-- What an agent does with incoming messages: a `handler` component, or a prompt answered through
-- the model gateway (`llm`). Filters are JSON arrays (empty: any); `max_turns` bounds how many
-- messages the handler writes in one thread.
CREATE TABLE messaging_handlers (
    agent_id     TEXT NOT NULL REFERENCES agents(id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('component', 'llm')),
    component_id TEXT REFERENCES components(id),
    provider     TEXT,
    model        TEXT,
    prompt       TEXT,
    max_turns    BIGINT NOT NULL,
    auto_close   BIGINT NOT NULL DEFAULT 0,
    filter_from  TEXT NOT NULL DEFAULT '[]',
    filter_key   TEXT NOT NULL DEFAULT '[]',
    filter_type  TEXT NOT NULL DEFAULT '[]',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (agent_id, name)
);

-- Who an agent talks with: each key that wrote to it or that it wrote to, with the address it
-- was last seen at.
CREATE TABLE messaging_peers (
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    public_key TEXT NOT NULL,
    address    TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (agent_id, public_key)
);

-- An agent's rules: `block` or `approve` a sender by key, or by address pattern (`from`, a
-- trailing `*` matching any rest).
CREATE TABLE messaging_rules (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    action     TEXT NOT NULL CHECK (action IN ('block', 'approve')),
    public_key TEXT,
    from_pattern TEXT,
    created_at BIGINT NOT NULL,
    CHECK ((public_key IS NULL) <> (from_pattern IS NULL))
);
CREATE UNIQUE INDEX messaging_rules_unique ON messaging_rules (agent_id, action, COALESCE(public_key, ''), COALESCE(from_pattern, ''));

-- First contact from an unknown sender while the agent's mode is `approval`: its messages are
-- held until the agent approves (they are delivered) or denies (they are rejected).
CREATE TABLE messaging_approvals (
    id          TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL REFERENCES agents(id),
    public_key  TEXT NOT NULL,
    address     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'revoked')),
    created_at  BIGINT NOT NULL,
    decided_at  BIGINT
);
CREATE INDEX messaging_approvals_by_agent ON messaging_approvals (agent_id, status, created_at);

-- A message sent in pieces: each chunk takes the next position in the recipient's inbox (its
-- stream sees it live and resumes over it), and ending the stream delivers the assembled
-- message (`message_id`).
CREATE TABLE messaging_streams (
    id                 TEXT PRIMARY KEY,
    sender_agent_id    TEXT NOT NULL REFERENCES agents(id),
    recipient_agent_id TEXT NOT NULL REFERENCES agents(id),
    from_address       TEXT NOT NULL,
    to_address         TEXT NOT NULL,
    thread_id          TEXT NOT NULL REFERENCES messaging_threads(id),
    content_type       TEXT NOT NULL,
    text               TEXT NOT NULL DEFAULT '',
    chunks             BIGINT NOT NULL DEFAULT 0,
    status             TEXT NOT NULL CHECK (status IN ('open', 'ended')),
    message_id         TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE messaging_stream_chunks (
    stream_id          TEXT NOT NULL REFERENCES messaging_streams(id),
    idx                BIGINT NOT NULL,
    recipient_agent_id TEXT NOT NULL REFERENCES agents(id),
    inbox_seq          BIGINT NOT NULL,
    text               TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (stream_id, idx)
);
CREATE UNIQUE INDEX messaging_stream_chunks_inbox ON messaging_stream_chunks (recipient_agent_id, inbox_seq);

-- What happened to an agent's messages, for `GET /v1/logs`: deliveries, holds, handler runs,
-- remote deliveries. Ids are time-ordered (UUIDv7).
CREATE TABLE messaging_logs (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    level      TEXT NOT NULL CHECK (level IN ('info', 'warn')),
    event      TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX messaging_logs_by_agent ON messaging_logs (agent_id, id);
