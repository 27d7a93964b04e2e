//! The OpenAI-compatible runtime routes: chat completions (whole and streamed), embeddings,
//! models, and the public price catalogue. Errors are in OpenAI's shape.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::payer;
use crate::gateway::chat::{self, CacheUse};
use crate::gateway::model::micros_to_usd;
use crate::gateway::upstreams::{catalogue, CatalogueEntry};
use crate::gateway::{embeddings, stream, GatewayError, OpenAiError};
use crate::http::auth::AccountAuth;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(chat_completions))
        .routes(routes!(create_embeddings))
        .routes(routes!(models))
        .routes(routes!(pricing))
}

pub(super) fn json_body(bytes: &Bytes) -> Result<Value, OpenAiError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| GatewayError::Invalid(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(GatewayError::Invalid("the body must be a JSON object".into()).into());
    }
    Ok(value)
}

/// `Cache-Control: no-cache` skips reading the cache, `no-store` reading and writing.
fn cache_use(headers: &HeaderMap) -> CacheUse {
    let control = headers.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let has = |d: &str| control.split(',').any(|part| part.trim().eq_ignore_ascii_case(d));
    CacheUse { read: !has("no-cache") && !has("no-store"), write: !has("no-store") }
}

pub(super) fn usd_header(micros: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("{:.6}", micros_to_usd(micros))).unwrap_or(HeaderValue::from_static("0"))
}

fn cache_header(hit: bool) -> HeaderValue {
    HeaderValue::from_static(if hit { "hit" } else { "miss" })
}

/// An OpenAI-compatible chat completion, routed by mode (`auto`, `fast`, `max`, or a native
/// model name). `stream: true` answers server-sent events in OpenAI's chunk format.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, description = "OpenAI's chat completion request"),
    responses((status = 200, description = "A chat.completion, or a text/event-stream of chunks", body = Object),
        (status = 402, description = "billing_required, insufficient_balance or budget_exceeded"),
        (status = 404, description = "Not found"),
        (status = 502, description = "Every upstream failed"), (status = 503, description = "No provider configured"),
        (status = 504, description = "The upstream timed out")))]
async fn chat_completions(
    State(app): State<Arc<App>>,
    who: AccountAuth,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OpenAiError> {
    let payer = payer(&who);
    let body = json_body(&body)?;
    let metadata = body.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or(json!({}));
    let prepared = chat::prepare(&app, &payer, body).await?;
    let cache = cache_use(&headers);
    if prepared.shape.stream {
        let started = stream::start(app.clone(), payer, prepared, cache, metadata).await?;
        let events = futures::stream::unfold(started.events, |mut rx| async move {
            rx.recv().await.map(|bytes| (Ok::<_, std::convert::Infallible>(bytes), rx))
        });
        let mut resp = Response::new(Body::from_stream(events));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert("x-tokaroo-cache", cache_header(started.cache_hit));
        return Ok(resp);
    }
    let answered = chat::complete(&app, &payer, prepared, cache, &metadata).await?;
    let mut resp = Json(answered.body).into_response();
    resp.headers_mut().insert("x-tokaroo-cache", cache_header(answered.cache_hit));
    resp.headers_mut().insert("x-tokaroo-cost", usd_header(answered.charged_micros));
    Ok(resp)
}

/// OpenAI-compatible embeddings (default model `text-embedding-3-small`); `encoding_format:
/// base64` gives little-endian float32 vectors in base64.
#[utoipa::path(post, path = "/v1/embeddings", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, description = "OpenAI's embeddings request"),
    responses((status = 200, body = Object), (status = 402, description = "Billing required"),
        (status = 502, description = "Every upstream failed"), (status = 503, description = "No provider configured"),
        (status = 504, description = "The upstream timed out")))]
async fn create_embeddings(
    State(app): State<Arc<App>>,
    who: AccountAuth,
    body: Bytes,
) -> Result<Response, OpenAiError> {
    let payer = payer(&who);
    let body = json_body(&body)?;
    let metadata = json!({});
    Ok(Json(embeddings::embed(&app, &payer, &body, &metadata).await?).into_response())
}

/// The model ids a client may ask for: the three modes.
#[utoipa::path(get, path = "/v1/models", tag = "gateway", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
async fn models(_who: AccountAuth) -> Json<Value> {
    let data: Vec<Value> = ["auto", "fast", "max"]
        .iter()
        .map(|id| json!({"id": id, "object": "model", "owned_by": "agora", "created": 0}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct PricingList {
    object: &'static str,
    data: &'static [CatalogueEntry],
    /// When the shipped prices were last checked; null: as shipped with this version.
    researched_at: Option<String>,
}

/// The reference price catalogue shipped with the host (public).
#[utoipa::path(get, path = "/v1/pricing", tag = "gateway", responses((status = 200, body = PricingList)))]
async fn pricing() -> impl IntoResponse {
    (StatusCode::OK, Json(PricingList { object: "list", data: catalogue(), researched_at: None }))
}
