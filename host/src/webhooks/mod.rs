//! Webhooks: each agent's signing secrets, the deliveries of its events (each attempt
//! recorded), signing (Standard Webhooks and AgentMarket), the dispatcher that sends them, and
//! the routes
//! (Toku's `/api/agents/me/webhooks`, the deliveries log and replays).

pub mod deliver;
pub mod dispatch;
pub mod model;
pub mod routes;
pub mod service;
pub mod signing;
pub mod store;

use crate::db::Conn;
use axum::http::StatusCode;

use crate::agents::AgentError;
use crate::db::new_id;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Invalid(#[from] crate::validate::Invalid),
    #[error("delivery not found")]
    NotFound,
    #[error("set a webhook URL first")]
    NoWebhook,
}

crate::transient_through!(WebhookError: Agent, Db);

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Agent(e) => e.into(),
            WebhookError::Db(e) => e.into(),
            WebhookError::Invalid(e) => e.into(),
            WebhookError::NotFound => ApiError::not_found("delivery"),
            WebhookError::NoWebhook => ApiError::new(StatusCode::CONFLICT, "no_webhook", e.to_string()),
        }
    }
}

/// Queues the delivery of a just-recorded event, in the same transaction, if its agent has a
/// webhook URL: the dispatcher sends it once the transaction commits.
pub async fn queue_delivery(c: &mut Conn, event_id: &str, agent_id: &str, event_type: &str) -> Result<(), sqlx::Error> {
    store::insert_delivery(c, &new_id(), event_id, agent_id, event_type, true).await.map(drop)
}
