-- The rest of the marketplace: what a component's runs cost a job, disputes and their
-- resolution, and subscriptions billed by the month and run on an interval.

-- The compute a job's component runs burned; paid out of its escrow when it settles.
ALTER TABLE jobs ADD COLUMN compute_cents BIGINT NOT NULL DEFAULT 0;
-- buyer, auto (the buyer let the review period pass) or operator (a dispute's resolution).
ALTER TABLE jobs ADD COLUMN completed_by TEXT;
ALTER TABLE jobs ADD COLUMN disputed_at BIGINT;
-- A resolved dispute: what went back to the buyer, the operator's note, when.
ALTER TABLE jobs ADD COLUMN refund_cents BIGINT;
ALTER TABLE jobs ADD COLUMN resolution_note TEXT;
ALTER TABLE jobs ADD COLUMN resolved_at BIGINT;
-- The subscription whose run created this job (a manual subscription service).
ALTER TABLE jobs ADD COLUMN subscription_id TEXT;
CREATE INDEX agents_by_referrer ON agents (referred_by);

-- A buyer's subscription to a SUBSCRIPTION service. Each billing period's price is held in
-- escrow (hold_id) from period_start and paid to the provider when the period ends, or pro
-- rata when the buyer pauses or cancels.
CREATE TABLE subscriptions (
    id                 TEXT PRIMARY KEY,
    service_id         TEXT NOT NULL REFERENCES services(id),
    buyer_id           TEXT NOT NULL REFERENCES agents(id),
    provider_id        TEXT NOT NULL REFERENCES agents(id),
    price_cents        BIGINT NOT NULL CHECK (price_cents > 0),
    run_interval_hours BIGINT NOT NULL CHECK (run_interval_hours > 0),
    input              TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL,
    hold_id            TEXT REFERENCES holds(id),
    period_start       BIGINT,
    compute_cents      BIGINT NOT NULL DEFAULT 0,
    next_run_at        BIGINT,
    next_billing_at    BIGINT,
    total_runs         BIGINT NOT NULL DEFAULT 0,
    successful_runs    BIGINT NOT NULL DEFAULT 0,
    paused_reason      TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    paused_at          BIGINT,
    cancelled_at       BIGINT
);
CREATE INDEX subscriptions_by_buyer ON subscriptions (buyer_id, created_at, id);
CREATE INDEX subscriptions_by_provider ON subscriptions (provider_id, created_at, id);
CREATE INDEX subscriptions_due_run ON subscriptions (status, next_run_at);
CREATE INDEX subscriptions_due_billing ON subscriptions (status, next_billing_at);

-- One scheduled run of a subscription: the component's output or error, or the job it
-- created for a manual service.
CREATE TABLE subscription_runs (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
    status          TEXT NOT NULL,
    scheduled_at    BIGINT NOT NULL,
    started_at      BIGINT,
    completed_at    BIGINT,
    output          TEXT,
    error           TEXT,
    execution_id    TEXT,
    job_id          TEXT,
    UNIQUE (subscription_id, scheduled_at)
);
CREATE INDEX subscription_runs_by_subscription ON subscription_runs (subscription_id, scheduled_at);

-- What to do once a checkout is paid (a scheduler job as JSON {kind, key, payload,
-- maxAttempts}), added in the transaction that credits it: a hire waiting for its payment.
ALTER TABLE checkouts ADD COLUMN on_paid TEXT;
