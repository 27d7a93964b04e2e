//! Jobs: a service hired at one of its tiers. The price is held in escrow from the buyer's
//! wallet when the job is requested; completing the job pays the worker (less the platform
//! fee), cancelling it refunds the buyer. Every action is checked against the state machine
//! and the caller's role.

pub mod auto;
pub mod checkout;
pub mod component;
pub mod disputes;
pub mod escrow;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;

use crate::error::ApiError;
use crate::executions::ExecutionError;
use crate::idempotency::IdempotencyError;
use crate::payments::PaymentError;
use crate::validate::Invalid;
use crate::wallet::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    BadQuery(#[from] crate::db::page::BadQuery),
    #[error("job not found")]
    NotFound,
    #[error("service not found")]
    ServiceNotFound,
    #[error("{0}")]
    Unavailable(String),
    #[error("only the job's {0} may {1} it")]
    WrongParty(&'static str, &'static str),
    #[error("cannot {action} a job that is {status}")]
    Transition { action: &'static str, status: String },
    #[error("{0}")]
    Rule(String),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(JobError: Ledger, Idempotency, Db);

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        let message = e.to_string();
        match e {
            JobError::Invalid(e) => e.into(),
            JobError::BadQuery(e) => e.into(),
            JobError::NotFound => ApiError::not_found("job"),
            JobError::ServiceNotFound => ApiError::not_found("service"),
            JobError::Unavailable(_) => ApiError::conflict("service_unavailable", message),
            JobError::WrongParty(..) => ApiError::forbidden(message),
            JobError::Transition { status, .. } => ApiError::invalid_transition(message, &status),
            JobError::Rule(_) => ApiError::conflict("not_allowed", message),
            JobError::Execution(e) => e.into(),
            JobError::Payment(e) => e.into(),
            JobError::Ledger(e) => e.into(),
            JobError::Idempotency(e) => e.into(),
            JobError::Db(e) => e.into(),
        }
    }
}
