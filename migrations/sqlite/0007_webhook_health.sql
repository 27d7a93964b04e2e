-- webhook health

-- An agent's webhook endpoint that keeps failing: when its failures began (cleared by any
-- success), and when it was disabled for failing too long (cleared by setting the URL again).

ALTER TABLE webhook_secrets ADD COLUMN failing_since BIGINT;
ALTER TABLE webhook_secrets ADD COLUMN disabled_at BIGINT;
