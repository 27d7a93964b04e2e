-- Agents, API keys, the double-entry ledger, payouts, idempotency records.
-- Timestamps are milliseconds since the Unix epoch; money is integer cents.

CREATE TABLE agents (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    slug                 TEXT NOT NULL UNIQUE,
    description          TEXT NOT NULL DEFAULT '',
    owner_email          TEXT,
    avatar_url           TEXT,
    webhook_url          TEXT,
    endpoint_url         TEXT,
    system_prompt        TEXT,
    capabilities         TEXT NOT NULL DEFAULT '[]',
    tags                 TEXT NOT NULL DEFAULT '[]',
    price_per_task_cents BIGINT NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'ACTIVE',
    claim_token_hash     TEXT,
    claimed_at           BIGINT,
    referral_code        TEXT NOT NULL UNIQUE,
    referred_by          TEXT REFERENCES agents(id),
    rating_sum           BIGINT NOT NULL DEFAULT 0,
    rating_count         BIGINT NOT NULL DEFAULT 0,
    jobs_completed       BIGINT NOT NULL DEFAULT 0,
    available_for_hire   BIGINT NOT NULL DEFAULT 1,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX agents_by_created ON agents (created_at, id);

-- Mirror of agents.capabilities, one row each, for portable filtering.
CREATE TABLE agent_capabilities (
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    capability TEXT NOT NULL,
    PRIMARY KEY (agent_id, capability)
);
CREATE INDEX agent_capabilities_by_capability ON agent_capabilities (capability, agent_id);

-- Service listings (filled by the marketplace; the directory filters on them already).
CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL REFERENCES agents(id),
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category    TEXT NOT NULL DEFAULT '',
    price_cents BIGINT NOT NULL DEFAULT 0,
    tags        TEXT NOT NULL DEFAULT '[]',
    active      BIGINT NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX services_by_agent ON services (agent_id, active);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    prefix     TEXT NOT NULL UNIQUE,
    key_hash   TEXT NOT NULL,
    principal  TEXT NOT NULL CHECK (principal IN ('agent', 'operator')),
    agent_id   TEXT REFERENCES agents(id),
    name       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CHECK ((principal = 'agent') = (agent_id IS NOT NULL))
);

CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    agent_id       TEXT REFERENCES agents(id),
    balance        BIGINT NOT NULL DEFAULT 0,
    promo_balance  BIGINT NOT NULL DEFAULT 0,
    allow_negative BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    CHECK (allow_negative = 1 OR balance >= 0),
    CHECK (promo_balance >= 0),
    CHECK (allow_negative = 1 OR promo_balance <= balance)
);
CREATE INDEX accounts_by_agent ON accounts (agent_id);

INSERT INTO accounts (id, kind, allow_negative, created_at) VALUES
    ('world:external', 'external', 1, 0),
    ('platform:promotions', 'promotions', 1, 0),
    ('platform:revenue', 'revenue', 0, 0),
    ('platform:payouts', 'payouts', 0, 0);

CREATE TABLE transfers (
    id                   TEXT PRIMARY KEY,
    debit_account        TEXT NOT NULL REFERENCES accounts(id),
    credit_account       TEXT NOT NULL REFERENCES accounts(id),
    amount               BIGINT NOT NULL CHECK (amount > 0),
    kind                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    ref_id               TEXT,
    debit_balance_after  BIGINT NOT NULL,
    credit_balance_after BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    CHECK (debit_account <> credit_account)
);
CREATE INDEX transfers_by_debit ON transfers (debit_account, created_at);
CREATE INDEX transfers_by_credit ON transfers (credit_account, created_at);

CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;

CREATE TABLE holds (
    id              TEXT PRIMARY KEY,
    payer_account   TEXT NOT NULL REFERENCES accounts(id),
    escrow_account  TEXT NOT NULL REFERENCES accounts(id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    promo_amount    BIGINT NOT NULL DEFAULT 0,
    captured_amount BIGINT NOT NULL DEFAULT 0,
    status          TEXT NOT NULL CHECK (status IN ('held', 'captured', 'released')),
    description     TEXT NOT NULL DEFAULT '',
    ref_id          TEXT,
    created_at      BIGINT NOT NULL,
    settled_at      BIGINT
);
CREATE INDEX holds_by_status ON holds (status, created_at);

CREATE TABLE payouts (
    id           TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id),
    amount       BIGINT NOT NULL CHECK (amount > 0),
    status       TEXT NOT NULL,
    provider     TEXT NOT NULL,
    transfer_id  TEXT NOT NULL REFERENCES transfers(id),
    provider_ref TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX payouts_by_agent ON payouts (agent_id, created_at);

CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   BIGINT,
    response_body TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created_at);
