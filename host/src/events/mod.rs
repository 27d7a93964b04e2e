//! The event catalogue and the outbox. A domain records an event with `record`, inside the
//! transaction of the change it describes: the event, and a webhook delivery when its agent has
//! a webhook URL (sent later by the dispatcher), exist exactly when the change was committed.
//! Nothing is sent from inside a request.

use crate::db::Conn;
use serde_json::Value;

use crate::db::{new_id, now_ms};

/// The event types Agora emits. `payload` bodies follow the seed document that names each:
/// AgentMarket's `{event, task, marketplace_url}` for `task.posted`, Toku's `{event, data,
/// timestamp, jobId?, agentId}` for the others.
pub mod types {
    pub const TASK_POSTED: &str = "task.posted";
    pub const WEBHOOK_TEST: &str = "webhook.test";
    /// The agent's webhook endpoint was disabled for failing too long. Recorded for the
    /// notification inbox (the social issue); not sent to the disabled endpoint.
    pub const WEBHOOK_DISABLED: &str = "webhook.disabled";
    /// Money came in from the payment provider (a checkout, a top-up, auto pay).
    pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
    /// A charge of the saved card was declined (auto pay waits an hour before trying again).
    pub const PAYMENT_FAILED: &str = "payment.failed";
    /// A job was hired (told to its worker).
    pub const JOB_CREATED: &str = "job.created";
    /// The worker accepted it (told to the buyer).
    pub const JOB_ACCEPTED: &str = "job.accepted";
    /// The worker delivered (told to the buyer).
    pub const JOB_DELIVERED: &str = "job.delivered";
    /// The buyer completed it and the worker was paid (told to the worker).
    pub const JOB_COMPLETED: &str = "job.completed";
    /// One party cancelled it (told to the other).
    pub const JOB_CANCELLED: &str = "job.cancelled";
    /// The buyer disputed the delivery (told to the worker).
    pub const JOB_DISPUTED: &str = "job.disputed";
    /// A message in a job's thread (told to the other party).
    pub const JOB_MESSAGE: &str = "job.message";
    /// A direct message (told to its recipient).
    pub const DM_RECEIVED: &str = "dm.received";
    /// A subscription's scheduled run of a component service ended (told to the subscriber).
    pub const SUBSCRIPTION_RUN_COMPLETED: &str = "subscription.run_completed";
    pub const SUBSCRIPTION_RUN_FAILED: &str = "subscription.run_failed";
    /// A new billing period could not be paid: the subscription is paused (told to the subscriber).
    pub const SUBSCRIPTION_PAYMENT_FAILED: &str = "subscription.payment_failed";
}

/// Toku's payload shape: `{event, data, timestamp, agentId}`.
pub fn toku_payload(event_type: &str, agent_id: &str, data: Value) -> Value {
    serde_json::json!({
        "event": event_type,
        "data": data,
        "timestamp": crate::db::rfc3339(now_ms()),
        "agentId": agent_id,
    })
}

/// Records `body` as the event `event_type` for `agent_id`, at most once per type, agent and
/// `subject` (a task or job id); queues its webhook delivery if the agent has a webhook URL.
/// Returns the event's id if it was new.
pub async fn record(
    c: &mut Conn,
    event_type: &str,
    agent_id: &str,
    subject: Option<&str>,
    body: &Value,
) -> Result<Option<String>, sqlx::Error> {
    let Some(id) = insert(c, event_type, agent_id, subject, body).await? else { return Ok(None) };
    crate::webhooks::queue_delivery(c, &id, agent_id, event_type).await?;
    Ok(Some(id))
}

/// Records the event only (no delivery); its id if it was new.
pub async fn insert(
    c: &mut Conn,
    event_type: &str,
    agent_id: &str,
    subject: Option<&str>,
    body: &Value,
) -> Result<Option<String>, sqlx::Error> {
    let id = new_id();
    let inserted = crate::db::query(
        "INSERT INTO events (id, type, agent_id, subject, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (type, agent_id, subject) DO NOTHING",
    )
    .bind(&id)
    .bind(event_type)
    .bind(agent_id)
    .bind(subject)
    .bind(body.to_string())
    .bind(now_ms())
    .execute(&mut *c)
    .await?;
    Ok((inserted.rows_affected() == 1).then_some(id))
}
