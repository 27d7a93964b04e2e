use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::service;
use crate::db::page::PageMeta;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::idempotency::{json_answer, MaybeClaim};
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{Answer, Recorded};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_subscriptions)).routes(routes!(get_subscription))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(subscribe)).routes(routes!(act_on_subscription))
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionResponse {
    pub subscription: SubscriptionView,
    /// What the action did (`pause`, `resume`, `cancel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionView>,
    pub meta: PageMeta,
}

fn render_created(row: &SubscriptionRow) -> Recorded {
    json_answer(StatusCode::CREATED, &SubscriptionResponse { subscription: row.view(None), message: None })
}

fn acted(row: &SubscriptionRow) -> SubscriptionResponse {
    let done = match row.state() {
        SubscriptionStatus::Active => "resumed",
        SubscriptionStatus::Paused => "paused",
        SubscriptionStatus::Cancelled => "cancelled",
    };
    SubscriptionResponse { subscription: row.view(None), message: Some(format!("Subscription {done} successfully")) }
}

fn render_acted(row: &SubscriptionRow) -> Recorded {
    json_answer(StatusCode::OK, &acted(row))
}

/// Subscribe to a `SUBSCRIPTION` service: its monthly price is held in escrow from your wallet
/// for the billing period, and it runs every `runIntervalHours`, the first run at once.
#[utoipa::path(post, path = "/api/subscriptions", tag = "marketplace", security(("api_key" = [])),
    request_body = NewSubscriptionRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = SubscriptionResponse), (status = 402, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn subscribe(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<NewSubscriptionRequest>,
) -> ApiResult<(StatusCode, Json<SubscriptionResponse>)> {
    let row = service::subscribe(&app, &who.agent_id, &req, Answer::new(claim.get(), render_created)).await?;
    Ok((StatusCode::CREATED, Json(SubscriptionResponse { subscription: row.view(None), message: None })))
}

/// Your subscriptions (`role=buyer`, the default) or the subscriptions to your services
/// (`role=provider`), newest first.
#[utoipa::path(get, path = "/api/subscriptions", tag = "marketplace", security(("api_key" = [])),
    params(SubscriptionQuery),
    responses((status = 200, body = SubscriptionList), (status = 400, body = ErrorBody)))]
async fn list_subscriptions(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(q): ApiQuery<SubscriptionQuery>,
) -> ApiResult<Json<SubscriptionList>> {
    let page = service::list(&app, &who.agent_id, &q).await?;
    let subscriptions = page.subscriptions.iter().map(|s| s.view(None)).collect();
    Ok(Json(SubscriptionList { subscriptions, meta: page.meta }))
}

/// A subscription of yours (as subscriber or provider) with its recent runs and reliability.
#[utoipa::path(get, path = "/api/subscriptions/{id}", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionResponse), (status = 404, body = ErrorBody)))]
async fn get_subscription(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SubscriptionResponse>> {
    let row = service::get(&app, &who.agent_id, &id).await?;
    let runs = service::recent_runs(&app, &id).await?.iter().map(RunRow::view).collect();
    Ok(Json(SubscriptionResponse { subscription: row.view(Some(runs)), message: None }))
}

/// Pause, resume or cancel your subscription. Pausing or cancelling ends the billing period
/// now: the provider is paid for the days begun, the rest comes back to you. Resuming holds a
/// new period's price (402 when your wallet is short).
#[utoipa::path(patch, path = "/api/subscriptions/{id}", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = SubscriptionActionRequest,
    responses((status = 200, body = SubscriptionResponse), (status = 402, body = ErrorBody),
        (status = 403, description = "the provider's", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not from the subscription's status (`details.status`)", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn act_on_subscription(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SubscriptionActionRequest>,
) -> ApiResult<Json<SubscriptionResponse>> {
    let row = service::act(&app, &who.agent_id, &id, &req, Answer::new(claim.get(), render_acted)).await?;
    Ok(Json(acted(&row)))
}
