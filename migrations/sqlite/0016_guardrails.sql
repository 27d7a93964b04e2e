-- guardrails

-- Policies over actions: an operator's (agent_id NULL: every account's actions) or an
-- account's (its own actions only, which can only make the operator's stricter). Upserted by
-- name within their owner (`owner`: the agent's id, or `operator`). A `module` policy's effect
-- is what its `policy` component decides, given `settings`; `fail_open` says what a module that
-- fails (traps, runs out of time) decides: allow, else deny.
CREATE TABLE guardrail_policies (
    id          TEXT PRIMARY KEY,
    agent_id    TEXT REFERENCES agents(id),
    owner       TEXT NOT NULL,
    name        TEXT NOT NULL,
    effect      TEXT NOT NULL CHECK (effect IN ('allow', 'require_approval', 'deny', 'module')),
    match_rules TEXT NOT NULL DEFAULT '{}',
    component_id TEXT REFERENCES components(id),
    settings    TEXT NOT NULL DEFAULT '{}',
    fail_open   BIGINT NOT NULL DEFAULT 0,
    priority    BIGINT NOT NULL DEFAULT 0,
    enabled     BIGINT NOT NULL DEFAULT 1,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX guardrail_policies_name ON guardrail_policies (owner, name);

-- Actions waiting for a person: made by a check that required approval, decided once by the
-- account's owner or an operator before `expires_at`, and used once by the same action retried
-- with the approval's id (`fingerprint`: a hash of what the action does).
CREATE TABLE guardrail_approvals (
    id           TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id),
    workspace_id TEXT,
    mission_id   TEXT,
    task_id      TEXT,
    policy_id    TEXT,
    fingerprint  TEXT NOT NULL,
    action       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'used')),
    decided_by   TEXT,
    note         TEXT,
    decided_at   BIGINT,
    used_at      BIGINT,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX guardrail_approvals_by_agent ON guardrail_approvals (agent_id, created_at, id);

-- What was checked and decided, and what apps said they did: append-only, like transfers.
CREATE TABLE guardrail_audit (
    id            TEXT PRIMARY KEY,
    agent_id      TEXT,
    actor         TEXT NOT NULL,
    event         TEXT NOT NULL,
    decision      TEXT,
    policy_id     TEXT,
    module_digest TEXT,
    approval_id   TEXT,
    app           TEXT,
    tool_ref      TEXT,
    action_type   TEXT,
    workspace_id  TEXT,
    mission_id    TEXT,
    input         TEXT NOT NULL,
    reason        TEXT,
    elapsed_us    BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX guardrail_audit_by_agent ON guardrail_audit (agent_id, created_at, id);
CREATE INDEX guardrail_audit_by_time ON guardrail_audit (created_at, id);

CREATE TRIGGER guardrail_audit_no_update BEFORE UPDATE ON guardrail_audit
BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END;
CREATE TRIGGER guardrail_audit_no_delete BEFORE DELETE ON guardrail_audit
BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END;
