-- webhook queue

-- Deliveries are their own queue: a pending delivery is due at `next_attempt_at` and claimed by
-- one host's dispatcher with a lease (`lease_owner`, `lease_until`), many at a time. The
-- per-delivery scheduler jobs they replace are dropped; their deliveries are due now.

ALTER TABLE webhook_deliveries ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE webhook_deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN lease_until BIGINT;
UPDATE webhook_deliveries SET next_attempt_at = updated_at WHERE status = 'pending';
DELETE FROM scheduled_jobs WHERE kind = 'webhooks.deliver';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
