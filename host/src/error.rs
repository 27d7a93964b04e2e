//! The one error shape of the API: `{"error": {"code": "...", "message": "..."}}`. Each
//! domain's error enum is mapped to it in one place (the domain's `mod.rs`); the shared
//! building blocks (invalid fields, bad queries, lost idempotency claims, database faults)
//! are mapped here.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_secs: Option<u64>,
    pub details: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_request`, `not_found`, `insufficient_funds`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Machine-readable context where there is some (e.g. the execution a failed run made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_secs: None, details: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// 409 `invalid_transition`: the action is not allowed from the resource's status, which
    /// `details.status` gives.
    pub fn invalid_transition(message: impl Into<String>, status: &str) -> Self {
        let mut err = Self::conflict("invalid_transition", message);
        err.details = Some(serde_json::json!({ "status": status }));
        err
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
    fn database_busy() -> Self {
        ApiError { retry_after_secs: Some(1), ..Self::unavailable("database busy, try again") }
    }
    /// The same error under another code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Database failures are never the client's fault: log them with detail, answer 500 or 503 without it.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            // No connection, or still contended after every retry of the transaction: nothing
            // was written, and the same request can succeed in a moment.
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %err, "database unavailable");
                ApiError::database_busy()
            }
            _ if crate::db::tx::is_transient(&err) => {
                tracing::warn!(error = %err, "database contended");
                ApiError::database_busy()
            }
            _ => {
                tracing::error!(error = %err, "database error");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::validate::Invalid> for ApiError {
    fn from(e: crate::validate::Invalid) -> Self {
        ApiError::unprocessable("validation_error", e.to_string())
    }
}

impl From<crate::db::page::BadQuery> for ApiError {
    fn from(e: crate::db::page::BadQuery) -> Self {
        ApiError::bad_request("invalid_query", e.0)
    }
}

impl From<crate::idempotency::IdempotencyError> for ApiError {
    fn from(e: crate::idempotency::IdempotencyError) -> Self {
        match e {
            crate::idempotency::IdempotencyError::Lost => ApiError::conflict("idempotency_in_progress", e.to_string()),
            crate::idempotency::IdempotencyError::Db(e) => e.into(),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        tracing::error!(error = %format!("{err:#}"), "internal error");
        ApiError::internal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database error with a given SQLSTATE (or SQLite result) code.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "database error {}", self.0)
        }
    }
    impl std::error::Error for Coded {}
    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            "coded"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn contention_left_after_the_retries_is_503_with_retry_after_and_other_failures_500() {
        for code in ["40001", "40P01", "55P03", "5"] {
            let e = ApiError::from(sqlx::Error::Database(Box::new(Coded(code))));
            assert_eq!(
                (e.status, e.code, e.retry_after_secs),
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", Some(1))
            );
        }
        let e = ApiError::from(sqlx::Error::PoolTimedOut);
        assert_eq!((e.status, e.retry_after_secs), (StatusCode::SERVICE_UNAVAILABLE, Some(1)));
        let e = ApiError::from(sqlx::Error::Database(Box::new(Coded("23505"))));
        assert_eq!((e.status, e.code, e.retry_after_secs), (StatusCode::INTERNAL_SERVER_ERROR, "internal", None));
    }
}
