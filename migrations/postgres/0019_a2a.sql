-- a2a

-- Agents that answer A2A callers (`PATCH /v1/config {"a2a_enabled": true}`).
CREATE TABLE a2a_agents (
    agent_id   TEXT PRIMARY KEY REFERENCES agents(id),
    enabled    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A task an A2A caller gave an agent: the caller's message and, once answered, the agent's.
-- `message_id` is the message that carried it to the agent's inbox (an agent without a
-- component), `execution_id` the run of the agent's component (one with).
CREATE TABLE a2a_tasks (
    id           TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id),
    caller_id    TEXT NOT NULL REFERENCES agents(id),
    context_id   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('submitted', 'working', 'completed', 'failed', 'canceled', 'rejected')),
    request      TEXT NOT NULL,
    reply        TEXT,
    note         TEXT,
    message_id   TEXT,
    execution_id TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX a2a_tasks_by_caller ON a2a_tasks (agent_id, caller_id, created_at, id);
CREATE INDEX a2a_tasks_by_context ON a2a_tasks (context_id, agent_id, caller_id);

-- Where a task's caller wants its changes posted, and the credentials to send with them (sealed).
CREATE TABLE a2a_push_configs (
    task_id       TEXT NOT NULL REFERENCES a2a_tasks(id),
    id            TEXT NOT NULL,
    url           TEXT NOT NULL,
    token         TEXT,
    auth_scheme   TEXT,
    sealed_credentials TEXT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (task_id, id)
);
