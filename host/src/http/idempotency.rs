//! `Idempotency-Key` on money-moving POSTs (the storage and its guarantees are in
//! `crate::idempotency`). The same key with the same request replays the first answer; with a
//! different request it is 422; while the first still runs it is 409.
//!
//! The middleware claims the key and hands the claim to the handler (a request extension) so
//! that the operation records its answer in its own transaction; while the handler runs it
//! renews the claim's lease. Afterwards it answers with what was committed. An outcome the
//! operation did not record changed nothing: a refusal (4xx) is stored for replay, anything
//! that never started executing (auth, throttling, timeouts, server faults, conflicts)
//! releases the key so that it can be retried.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::http::auth::presented_key;
use crate::idempotency::{self, Claim, Claimed, Recorded};
use crate::secrets::hash_secret;
use crate::state::App;

pub async fn idempotent(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    match run(&app, req, next).await {
        Ok(resp) | Err(resp) => resp,
    }
}

/// The key as sent, if any; 400 if it is not 1 to 255 visible ASCII characters.
fn key_of(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else { return Ok(None) };
    value.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 255).map(|k| Some(k.to_string())).ok_or_else(|| {
        ApiError::bad_request("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 visible ASCII characters")
    })
}

async fn run(app: &App, req: Request, next: Next) -> Result<Response, Response> {
    let Some(key) = key_of(&req).map_err(IntoResponse::into_response)? else { return Ok(next.run(req).await) };
    let scope = presented_key(req.headers()).map(hash_secret).unwrap_or_else(|| "anonymous".into());
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, app.config.server.max_body_bytes as usize).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "request body is too large").into_response()
    })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or(""));
    hasher.update([0]);
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());

    let db_err = |e: sqlx::Error| ApiError::from(e).into_response();
    let lease = Duration::from_millis(app.config.server.idempotency_lease_ms);
    let claim = match idempotency::claim(&app.db, &scope, &key, &request_hash, lease).await.map_err(db_err)? {
        Claimed::Fresh(claim) => Arc::new(claim),
        Claimed::Replay(answer) => return Ok(replay(answer)),
        Claimed::Reused => {
            return Err(ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            )
            .into_response())
        }
        Claimed::InProgress => {
            return Err(ApiError::conflict(
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response())
        }
    };

    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(IdempotencyClaim(claim.clone()));
    let resp = keep_leased(app, &claim, next.run(req)).await;

    if let Some(answer) = claim.committed(&app.db).await.map_err(db_err)? {
        return Ok(answer_response(answer, false));
    }
    let status = resp.status();
    let (resp_parts, resp_body) = resp.into_parts();
    let resp_bytes = to_bytes(resp_body, usize::MAX).await.unwrap_or_default();
    // Not recorded by the operation: a refusal that changed nothing (or, defensively, a
    // success an operation failed to record) is kept; what never ran is released.
    let keep = !(status.is_server_error() || matches!(status.as_u16(), 401 | 403 | 409 | 429));
    let kept = if keep {
        let answer = Recorded { status: status.as_u16(), body: String::from_utf8_lossy(&resp_bytes).into_owned() };
        claim.record(&app.db, answer).await.map_err(|e| e.to_string())
    } else {
        claim.release(&app.db).await.map_err(|e| e.to_string())
    };
    if let Err(e) = kept {
        tracing::error!(error = %e, "could not settle an idempotency key");
    }
    Ok(Response::from_parts(resp_parts, Body::from(resp_bytes)))
}

/// Runs the handler, renewing the claim's lease meanwhile.
async fn keep_leased(app: &App, claim: &Claim, handler: impl std::future::Future<Output = Response>) -> Response {
    tokio::pin!(handler);
    let mut tick = tokio::time::interval(claim.renew_every());
    tick.tick().await;
    loop {
        tokio::select! {
            resp = &mut handler => return resp,
            _ = tick.tick() => {
                if let Err(e) = claim.renew(&app.db).await {
                    tracing::warn!(error = %e, "could not renew an idempotency lease");
                }
            }
        }
    }
}

fn answer_response(answer: Recorded, replayed: bool) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, answer.body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

fn replay(answer: Recorded) -> Response {
    answer_response(answer, true)
}

/// The claim of the request's `Idempotency-Key`, for a handler to pass to its operation.
#[derive(Clone)]
pub struct IdempotencyClaim(pub Arc<Claim>);

/// `Option<IdempotencyClaim>` as an extractor.
pub struct MaybeClaim(pub Option<Arc<Claim>>);

impl MaybeClaim {
    pub fn get(&self) -> Option<&Claim> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeClaim {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeClaim(parts.extensions.get::<IdempotencyClaim>().map(|c| c.0.clone())))
    }
}

/// The answer of a successful operation: status and JSON body.
pub fn json_answer<T: serde::Serialize>(status: StatusCode, body: &T) -> Recorded {
    Recorded { status: status.as_u16(), body: serde_json::to_string(body).unwrap_or_default() }
}

/// The answer of a failed operation, in the API's error shape.
pub fn error_answer(error: &ApiError) -> Recorded {
    json_answer(error.status, &error.body())
}
