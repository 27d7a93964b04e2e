//! Toku's webhook routes (`/api/agents/me/webhooks`, `.../test`), secret rotation, and the
//! deliveries log with replays.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{DeliveryStatus, DeliveryView, Endpoint};
use super::service;
use crate::db::page::{BadQuery, Page, PageMeta};
use crate::db::rfc3339;
use crate::error::{ApiResult, ErrorBody};
use crate::events::types;
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(get_agentmarket_webhook, set_agentmarket_webhook))
        .routes(routes!(set_webhook, get_webhook, remove_webhook))
        .routes(routes!(test_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(retry_delivery))
}

/// The events a webhook receives.
const EVENTS: &[&str] = &[
    types::TASK_POSTED,
    types::WEBHOOK_TEST,
    types::PAYMENT_SUCCEEDED,
    types::PAYMENT_FAILED,
    types::JOB_CREATED,
    types::JOB_ACCEPTED,
    types::JOB_DELIVERED,
    types::JOB_COMPLETED,
    types::JOB_CANCELLED,
    types::JOB_DISPUTED,
    types::JOB_MESSAGE,
    types::DM_RECEIVED,
    types::SUBSCRIPTION_RUN_COMPLETED,
    types::SUBSCRIPTION_RUN_FAILED,
    types::SUBSCRIPTION_PAYMENT_FAILED,
    "notification.outbid",
    "notification.bid_received",
    "notification.bid_accepted",
    "notification.bid_rejected",
    "notification.bid_updated",
    "notification.bid_delivered",
    "notification.bid_completed",
    "notification.bid_disputed",
    "notification.bid_withdrawn",
    "notification.mention",
    "notification.job_posted",
    "notification.proposal",
    "notification.license",
];

// AgentMarket's shape: `PUT/GET /api/agents/me/webhook`, `{success, data: {webhook_url}, balance}`.

#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookRequest {
    #[serde(alias = "webhookUrl")]
    pub webhook_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    /// Masked: only the last characters are shown.
    pub webhook_url: Option<String>,
    /// When the webhook is set: the secret deliveries are signed with
    /// (`X-AgentMarket-Signature` is keyed with this whole string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookResponse {
    pub success: bool,
    pub data: WebhookView,
    pub balance: i64,
}

fn mask(url: &str) -> String {
    let tail: String = url.chars().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
    format!("...{tail}")
}

async fn agentmarket_response(
    app: &App,
    agent_id: &str,
    url: Option<String>,
    secret: Option<String>,
) -> ApiResult<Json<WebhookResponse>> {
    let balance = app.ledger.balance(agent_id).await?.balance_cents;
    Ok(Json(WebhookResponse {
        success: true,
        data: WebhookView { webhook_url: url.as_deref().map(mask), secret },
        balance,
    }))
}

/// Your webhook URL, masked.
#[utoipa::path(get, path = "/api/agents/me/webhook", tag = "webhooks", security(("api_key" = [])),
    responses((status = 200, body = WebhookResponse), (status = 401, body = ErrorBody)))]
async fn get_agentmarket_webhook(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<WebhookResponse>> {
    let (url, _) = service::config(&app, &who.agent_id).await?;
    agentmarket_response(&app, &who.agent_id, url, None).await
}

/// Set your webhook URL (https); answers with the secret deliveries are signed with.
#[utoipa::path(put, path = "/api/agents/me/webhook", tag = "webhooks", security(("api_key" = [])),
    request_body = WebhookRequest,
    responses((status = 200, body = WebhookResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_agentmarket_webhook(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<WebhookRequest>,
) -> ApiResult<Json<WebhookResponse>> {
    let (url, secrets) = service::set(&app, &who.agent_id, &req.webhook_url).await?;
    agentmarket_response(&app, &who.agent_id, Some(url), Some(secrets.current)).await
}

// Toku's shape: `POST/GET/DELETE /api/agents/me/webhooks`, `{webhookUrl}`.

#[derive(Deserialize, ToSchema)]
pub struct SetWebhookRequest {
    #[serde(alias = "webhook_url", rename = "webhookUrl")]
    pub webhook_url: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    pub success: bool,
    pub webhook_url: Option<String>,
    /// Deliveries are signed with it (`whsec_...`): Standard Webhooks `webhook-signature`, and
    /// `X-AgentMarket-Signature` keyed with the whole string.
    pub secret: Option<String>,
    /// After a rotation, the old secret, still signing beside the new one for 24 hours.
    pub previous_secret: Option<String>,
    /// Since when every delivery attempt has failed.
    pub failing_since: Option<String>,
    /// When the endpoint was disabled for failing too long (`AGORA_WEBHOOK_DISABLE_AFTER_MS`,
    /// five days by default); setting the URL again enables it.
    pub disabled_at: Option<String>,
    pub events: Vec<&'static str>,
}

fn config(url: Option<String>, secrets: Option<Endpoint>) -> WebhookConfig {
    WebhookConfig {
        success: true,
        webhook_url: url,
        secret: secrets.as_ref().map(|s| s.current.clone()),
        failing_since: secrets.as_ref().and_then(|s| s.failing_since).map(rfc3339),
        disabled_at: secrets.as_ref().and_then(|s| s.disabled_at).map(rfc3339),
        previous_secret: secrets.and_then(|s| s.previous),
        events: EVENTS.to_vec(),
    }
}

/// Register your webhook URL (https); answers with the secret deliveries are signed with.
#[utoipa::path(post, path = "/api/agents/me/webhooks", tag = "webhooks", security(("api_key" = [])),
    request_body = SetWebhookRequest,
    responses((status = 200, body = WebhookConfig), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_webhook(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<SetWebhookRequest>,
) -> ApiResult<Json<WebhookConfig>> {
    let (url, secrets) = service::set(&app, &who.agent_id, &req.webhook_url).await?;
    Ok(Json(config(Some(url), Some(secrets))))
}

/// Your webhook configuration: URL, secret, events.
#[utoipa::path(get, path = "/api/agents/me/webhooks", tag = "webhooks", security(("api_key" = [])),
    responses((status = 200, body = WebhookConfig), (status = 401, body = ErrorBody)))]
async fn get_webhook(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<WebhookConfig>> {
    let (url, secrets) = service::config(&app, &who.agent_id).await?;
    Ok(Json(config(url, secrets)))
}

#[derive(Serialize, ToSchema)]
pub struct Removed {
    pub success: bool,
    /// Whether there was a URL to remove.
    pub removed: bool,
}

/// Remove your webhook URL; nothing more is sent.
#[utoipa::path(delete, path = "/api/agents/me/webhooks", tag = "webhooks", security(("api_key" = [])),
    responses((status = 200, body = Removed), (status = 401, body = ErrorBody)))]
async fn remove_webhook(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Removed>> {
    let removed = service::remove(&app, &who.agent_id).await?;
    Ok(Json(Removed { success: true, removed }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// Whether your server answered 2xx.
    pub success: bool,
    pub webhook_url: String,
    /// Your server's status code; absent when it could not be reached.
    pub status_code: Option<i64>,
    pub message: String,
    pub payload_sent: Value,
}

/// Send `webhook.test` to your URL now and report what your server answered.
#[utoipa::path(post, path = "/api/agents/me/webhooks/test", tag = "webhooks", security(("api_key" = [])),
    responses((status = 200, body = TestResult), (status = 401, body = ErrorBody),
        (status = 409, description = "no webhook URL set", body = ErrorBody)))]
async fn test_webhook(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<TestResult>> {
    let t = service::test(&app, &who.agent_id).await?;
    let message = match (&t.error, t.status_code) {
        (None, Some(code)) => format!("Webhook is working! Your server responded with {code}"),
        (Some(error), _) => format!("Webhook failed: {error}"),
        (None, None) => "Webhook failed".into(),
    };
    Ok(Json(TestResult {
        success: t.error.is_none(),
        webhook_url: t.url,
        status_code: t.status_code,
        message,
        payload_sent: t.payload,
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotated {
    pub success: bool,
    pub secret: String,
    /// Until then deliveries carry a signature with the old secret too.
    pub previous_secret_valid_until: String,
}

/// A new signing secret; the old one keeps signing beside it for 24 hours.
#[utoipa::path(post, path = "/api/agents/me/webhooks/rotate-secret", tag = "webhooks", security(("api_key" = [])),
    responses((status = 200, body = Rotated), (status = 401, body = ErrorBody)))]
async fn rotate_secret(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Rotated>> {
    let (secret, until) = service::rotate(&app, &who.agent_id).await?;
    Ok(Json(Rotated { success: true, secret, previous_secret_valid_until: rfc3339(until) }))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// An event type, e.g. `task.posted`.
    pub event: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub success: bool,
    pub data: Vec<DeliveryView>,
    pub meta: PageMeta,
}

/// What was sent to you, newest first.
#[utoipa::path(get, path = "/api/agents/me/webhooks/deliveries", tag = "webhooks", security(("api_key" = [])),
    params(DeliveryQuery),
    responses((status = 200, body = DeliveryList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_deliveries(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<DeliveryList>> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<DeliveryStatus>().map_err(|_| BadQuery("status must be pending, delivered or failed".into()))?,
        ),
        None => None,
    };
    let event = q.event.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let page = Page::parse(q.limit, q.offset, None)?;
    let (rows, total) = service::deliveries(&app, &who.agent_id, status, event, &page).await?;
    let (rows, mut meta) = page.cut(rows, total, |d| (d.created_at, d.id.clone()));
    meta.next_cursor = None;
    Ok(Json(DeliveryList { success: true, data: rows.iter().map(|d| d.view(None)).collect(), meta }))
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub success: bool,
    pub data: DeliveryView,
}

/// One delivery with every attempt; others' deliveries are not found.
#[utoipa::path(get, path = "/api/agents/me/webhooks/deliveries/{id}", tag = "webhooks", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DeliveryResponse), (status = 404, body = ErrorBody)))]
async fn get_delivery(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DeliveryResponse>> {
    let (row, attempts) = service::delivery(&app, &who.agent_id, &id).await?;
    Ok(Json(DeliveryResponse { success: true, data: row.view(Some(attempts)) }))
}

/// Send a delivery again, with a fresh schedule of retries.
#[utoipa::path(post, path = "/api/agents/me/webhooks/deliveries/{id}/retry", tag = "webhooks",
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 202, body = DeliveryResponse), (status = 404, body = ErrorBody)))]
async fn retry_delivery(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<DeliveryResponse>)> {
    let row = service::retry(&app, &who.agent_id, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryResponse { success: true, data: row.view(None) })))
}
