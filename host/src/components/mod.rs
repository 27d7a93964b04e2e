//! Components: publishers' signing keys, publishing (validated, signed, content-addressed,
//! compiled once, within per-agent quotas), the component catalogue and paid trial runs.

pub mod cache;
pub mod model;
pub mod routes;
pub mod service;
pub mod signing;
pub mod store;
pub mod trial;

use agora_runtime::ComponentError;
use axum::http::StatusCode;

use crate::error::ApiError;
use crate::executions::ExecutionError;
use crate::idempotency::IdempotencyError;
use crate::validate::Invalid;
use crate::wallet::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum ComponentsError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Component(#[from] ComponentError),
    #[error("component not found")]
    NotFound,
    #[error("you already published {0} {1}")]
    VersionExists(String, String),
    #[error("the signature does not verify with any of your registered signing keys for these bytes")]
    InvalidSignature,
    #[error("sign the component's SHA-256 digest with a registered key (agora publish does this)")]
    SignatureRequired,
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("this public key is registered to another agent")]
    KeyTaken,
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(ComponentsError: Ledger, Idempotency, Db);

impl From<ComponentError> for ApiError {
    fn from(e: ComponentError) -> Self {
        let msg = e.to_string();
        match e {
            ComponentError::NotAComponent(_) | ComponentError::Compile(_) => {
                ApiError::bad_request("invalid_component", msg)
            }
            ComponentError::WrongWorld(_) => ApiError::bad_request("wrong_world", msg),
            ComponentError::TooLarge { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "component_too_large", msg),
            ComponentError::MemoryTooLarge { .. } => ApiError::unprocessable("component_memory_too_large", msg),
        }
    }
}

impl From<ComponentsError> for ApiError {
    fn from(e: ComponentsError) -> Self {
        let message = e.to_string();
        match e {
            ComponentsError::Invalid(e) => e.into(),
            ComponentsError::Component(e) => e.into(),
            ComponentsError::NotFound => ApiError::not_found("component"),
            ComponentsError::VersionExists(..) => ApiError::conflict("version_exists", message),
            ComponentsError::InvalidSignature => ApiError::unprocessable("invalid_signature", message),
            ComponentsError::SignatureRequired => ApiError::unprocessable("signature_required", message),
            ComponentsError::QuotaExceeded(_) => ApiError::conflict("quota_exceeded", message),
            ComponentsError::KeyTaken => ApiError::conflict("key_taken", message),
            ComponentsError::Unavailable(m) => ApiError::unavailable(m),
            ComponentsError::Internal(m) => {
                tracing::error!(error = %m, "components");
                ApiError::internal()
            }
            ComponentsError::Execution(e) => e.into(),
            ComponentsError::Ledger(e) => e.into(),
            ComponentsError::Idempotency(e) => e.into(),
            ComponentsError::Db(e) => e.into(),
        }
    }
}
