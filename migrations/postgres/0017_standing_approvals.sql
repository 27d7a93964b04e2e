-- A host action that carries no approval id (a component's http call, hire or skill call, or a
-- request sent again without the id) uses the newest approval of the same action by the same
-- agent: found by its fingerprint.
CREATE INDEX guardrail_approvals_by_fingerprint ON guardrail_approvals (agent_id, fingerprint, created_at);
