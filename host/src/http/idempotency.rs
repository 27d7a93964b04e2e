//! `Idempotency-Key` for money-moving POSTs, with Stripe's semantics: the first response
//! for a key is stored and replayed for every retry with the same key and the same request;
//! the same key with a different request is 422; a retry while the first is still running is
//! 409. Keys are scoped to the caller's API key and kept for 24 hours.
//!
//! A key is claimed (inserted) before the request runs, so two concurrent requests with one
//! key can never both execute. If the process dies after the money moved but before the
//! response was stored, the key stays claimed and retries answer 409 rather than pay twice.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::app::App;
use crate::db::now_ms;
use crate::error::ApiError;
use crate::http::auth::{hash_secret, presented_key};

pub const RETENTION_MS: i64 = 24 * 3600 * 1000;

pub async fn idempotent(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    match run(&app, req, next).await {
        Ok(resp) | Err(resp) => resp,
    }
}

async fn run(app: &App, req: Request, next: Next) -> Result<Response, Response> {
    let Some(key) = req.headers().get("idempotency-key") else {
        return Ok(next.run(req).await);
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .into_response()
        })?
        .to_string();
    let scope = presented_key(req.headers()).map(hash_secret).unwrap_or_else(|| "anonymous".into());

    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, app.config.max_body_bytes).await.map_err(|_| {
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
    let now = now_ms();
    // Claim the key; a record past retention is claimed over (the background purge may not
    // have removed it yet).
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope, idem_key) DO UPDATE SET request_hash = excluded.request_hash, \
         status_code = NULL, response_body = NULL, created_at = excluded.created_at \
         WHERE idempotency_keys.created_at < $5",
    )
    .bind(&scope)
    .bind(&key)
    .bind(&request_hash)
    .bind(now)
    .bind(now - RETENTION_MS)
    .execute(&app.db.write)
    .await
    .map_err(db_err)?
    .rows_affected()
        == 1;

    if !claimed {
        let row = sqlx::query(
            "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE scope = $1 AND idem_key = $2",
        )
        .bind(&scope)
        .bind(&key)
        .fetch_one(&app.db.read)
        .await
        .map_err(db_err)?;
        if row.get::<String, _>(0) != request_hash {
            return Err(ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            )
            .into_response());
        }
        return match (row.get::<Option<i64>, _>(1), row.get::<Option<String>, _>(2)) {
            (Some(status), Some(body)) => Ok(replay(status, body)),
            _ => Err(ApiError::conflict(
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response()),
        };
    }

    let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = resp.status();
    let (resp_parts, resp_body) = resp.into_parts();
    let resp_bytes = to_bytes(resp_body, usize::MAX).await.unwrap_or_default();
    // Outcomes that never started executing (auth, concurrency, throttling, server faults)
    // are not stored, so the same key may be retried.
    let keep = !(status.is_server_error() || matches!(status.as_u16(), 401 | 403 | 409 | 429));
    let stored = if keep {
        sqlx::query(
            "UPDATE idempotency_keys SET status_code = $1, response_body = $2 WHERE scope = $3 AND idem_key = $4",
        )
        .bind(i64::from(status.as_u16()))
        .bind(String::from_utf8_lossy(&resp_bytes).into_owned())
        .bind(&scope)
        .bind(&key)
        .execute(&app.db.write)
        .await
    } else {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2")
            .bind(&scope)
            .bind(&key)
            .execute(&app.db.write)
            .await
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "could not record idempotent response");
    }
    Ok(Response::from_parts(resp_parts, Body::from(resp_bytes)))
}

fn replay(status: i64, body: String) -> Response {
    let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}

/// Forgets keys older than the retention period.
pub async fn purge_expired(app: &App) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(now_ms() - RETENTION_MS)
        .execute(&app.db.write)
        .await?
        .rows_affected())
}
