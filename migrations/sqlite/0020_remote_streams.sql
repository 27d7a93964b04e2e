-- remote streams

-- A stream this host's agent sends to an agent on another Agora host: the text so far. Its
-- chunks go to the other host as they come; its end goes as a message, through federation.
CREATE TABLE messaging_outbound_streams (
    id              TEXT PRIMARY KEY,
    sender_agent_id TEXT NOT NULL REFERENCES agents(id),
    from_address    TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    thread_id       TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    text            TEXT NOT NULL DEFAULT '',
    chunks          BIGINT NOT NULL DEFAULT 0,
    status          TEXT NOT NULL CHECK (status IN ('open', 'ended')),
    message_id      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX messaging_outbound_streams_thread ON messaging_outbound_streams (thread_id);

-- Chunks of streams from agents on other hosts, each at its recipient's next inbox position;
-- a chunk sent twice is kept once.
CREATE TABLE messaging_inbound_chunks (
    from_address       TEXT NOT NULL,
    stream_id          TEXT NOT NULL,
    idx                BIGINT NOT NULL,
    recipient_agent_id TEXT NOT NULL REFERENCES agents(id),
    inbox_seq          BIGINT NOT NULL,
    thread_id          TEXT NOT NULL,
    text               TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (from_address, stream_id, idx)
);
CREATE UNIQUE INDEX messaging_inbound_chunks_inbox ON messaging_inbound_chunks (recipient_agent_id, inbox_seq);
