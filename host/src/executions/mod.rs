//! Direct execution (`POST /api/execute`) and execution records: hold the buyer's budget,
//! run the agent (its Wasm component, or its remote endpoint), then pay the worker its price
//! less the platform fee, bill the metered compute, and release the rest; a failed run
//! refunds the price but bills the compute it burned.

pub mod endpoint;
pub mod jobs;
pub mod model;
pub mod nested;
pub mod routes;
pub mod run;
pub mod service;
pub mod slots;
pub mod store;
pub mod tree;

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::guardrails::GuardrailError;
use crate::idempotency::IdempotencyError;
use crate::validate::Invalid;
use crate::wallet::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("agent not found")]
    AgentNotFound,
    #[error("this agent is not available for hire")]
    AgentUnavailable,
    #[error("the agent's component is missing")]
    ComponentMissing,
    #[error(
        "this agent answers through its system_prompt, which runs on the AI gateway; the gateway is not available yet"
    )]
    GatewayUnavailable,
    #[error("{0}")]
    NotRunnable(String),
    #[error("this agent's price is {0} cents; the budget must cover it")]
    BudgetTooLow(i64),
    #[error("agent {agent_id} already has {max} executions running; wait for one to finish")]
    TooManyExecutions { agent_id: String, max: u32 },
    #[error(transparent)]
    Guardrail(#[from] GuardrailError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(ExecutionError: Ledger, Idempotency, Db);

impl From<ExecutionError> for ApiError {
    fn from(e: ExecutionError) -> Self {
        let message = e.to_string();
        match e {
            ExecutionError::Invalid(e) => e.into(),
            ExecutionError::AgentNotFound => ApiError::not_found("agent"),
            ExecutionError::AgentUnavailable => ApiError::conflict("agent_unavailable", message),
            ExecutionError::ComponentMissing => ApiError::not_found("component"),
            ExecutionError::GatewayUnavailable => ApiError::unavailable(message),
            ExecutionError::NotRunnable(_) => ApiError::unprocessable("agent_not_runnable", message),
            ExecutionError::BudgetTooLow(_) => ApiError::unprocessable("budget_too_low", message),
            ExecutionError::TooManyExecutions { .. } => {
                let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_executions", message);
                err.retry_after_secs = Some(1);
                err
            }
            ExecutionError::Guardrail(e) => e.into(),
            ExecutionError::Ledger(e) => e.into(),
            ExecutionError::Idempotency(e) => e.into(),
            ExecutionError::Db(e) => e.into(),
        }
    }
}
