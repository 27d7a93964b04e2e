//! Per-request hygiene: a client's request id is kept only when it is short and plain, and
//! every request has a deadline.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::App;

/// Longest client-sent `x-request-id` kept; a longer or odd one is replaced by a fresh id.
pub const MAX_REQUEST_ID_LEN: usize = 128;

fn acceptable_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(b))
}

/// Drops an `x-request-id` that is too long or holds other than plain characters, so that
/// what is echoed and logged stays small and clean.
pub async fn sanitize_request_id(mut req: Request, next: Next) -> Response {
    let bad = req.headers().get("x-request-id").is_some_and(|v| !acceptable_request_id(v.as_bytes()));
    if bad {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// Ends a request that takes longer than the configured limit (a slow upload included) with
/// 408; dropping the handler rolls back any transaction it had open.
pub async fn deadline(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let limit = Duration::from_millis(app.config.server.request_timeout_ms);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert!(acceptable_request_id(b"7e76b1b5-bbd9-4453-8de3-c637b365d5d8"));
        assert!(acceptable_request_id(b"trace:abc/1"));
        assert!(!acceptable_request_id(&[b'a'; 129]));
        assert!(!acceptable_request_id(b""));
        assert!(!acceptable_request_id(b"two words"));
        assert!(!acceptable_request_id(b"line\nbreak"));
    }
}
