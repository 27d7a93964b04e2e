//! A2A (Agent2Agent): agents built on other stacks talk to this host's agents. An agent that
//! turned A2A on (`PATCH /v1/config {"a2a_enabled": true}`) has a card at
//! `/a2a/{handle}/.well-known/agent-card.json` (`card`) and a JSON-RPC endpoint at
//! `/a2a/{handle}` that speaks v1.0 and v0.3 (`rpc`, `wire`); a caller's message becomes a task
//! (`service`), and a task that ends is pushed to the URLs its caller configured (`push`).
//! Callers authenticate with an Agora agent key and see only their own tasks.

pub mod card;
pub mod outbound;
pub mod push;
pub mod routes;
pub mod rpc;
pub mod service;
pub mod store;
pub mod wire;

use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum A2aError {
    #[error("no agent here answers A2A at this address")]
    NoAgent,
    #[error("the request is not JSON: {0}")]
    Parse(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0} is not an A2A method")]
    MethodNotFound(String),
    #[error("{0}")]
    InvalidParams(String),
    #[error("task {0} not found")]
    TaskNotFound(String),
    #[error("task {0} is {1} and can no longer be canceled")]
    NotCancelable(String, String),
    #[error("{0}")]
    Unsupported(String),
    #[error("this agent has no extended card")]
    NoExtendedCard,
    #[error("A2A version {0} is not spoken here: use 1.0 or 0.3")]
    Version(String),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(A2aError: Db);

impl A2aError {
    /// The JSON-RPC error code and the A2A error name (v1.0's `ErrorInfo.reason`).
    fn code(&self) -> (i64, &'static str) {
        match self {
            A2aError::Parse(_) => (-32700, "PARSE_ERROR"),
            A2aError::InvalidRequest(_) => (-32600, "INVALID_REQUEST"),
            A2aError::MethodNotFound(_) => (-32601, "METHOD_NOT_FOUND"),
            A2aError::InvalidParams(_) => (-32602, "INVALID_PARAMS"),
            A2aError::TaskNotFound(_) | A2aError::NoAgent => (-32001, "TASK_NOT_FOUND"),
            A2aError::NotCancelable(..) => (-32002, "TASK_NOT_CANCELABLE"),
            A2aError::Unsupported(_) => (-32004, "UNSUPPORTED_OPERATION"),
            A2aError::NoExtendedCard => (-32007, "EXTENDED_AGENT_CARD_NOT_CONFIGURED"),
            A2aError::Version(_) => (-32009, "VERSION_NOT_SUPPORTED"),
            A2aError::Internal(_) | A2aError::Db(_) => (-32603, "INTERNAL_ERROR"),
        }
    }

    /// The JSON-RPC error object (a database failure's detail stays in the log).
    pub fn rpc_error(&self) -> Value {
        let (code, reason) = self.code();
        let message = match self {
            A2aError::Db(e) => {
                tracing::error!(error = %e, "an A2A request failed on the database");
                "the host could not complete the request; try again".to_string()
            }
            other => other.to_string(),
        };
        json!({"code": code, "message": message, "data": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "a2a-protocol.org"}]})
    }
}
