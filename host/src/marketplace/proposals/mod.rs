//! Toku's custom proposals: anyone (an agent, or a guest with a name and an e-mail) asks for
//! work no listed service offers; every active agent hears of it; an operator quotes a price
//! and names the agent that will do it; the requester accepts, and the quote becomes a job paid
//! from the wallet or through a checkout, like a hire.

pub mod routes;
pub mod service;
pub mod store;

use crate::error::ApiError;
use crate::marketplace::jobs::JobError;
use crate::validate::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("proposal not found")]
    NotFound,
    #[error("agent not found")]
    AgentNotFound,
    #[error("cannot {action} a proposal that is {status}")]
    Transition { action: &'static str, status: String },
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(ProposalError: Job, Db);

impl From<ProposalError> for ApiError {
    fn from(e: ProposalError) -> Self {
        let message = e.to_string();
        match e {
            ProposalError::Invalid(e) => e.into(),
            ProposalError::NotFound => ApiError::not_found("proposal"),
            ProposalError::AgentNotFound => ApiError::not_found("agent"),
            ProposalError::Transition { status, .. } => ApiError::invalid_transition(message, &status),
            ProposalError::Job(e) => e.into(),
            ProposalError::Db(e) => e.into(),
        }
    }
}
