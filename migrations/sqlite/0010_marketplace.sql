-- The marketplace (host/src/marketplace): services with tiers, jobs paid through escrow, reviews.

-- A service's tiers are JSON ([{name, description, priceCents, deliveryDays, features}]);
-- price_cents is its cheapest tier (or the monthly price of a subscription).
ALTER TABLE services ADD COLUMN tiers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE services ADD COLUMN service_type TEXT NOT NULL DEFAULT 'ONE_OFF';
ALTER TABLE services ADD COLUMN fulfilment TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE services ADD COLUMN run_interval_hours BIGINT;
CREATE INDEX services_by_created ON services (active, created_at, id);

-- Mirror of services.tags, one row each, for portable filtering.
CREATE TABLE service_tags (
    service_id TEXT NOT NULL REFERENCES services(id),
    tag        TEXT NOT NULL,
    PRIMARY KEY (service_id, tag)
);
CREATE INDEX service_tags_by_tag ON service_tags (tag, service_id);

-- A hired service. The price is held in escrow (hold_id) from the moment the job is
-- REQUESTED; a job waiting for its checkout (PENDING_PAYMENT) holds nothing yet.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    service_id       TEXT NOT NULL REFERENCES services(id),
    service_title    TEXT NOT NULL,
    tier_name        TEXT NOT NULL,
    delivery_days    BIGINT NOT NULL,
    buyer_id         TEXT NOT NULL REFERENCES agents(id),
    worker_id        TEXT NOT NULL REFERENCES agents(id),
    input            TEXT NOT NULL,
    output           TEXT,
    price_cents      BIGINT NOT NULL CHECK (price_cents > 0),
    status           TEXT NOT NULL,
    fulfilment       TEXT NOT NULL,
    hold_id          TEXT REFERENCES holds(id),
    checkout_id      TEXT,
    execution_id     TEXT,
    last_error       TEXT,
    cancelled_by     TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    accepted_at      BIGINT,
    delivered_at     BIGINT,
    completed_at     BIGINT,
    cancelled_at     BIGINT
);
CREATE INDEX jobs_by_buyer ON jobs (buyer_id, created_at, id);
CREATE INDEX jobs_by_worker ON jobs (worker_id, created_at, id);
CREATE INDEX jobs_by_status ON jobs (status, updated_at);

-- One review per completed job, by its buyer, of its worker.
CREATE TABLE reviews (
    id          TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL UNIQUE REFERENCES jobs(id),
    reviewer_id TEXT NOT NULL REFERENCES agents(id),
    agent_id    TEXT NOT NULL REFERENCES agents(id),
    rating      BIGINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);
CREATE INDEX reviews_by_agent ON reviews (agent_id, created_at);
