//! Agent messaging (toq's API, hosted for many agents): signed identities and addresses
//! (`identity`), messages between agents in threads (`service`), and incoming messages as a
//! live, resumable stream (`live`).

pub mod backup;
pub mod daemon;
pub mod discovery;
pub mod dispatch;
pub mod federation;
pub mod federation_routes;
pub mod handlers;
pub mod identity;
pub mod live;
pub mod logs;
pub mod model;
pub mod peer_routes;
pub mod peers;
pub mod permissions;
pub mod remote_streams;
pub mod routes;
pub mod service;
pub mod store;
pub mod streams;

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::guardrails::GuardrailError;

#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    #[error("{0}")]
    Invalid(String),
    #[error("invalid address: {0}")]
    InvalidAddress(String),
    #[error("the message body is {0} bytes; at most {1} are accepted")]
    TooLarge(usize, u64),
    #[error("no agent at {0}")]
    NoSuchAgent(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    A2aSendFailed(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} does not take your messages")]
    Blocked(String),
    #[error("{0}")]
    NotAccepted(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("this approval is {0}")]
    AlreadyDecided(String),
    #[error("the passphrase does not open this backup")]
    InvalidPassphrase,
    #[error("the envelope is more than {0} ms away from this host's time")]
    StaleEnvelope(i64),
    #[error("the envelope is not the sender's: {0}")]
    InvalidSignature(String),
    #[error("thread {0} is closed")]
    ThreadClosed(String),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    Internal(&'static str),
    #[error(transparent)]
    Guardrail(#[from] GuardrailError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(MessagingError: Db);

/// What a refused `messaging.send` means to the component.
pub fn call_error(e: MessagingError) -> agora_runtime::CallError {
    use agora_runtime::CallError;
    let message = e.to_string();
    match e {
        MessagingError::Invalid(_)
        | MessagingError::InvalidConfig(_)
        | MessagingError::InvalidPassphrase
        | MessagingError::StaleEnvelope(_)
        | MessagingError::InvalidSignature(_)
        | MessagingError::InvalidAddress(_)
        | MessagingError::NotFound(_)
        | MessagingError::ThreadClosed(_) => CallError::Invalid(message),
        MessagingError::TooLarge(..) => CallError::TooLarge(message),
        MessagingError::NoSuchAgent(_) | MessagingError::Unreachable(_) | MessagingError::A2aSendFailed(_) => {
            CallError::Unavailable(message)
        }
        MessagingError::Guardrail(_) | MessagingError::Blocked(_) | MessagingError::NotAccepted(_) => {
            CallError::Denied(message)
        }
        MessagingError::Conflict(_)
        | MessagingError::AlreadyDecided(_)
        | MessagingError::Internal(_)
        | MessagingError::Db(_) => {
            tracing::warn!(error = %message, "a component's message failed");
            CallError::Failed("the host could not send the message".into())
        }
    }
}

impl From<MessagingError> for ApiError {
    fn from(e: MessagingError) -> Self {
        let message = e.to_string();
        match e {
            MessagingError::Invalid(_) => ApiError::invalid(message),
            MessagingError::InvalidAddress(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_address", message),
            MessagingError::TooLarge(..) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "message_too_large", message),
            MessagingError::NoSuchAgent(_) => ApiError::new(StatusCode::NOT_FOUND, "not_reachable", message),
            MessagingError::Unreachable(_) => ApiError::new(StatusCode::BAD_GATEWAY, "not_reachable", message),
            MessagingError::A2aSendFailed(_) => ApiError::new(StatusCode::BAD_GATEWAY, "a2a_send_failed", message),
            MessagingError::NotFound(what) => ApiError::not_found(what),
            MessagingError::Blocked(_) => ApiError::new(StatusCode::FORBIDDEN, "blocked", message),
            MessagingError::NotAccepted(_) => ApiError::new(StatusCode::FORBIDDEN, "not_accepted", message),
            MessagingError::InvalidConfig(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_config", message),
            MessagingError::AlreadyDecided(status) => ApiError::invalid_transition(message, &status),
            MessagingError::InvalidPassphrase => ApiError::new(StatusCode::BAD_REQUEST, "invalid_passphrase", message),
            MessagingError::StaleEnvelope(_) => ApiError::new(StatusCode::BAD_REQUEST, "stale_envelope", message),
            MessagingError::InvalidSignature(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", message)
            }
            MessagingError::ThreadClosed(_) => ApiError::conflict("thread_closed", message),
            MessagingError::Conflict(_) => ApiError::conflict("conflict", message),
            MessagingError::Internal(_) => ApiError::unavailable(message),
            MessagingError::Guardrail(e) => e.into(),
            MessagingError::Db(e) => e.into(),
        }
    }
}
