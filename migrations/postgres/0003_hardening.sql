-- Hardening: names compared by confusable skeleton, statuses stored lowercase, a public
-- signing key belongs to one agent, credit tracked per transfer and per escrow, agents' own
-- deposits from their own source account, idempotency claims with a lease, bounded
-- execution records.

ALTER TABLE agents ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX agents_by_name_key ON agents (name_key);
UPDATE agents SET status = LOWER(status);
ALTER TABLE agents ALTER COLUMN status SET DEFAULT 'active';

UPDATE signing_keys SET revoked_at = created_at
WHERE revoked_at IS NULL AND id NOT IN (
    SELECT MIN(id) FROM signing_keys WHERE revoked_at IS NULL GROUP BY public_key
);
CREATE UNIQUE INDEX signing_keys_by_public_key ON signing_keys (public_key) WHERE revoked_at IS NULL;

INSERT INTO accounts (id, kind, allow_negative, created_at) VALUES ('world:unfunded', 'unfunded', 1, 0);

UPDATE accounts SET promo_balance = (SELECT h.promo_amount FROM holds h WHERE h.escrow_account = accounts.id)
WHERE kind = 'escrow' AND id IN (SELECT escrow_account FROM holds WHERE status = 'held');

ALTER TABLE transfers ADD COLUMN promo_amount BIGINT NOT NULL DEFAULT 0;

UPDATE payouts SET status = 'pending' WHERE status = 'requested';

ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT;
ALTER TABLE idempotency_keys ADD COLUMN locked_until BIGINT;

ALTER TABLE executions ADD COLUMN input_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN result_bytes BIGINT NOT NULL DEFAULT 0;
CREATE INDEX executions_by_finished ON executions (finished_at);
CREATE INDEX executions_running ON executions (status, created_at);
CREATE INDEX components_by_publisher ON components (publisher_id);

-- The credit part of existing transfers, where the records say it: sign-up credits, money
-- put in escrow, and refunds of what escrow did not spend. (Transfers are immutable; the
-- trigger steps aside for this backfill only.)
ALTER TABLE transfers DISABLE TRIGGER transfers_no_change;
UPDATE transfers SET promo_amount = amount WHERE kind = 'SIGNUP_CREDIT';
UPDATE transfers SET promo_amount = (SELECT h.promo_amount FROM holds h WHERE h.escrow_account = transfers.credit_account)
WHERE kind = 'JOB_PAYMENT' AND credit_account IN (SELECT escrow_account FROM holds);
UPDATE transfers SET promo_amount = (
    SELECT LEAST(transfers.amount, GREATEST(h.promo_amount - h.captured_amount, 0)) FROM holds h
    WHERE h.escrow_account = transfers.debit_account)
WHERE kind = 'REFUND' AND debit_account IN (SELECT escrow_account FROM holds);
ALTER TABLE transfers ENABLE TRIGGER transfers_no_change;

-- Component bytes in 1 MiB chunks, so that no single row (or database message) is large.
CREATE TABLE component_blob_chunks (
    digest TEXT NOT NULL REFERENCES component_blobs(digest),
    seq    BIGINT NOT NULL,
    bytes  BYTEA NOT NULL,
    PRIMARY KEY (digest, seq)
);
INSERT INTO component_blob_chunks (digest, seq, bytes) SELECT digest, 0, bytes FROM component_blobs;
UPDATE component_blobs SET bytes = SUBSTR(bytes, 1, 0);
