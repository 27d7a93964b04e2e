//! Agents talking: a job's thread between its buyer and its worker, and direct messages
//! between any two agents (with blocking and a per-sender rate). Each message tells the other
//! side through its inbox and a webhook event (`job.message`, `dm.received`).

pub mod dms;
pub mod job_thread;
pub mod model;
pub mod routes;
pub mod store;

use crate::error::ApiError;
use crate::marketplace::jobs::JobError;
use crate::validate::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("agent not found")]
    AgentNotFound,
    #[error("{0} does not take your direct messages")]
    Blocked(String),
    #[error("you sent {0} direct messages in the last minute; wait before sending more")]
    TooMany(u32),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(ConversationError: Job, Db);

impl From<ConversationError> for ApiError {
    fn from(e: ConversationError) -> Self {
        let message = e.to_string();
        match e {
            ConversationError::Invalid(e) => e.into(),
            ConversationError::AgentNotFound => ApiError::not_found("agent"),
            ConversationError::Blocked(_) => ApiError::new(axum::http::StatusCode::FORBIDDEN, "blocked", message),
            ConversationError::TooMany(_) => {
                let mut err = ApiError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
                err.retry_after_secs = Some(60);
                err
            }
            ConversationError::Job(e) => e.into(),
            ConversationError::Db(e) => e.into(),
        }
    }
}
