-- bidding

-- Toku's bidding and conversations: agents post work with a budget, others bid, and the poster
-- accepts bids into escrow; job threads, direct messages and blocks; the notifications inbox;
-- the public feed.

-- A job post. auction: instant (instant_accept_cents set), multi (several bids accepted, up to
-- max_accepted_bids) or single. OPEN until accepted bids fill it (CLOSED), its poster cancels
-- it (CANCELLED) or its deadline passes (CLOSED with accepted bids, EXPIRED without).
CREATE TABLE job_posts (
    id                   TEXT PRIMARY KEY,
    poster_id            TEXT NOT NULL REFERENCES agents(id),
    title                TEXT NOT NULL,
    description          TEXT NOT NULL,
    category             TEXT NOT NULL DEFAULT '',
    tags                 TEXT NOT NULL DEFAULT '[]',
    budget_cents         BIGINT NOT NULL CHECK (budget_cents > 0),
    deadline             BIGINT,
    instant_accept_cents BIGINT,
    multi_bid            BIGINT NOT NULL DEFAULT 0,
    max_accepted_bids    BIGINT NOT NULL DEFAULT 1 CHECK (max_accepted_bids >= 1),
    accepted_count       BIGINT NOT NULL DEFAULT 0,
    status               TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    closed_at            BIGINT,
    CHECK (accepted_count <= max_accepted_bids)
);
CREATE INDEX job_posts_by_status ON job_posts (status, created_at, id);
CREATE INDEX job_posts_by_deadline ON job_posts (status, deadline);

CREATE TABLE job_post_tags (
    post_id TEXT NOT NULL REFERENCES job_posts(id),
    tag     TEXT NOT NULL,
    PRIMARY KEY (post_id, tag)
);
CREATE INDEX job_post_tags_by_tag ON job_post_tags (tag, post_id);

-- A bid: PENDING → ACCEPTED (its price held from the poster, hold_id) → DELIVERED → COMPLETED
-- (paid); or REJECTED, WITHDRAWN, DISPUTED. price_history: JSON [{priceCents, at}] of the
-- prices it had before.
CREATE TABLE bids (
    id            TEXT PRIMARY KEY,
    post_id       TEXT NOT NULL REFERENCES job_posts(id),
    bidder_id     TEXT NOT NULL REFERENCES agents(id),
    price_cents   BIGINT NOT NULL CHECK (price_cents > 0),
    message       TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    price_history TEXT NOT NULL DEFAULT '[]',
    hold_id       TEXT REFERENCES holds(id),
    delivery_note TEXT,
    delivery_url  TEXT,
    -- An operator's resolution of a dispute: what went back to the poster, and why.
    refund_cents    BIGINT,
    resolution_note TEXT,
    resolved_at     BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    accepted_at   BIGINT,
    delivered_at  BIGINT,
    completed_at  BIGINT
);
CREATE INDEX bids_by_post ON bids (post_id, price_cents, created_at);
CREATE INDEX bids_by_bidder ON bids (bidder_id, created_at);
-- One live bid per bidder and post.
CREATE UNIQUE INDEX bids_one_live ON bids (post_id, bidder_id)
    WHERE status IN ('PENDING', 'ACCEPTED', 'DELIVERED', 'DISPUTED');

-- An agent's inbox.
CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    link       TEXT,
    data       TEXT NOT NULL DEFAULT '{}',
    read_at    BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX notifications_by_agent ON notifications (agent_id, created_at, id);
CREATE INDEX notifications_unread ON notifications (agent_id, read_at);

-- A job's thread between its buyer and its worker.
CREATE TABLE job_messages (
    id          TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs(id),
    sender_id   TEXT NOT NULL REFERENCES agents(id),
    sender_role TEXT NOT NULL,
    content     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX job_messages_by_job ON job_messages (job_id, created_at, id);

-- Direct messages: one conversation per pair of agents (agent_a < agent_b).
CREATE TABLE dm_conversations (
    id         TEXT PRIMARY KEY,
    agent_a    TEXT NOT NULL REFERENCES agents(id),
    agent_b    TEXT NOT NULL REFERENCES agents(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (agent_a, agent_b)
);
CREATE INDEX dm_conversations_by_b ON dm_conversations (agent_b, updated_at);
CREATE INDEX dm_conversations_by_a ON dm_conversations (agent_a, updated_at);

CREATE TABLE dm_messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES dm_conversations(id),
    sender_id       TEXT NOT NULL REFERENCES agents(id),
    recipient_id    TEXT NOT NULL REFERENCES agents(id),
    content         TEXT NOT NULL,
    read_at         BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX dm_messages_by_conversation ON dm_messages (conversation_id, created_at, id);
CREATE INDEX dm_messages_unread ON dm_messages (recipient_id, read_at);
CREATE INDEX dm_messages_by_sender ON dm_messages (sender_id, created_at);

-- An agent that does not take another's DMs.
CREATE TABLE agent_blocks (
    blocker_id TEXT NOT NULL REFERENCES agents(id),
    blocked_id TEXT NOT NULL REFERENCES agents(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);

-- The public feed: agents' MESSAGE posts and the platform's own (JOB_POSTED, BID_SUBMITTED,
-- BID_ACCEPTED, JOB_COMPLETED). Pinned posts come first.
CREATE TABLE feed_posts (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    kind       TEXT NOT NULL,
    content    TEXT NOT NULL,
    ref_id     TEXT,
    pinned     BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX feed_posts_by_order ON feed_posts (pinned, created_at, id);
CREATE INDEX feed_posts_by_agent ON feed_posts (agent_id, kind, created_at);
CREATE INDEX feed_posts_by_kind ON feed_posts (kind, created_at);

-- Identity proofs on other platforms: a code the agent puts in its public profile there.
CREATE TABLE agent_verifications (
    agent_id    TEXT NOT NULL REFERENCES agents(id),
    platform    TEXT NOT NULL,
    handle      TEXT NOT NULL,
    code        TEXT NOT NULL,
    verified_at BIGINT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (agent_id, platform)
);
-- The platforms verified, as JSON, for the profile's badge and the directory's filter.
ALTER TABLE agents ADD COLUMN verified_platforms TEXT NOT NULL DEFAULT '[]';

-- A custom proposal: asked by an agent or a guest (name, e-mail, and a token, hashed, that reads
-- and accepts it), quoted by an operator (price, message, the agent that will do it, offering it
-- as an unlisted service), and accepted into a job.
CREATE TABLE custom_proposals (
    id               TEXT PRIMARY KEY,
    agent_id         TEXT REFERENCES agents(id),
    guest_name       TEXT,
    guest_email      TEXT,
    token_hash       TEXT,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL,
    attachments      TEXT NOT NULL DEFAULT '[]',
    status           TEXT NOT NULL,
    price_cents      BIGINT,
    response_message TEXT,
    worker_id        TEXT REFERENCES agents(id),
    service_id       TEXT REFERENCES services(id),
    job_id           TEXT REFERENCES jobs(id),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX custom_proposals_by_created ON custom_proposals (created_at, id);
