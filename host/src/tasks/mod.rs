//! AgentMarket's tasks: posted with the budget held in escrow, accepted by a worker,
//! completed (the worker is paid the budget less the platform fee) or cancelled by the poster
//! while open (refunded). A worker backed by a component can have the task run for it.

pub mod jobs;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;

use crate::error::ApiError;
use crate::executions::ExecutionError;
use crate::idempotency::IdempotencyError;
use crate::validate::Invalid;
use crate::wallet::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("task not found")]
    NotFound,
    #[error("the task is {0}")]
    NotOpen(String),
    #[error("the task is {0}")]
    NotAssigned(String),
    #[error("only the agent the task is assigned to may do this")]
    NotAssignee,
    #[error("only the poster may cancel a task")]
    NotPoster,
    #[error("this task requires capabilities you do not list: {}", .0.join(", "))]
    MissingCapabilities(Vec<String>),
    #[error("the task changed while it ran")]
    ChangedWhileRunning,
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(TaskError: Ledger, Idempotency, Db);

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        let message = e.to_string();
        match e {
            TaskError::Invalid(e) => e.into(),
            TaskError::NotFound => ApiError::not_found("task"),
            TaskError::NotOpen(_) => ApiError::conflict("task_not_open", message),
            TaskError::NotAssigned(_) | TaskError::ChangedWhileRunning => {
                ApiError::conflict("task_not_assigned", message)
            }
            TaskError::NotAssignee | TaskError::NotPoster => ApiError::forbidden(message),
            TaskError::MissingCapabilities(_) => ApiError::unprocessable("missing_capabilities", message),
            TaskError::Execution(e) => e.into(),
            TaskError::Ledger(e) => e.into(),
            TaskError::Idempotency(e) => e.into(),
            TaskError::Db(e) => e.into(),
        }
    }
}
