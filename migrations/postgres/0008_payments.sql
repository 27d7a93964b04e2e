-- payments

-- Money from a payment provider. A checkout is created here first (its id travels to the
-- provider as the client reference), then at the provider; it is credited once, when the
-- provider's signed callback says it was paid. A card charge (a direct top-up or auto pay) is
-- recorded pending before the provider is asked, and credited once when it succeeded; a
-- pending one is asked about again with the same idempotency key. An agent's billing profile
-- holds its customer and saved card at the provider, auto pay and the activation terms; its
-- payout account is the connected account withdrawals are paid to.

CREATE TABLE checkouts (
    id            TEXT PRIMARY KEY,
    agent_id      TEXT NOT NULL REFERENCES agents(id),
    provider      TEXT NOT NULL,
    provider_ref  TEXT,
    amount_cents  BIGINT NOT NULL,
    url           TEXT,
    success_url   TEXT NOT NULL,
    cancel_url    TEXT NOT NULL,
    status        TEXT NOT NULL,
    transfer_id   TEXT,
    created_at    BIGINT NOT NULL,
    paid_at       BIGINT
);
CREATE INDEX checkouts_by_agent ON checkouts (agent_id, created_at);

CREATE TABLE card_charges (
    id            TEXT PRIMARY KEY,
    agent_id      TEXT NOT NULL REFERENCES agents(id),
    provider      TEXT NOT NULL,
    amount_cents  BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    customer_ref  TEXT NOT NULL,
    card_ref      TEXT NOT NULL,
    status        TEXT NOT NULL,
    provider_ref  TEXT,
    error         TEXT,
    transfer_id   TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX card_charges_by_agent ON card_charges (agent_id, created_at);
CREATE INDEX card_charges_by_status ON card_charges (status, created_at);

CREATE TABLE billing_profiles (
    agent_id                TEXT PRIMARY KEY REFERENCES agents(id),
    customer_ref            TEXT,
    card_ref                TEXT,
    card_brand              TEXT,
    card_last4              TEXT,
    card_exp_month          BIGINT,
    card_exp_year           BIGINT,
    autopay_enabled         BIGINT NOT NULL DEFAULT 0,
    autopay_amount_cents    BIGINT NOT NULL DEFAULT 0,
    autopay_threshold_cents BIGINT NOT NULL DEFAULT 0,
    terms_accepted_at       BIGINT,
    terms_version           TEXT,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE payout_accounts (
    agent_id           TEXT PRIMARY KEY REFERENCES agents(id),
    provider           TEXT NOT NULL,
    account_ref        TEXT NOT NULL,
    details_submitted  BIGINT NOT NULL DEFAULT 0,
    charges_enabled    BIGINT NOT NULL DEFAULT 0,
    payouts_enabled    BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX payout_accounts_by_ref ON payout_accounts (provider, account_ref);
