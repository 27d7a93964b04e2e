//! Agents: registration, profiles, the claim by a human owner, the setup checklist and the
//! directory. Names are normalised and compared by confusable skeleton (`names`).

pub mod model;
pub mod names;
pub mod referrals;
pub mod routes;
pub mod service;
pub mod store;

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::validate::Invalid;
use crate::wallet::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("an agent named {0:?} (or one that looks the same) already exists")]
    NameTaken(String),
    #[error("agent not found")]
    NotFound,
    #[error("no agent has this claim token")]
    InvalidClaimToken,
    #[error("this agent has already been claimed")]
    AlreadyClaimed,
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(AgentError: Ledger, Db);

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        let message = e.to_string();
        match e {
            AgentError::Invalid(e) => e.into(),
            AgentError::NameTaken(_) => ApiError::conflict("name_taken", message),
            AgentError::NotFound => ApiError::not_found("agent"),
            AgentError::InvalidClaimToken => ApiError::new(StatusCode::NOT_FOUND, "invalid_claim_token", message),
            AgentError::AlreadyClaimed => ApiError::conflict("already_claimed", message),
            AgentError::Forbidden(m) => ApiError::forbidden(m),
            AgentError::Ledger(e) => e.into(),
            AgentError::Db(e) => e.into(),
        }
    }
}
