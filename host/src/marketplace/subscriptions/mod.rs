//! Toku's subscriptions: a buyer subscribes to a `SUBSCRIPTION` service, pays it by the month
//! through escrow (`billing`), and the service runs every `runIntervalHours` (`runs`): the
//! provider's component, or a job for the provider.

pub mod billing;
pub mod model;
pub mod routes;
pub mod runs;
pub mod service;
pub mod store;

use crate::db::page::BadQuery;
use crate::error::ApiError;
use crate::executions::ExecutionError;
use crate::idempotency::IdempotencyError;
use crate::validate::Invalid;
use crate::wallet::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    BadQuery(#[from] BadQuery),
    #[error("subscription not found")]
    NotFound,
    #[error("service not found")]
    ServiceNotFound,
    #[error("{0}")]
    Unavailable(String),
    #[error("only the subscriber may change a subscription")]
    NotSubscriber,
    #[error("cannot {action} a subscription that is {status}")]
    Transition { action: &'static str, status: String },
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(SubscriptionError: Ledger, Idempotency, Db);

impl From<SubscriptionError> for ApiError {
    fn from(e: SubscriptionError) -> Self {
        let message = e.to_string();
        match e {
            SubscriptionError::Invalid(e) => e.into(),
            SubscriptionError::BadQuery(e) => e.into(),
            SubscriptionError::NotFound => ApiError::not_found("subscription"),
            SubscriptionError::ServiceNotFound => ApiError::not_found("service"),
            SubscriptionError::Unavailable(_) => ApiError::conflict("service_unavailable", message),
            SubscriptionError::NotSubscriber => ApiError::forbidden(message),
            SubscriptionError::Transition { status, .. } => ApiError::invalid_transition(message, &status),
            SubscriptionError::Execution(e) => e.into(),
            SubscriptionError::Ledger(e) => e.into(),
            SubscriptionError::Idempotency(e) => e.into(),
            SubscriptionError::Db(e) => e.into(),
        }
    }
}
