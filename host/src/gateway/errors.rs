//! The gateway's errors, and OpenAI's error body for the `/v1` routes, so that OpenAI clients
//! raise the right exception: `{"error": {"message", "type", "param", "code"}}` with the
//! status first (401 `AuthenticationError`, 402, 429 `RateLimitError`, 503
//! `InternalServerError`, ...). `x-should-retry: false` goes with answers a retry cannot change.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::model::micros_to_usd;
use crate::error::ApiError;
use crate::wallet::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("billing required: the balance is empty; add credits first")]
    BillingRequired,
    #[error("insufficient balance: this request may cost up to ${:.6}", micros_to_usd(*.required_micros))]
    InsufficientBalance { balance_cents: i64, required_micros: i64 },
    #[error("workspace {workspace} would pass its monthly budget of ${:.2}", micros_to_usd(*.budget_micros))]
    BudgetExceeded { workspace: String, budget_micros: i64 },
    #[error("{0}")]
    NoProvider(String),
    #[error("{message}")]
    Upstream { status: u16, message: String },
    #[error(transparent)]
    Ledger(LedgerError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(GatewayError: Ledger, Db);

impl From<LedgerError> for GatewayError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Db(e) => GatewayError::Db(e),
            other => GatewayError::Ledger(other),
        }
    }
}

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> ApiError {
        let message = e.to_string();
        match e {
            GatewayError::Invalid(_) => ApiError::invalid(message),
            GatewayError::NotFound(what) => ApiError::not_found(what),
            GatewayError::Conflict(_) => ApiError::conflict("conflict", message),
            GatewayError::BillingRequired => payment(message, "billing_required", 0, None),
            GatewayError::InsufficientBalance { balance_cents, required_micros } => {
                payment(message, "insufficient_balance", balance_cents, Some(required_micros))
            }
            GatewayError::BudgetExceeded { budget_micros, .. } => {
                let mut err = ApiError::new(StatusCode::PAYMENT_REQUIRED, "budget_exceeded", message);
                err.details = Some(json!({"monthly_budget_usd": micros_to_usd(budget_micros)}));
                err
            }
            GatewayError::NoProvider(_) => ApiError::unavailable(message).with_code("provider_not_configured"),
            GatewayError::Upstream { status, .. } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                ApiError::new(status, "upstream_error", message)
            }
            GatewayError::Ledger(e) => e.into(),
            GatewayError::Db(e) => e.into(),
        }
    }
}

fn payment(message: String, code: &'static str, balance_cents: i64, required_micros: Option<i64>) -> ApiError {
    let mut err = ApiError::new(StatusCode::PAYMENT_REQUIRED, code, message);
    let mut details = json!({"balance_usd": balance_cents as f64 / 100.0, "payment_url": "/v1/billing/checkout"});
    if let Some(r) = required_micros {
        details["required_usd"] = json!(micros_to_usd(r));
    }
    err.details = Some(details);
    err
}

/// An error answered in OpenAI's shape.
pub struct OpenAiError(pub ApiError);

impl<E: Into<ApiError>> From<E> for OpenAiError {
    fn from(e: E) -> Self {
        OpenAiError(e.into())
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let kind = match e.status.as_u16() {
            400 | 413 | 415 | 422 => "invalid_request_error",
            401 => "authentication_error",
            402 => "billing_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            _ => "api_error",
        };
        let mut error = json!({"message": e.message, "type": kind, "param": null, "code": e.code});
        if let Some(serde_json::Value::Object(details)) = &e.details {
            for (k, v) in details {
                error[k] = v.clone();
            }
        }
        let retry_cannot_help =
            matches!(e.code, "provider_not_configured" | "budget_exceeded") || e.status == StatusCode::PAYMENT_REQUIRED;
        let mut resp = (e.status, axum::Json(json!({ "error": error }))).into_response();
        if retry_cannot_help {
            resp.headers_mut().insert("x-should-retry", HeaderValue::from_static("false"));
        }
        if let Some(secs) = e.retry_after_secs {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
