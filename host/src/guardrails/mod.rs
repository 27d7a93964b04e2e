//! Action guardrails (Tokaroo's Action Guardrails API): policies decide whether an action an
//! agent is about to take is allowed, denied or needs a person's approval; approvals wait for
//! that person; every check and decision is written to an append-only audit log.
//!
//! An operator's policies cover every account's actions; an account's cover its own and can
//! only make the operator's stricter (`evaluate` documents the rule). The host's own actions
//! pass the same policies (`enforce`).

pub mod cache;
pub mod check;
pub mod enforce;
pub mod evaluate;
pub mod listing;
pub mod model;
pub mod modules;
pub mod routes;
pub mod service;
pub mod store;

use serde_json::json;

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum GuardrailError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the policy's settings are refused: {0}")]
    InvalidSettings(String),
    #[error("this approval expired before it was decided")]
    Expired,
    #[error("this approval was already decided: {0}")]
    AlreadyDecided(String),
    #[error("refused by policy: {reason}")]
    Denied { reason: String, audit_id: String, policy_id: Option<String> },
    #[error("this action needs approval {approval_id} first: {reason}")]
    ApprovalRequired { reason: String, audit_id: String, policy_id: Option<String>, approval_id: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(GuardrailError: Db);

impl From<GuardrailError> for ApiError {
    fn from(e: GuardrailError) -> ApiError {
        let message = e.to_string();
        match e {
            GuardrailError::Invalid(_) => ApiError::invalid(message),
            GuardrailError::Forbidden(_) => ApiError::forbidden(message),
            GuardrailError::NotFound(what) => ApiError::not_found(what),
            GuardrailError::InvalidSettings(_) => ApiError::unprocessable("invalid_settings", message),
            GuardrailError::Expired => ApiError::conflict("approval_expired", message),
            GuardrailError::AlreadyDecided(status) => ApiError::invalid_transition(message, &status),
            GuardrailError::Denied { reason, audit_id, policy_id } => {
                let mut err = ApiError::forbidden(message).with_code("policy_denied");
                err.details = Some(json!({"reason": reason, "audit_id": audit_id, "policy_id": policy_id}));
                err
            }
            GuardrailError::ApprovalRequired { reason, audit_id, policy_id, approval_id } => {
                let mut err = ApiError::forbidden(message).with_code("approval_required");
                err.details = Some(
                    json!({"reason": reason, "audit_id": audit_id, "policy_id": policy_id, "approval_id": approval_id}),
                );
                err
            }
            GuardrailError::Db(e) => e.into(),
        }
    }
}
