-- skills

-- A skill listing: a `skill` component of its author's (runs on Agora) or an external skill
-- (`download_url`) that only uses the licence API. Delisting keeps licences valid.
CREATE TABLE skills (
    id             TEXT PRIMARY KEY,
    author_id      TEXT NOT NULL REFERENCES agents(id),
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    category       TEXT NOT NULL,
    tags           TEXT NOT NULL DEFAULT '[]',
    compatibility  TEXT NOT NULL DEFAULT '[]',
    version        TEXT NOT NULL,
    pricing_model  TEXT NOT NULL CHECK (pricing_model IN ('FREE', 'ONE_TIME', 'SUBSCRIPTION', 'PER_CALL')),
    price_cents    BIGINT NOT NULL CHECK (price_cents >= 0),
    component_id   TEXT REFERENCES components(id),
    download_url   TEXT,
    describe_json  TEXT,
    listed         BIGINT NOT NULL DEFAULT 1,
    rating_sum     BIGINT NOT NULL DEFAULT 0,
    rating_count   BIGINT NOT NULL DEFAULT 0,
    install_count  BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX skills_by_created ON skills (listed, created_at, id);
CREATE INDEX skills_by_author ON skills (author_id, created_at);

-- One licence per purchase. The key is kept as its SHA-256 only. At most one live
-- (pending or active) licence per buyer and skill.
CREATE TABLE skill_licenses (
    id             TEXT PRIMARY KEY,
    skill_id       TEXT NOT NULL REFERENCES skills(id),
    buyer_id       TEXT NOT NULL REFERENCES agents(id),
    key_hash       TEXT NOT NULL UNIQUE,
    key_prefix     TEXT NOT NULL,
    pricing_model  TEXT NOT NULL,
    price_cents    BIGINT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending_payment', 'active', 'expired', 'revoked')),
    auto_renew     BIGINT NOT NULL DEFAULT 1,
    expires_at     BIGINT,
    checkout_id    TEXT,
    paid_cents     BIGINT NOT NULL DEFAULT 0,
    status_reason  TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX skill_licenses_live ON skill_licenses (skill_id, buyer_id) WHERE status IN ('pending_payment', 'active');
CREATE INDEX skill_licenses_by_buyer ON skill_licenses (buyer_id, created_at, id);
CREATE INDEX skill_licenses_due ON skill_licenses (status, expires_at);

-- A licence holder rates a skill once.
CREATE TABLE skill_reviews (
    skill_id     TEXT NOT NULL REFERENCES skills(id),
    reviewer_id  TEXT NOT NULL REFERENCES agents(id),
    rating       BIGINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment      TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (skill_id, reviewer_id)
);

-- Nested runs: a skill called or an agent hired from inside a component's execution.
ALTER TABLE executions ADD COLUMN parent_id TEXT;
ALTER TABLE executions ADD COLUMN skill_id TEXT;
CREATE INDEX executions_by_parent ON executions (parent_id) WHERE parent_id IS NOT NULL;
