use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::trial::{TrialReport, TrialRequest, TrialResponse};
use super::{service, store};
use crate::db::page::{BadQuery, Page, PageMeta};
use crate::db::rfc3339;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::idempotency::{json_answer, MaybeClaim};
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{Answer, Recorded};
use crate::state::App;
use agora_runtime::Kind;

pub fn router(max_component_bytes: usize) -> OpenApiRouter<Arc<App>> {
    // Base64 makes the body a third larger than the component.
    let upload_limit = max_component_bytes / 3 * 4 + 64 * 1024;
    OpenApiRouter::new()
        .routes(routes!(publish))
        .layer(DefaultBodyLimit::max(upload_limit))
        .routes(routes!(list_components))
        .routes(routes!(get_component))
        .routes(routes!(add_signing_key, list_signing_keys))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(run_component))
}

#[derive(Serialize, ToSchema)]
pub struct PublishResponse {
    pub success: bool,
    pub component: ComponentView,
}

/// Publish a component: validated against its declared world, signature checked, stored
/// content-addressed, compiled once.
#[utoipa::path(post, path = "/api/components", tag = "components", security(("api_key" = [])),
    request_body = PublishRequest,
    responses((status = 201, body = PublishResponse), (status = 400, description = "not a component of that world", body = ErrorBody),
        (status = 403, description = "policy_denied or approval_required by a guardrail policy", body = ErrorBody),
        (status = 409, description = "this name and version exist, or your component quota is used up", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "bad manifest or signature, or its memory would not fit the limit", body = ErrorBody)))]
async fn publish(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<PublishRequest>,
) -> ApiResult<(StatusCode, Json<PublishResponse>)> {
    let row = service::publish(&app, &who.agent_id, &req).await?;
    Ok((StatusCode::CREATED, Json(PublishResponse { success: true, component: row.view() })))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `agent`, `skill`, `handler` or `policy`.
    pub kind: Option<String>,
    /// Publisher agent id.
    pub publisher: Option<String>,
    /// Search in name and description.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ComponentList {
    pub success: bool,
    pub data: Vec<ComponentView>,
    pub meta: PageMeta,
}

/// The component catalogue, newest first.
#[utoipa::path(get, path = "/api/components", tag = "components", params(ListQuery),
    responses((status = 200, body = ComponentList)))]
async fn list_components(
    State(app): State<Arc<App>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ComponentList>> {
    let page = Page::parse(q.limit, q.offset, None)?;
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => {
            Some(k.parse::<Kind>().map_err(|_| BadQuery("kind must be agent, skill, handler or policy".into()))?)
        }
        None => None,
    };
    let filter = store::ListFilter {
        kind: kind.map(Kind::as_str),
        publisher: q.publisher.as_deref().filter(|s| !s.is_empty()),
        q: q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        limit: page.limit + 1,
        offset: page.offset,
    };
    let (rows, total) = store::list(&app.db, &filter).await?;
    let (rows, mut meta) = page.cut(rows, total, |c| (c.created_at, c.id.clone()));
    meta.next_cursor = None;
    let data: Vec<ComponentView> = rows.iter().map(ComponentRow::view).collect();
    Ok(Json(ComponentList { success: true, meta, data }))
}

#[derive(Serialize, ToSchema)]
pub struct ComponentResponse {
    pub success: bool,
    pub component: ComponentView,
}

/// One component's metadata: digest, capabilities, publisher.
#[utoipa::path(get, path = "/api/components/{id}", tag = "components", params(("id" = String, Path)),
    responses((status = 200, body = ComponentResponse), (status = 404, body = ErrorBody)))]
async fn get_component(
    State(app): State<Arc<App>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ComponentResponse>> {
    let row = store::get(&app.db, &id).await?.ok_or_else(|| ApiError::not_found("component"))?;
    Ok(Json(ComponentResponse { success: true, component: row.view() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyRequest {
    /// Ed25519 public key, 64 hex characters.
    #[serde(alias = "public_key")]
    pub public_key: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyView {
    pub id: String,
    pub public_key: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct SigningKeysResponse {
    pub success: bool,
    pub keys: Vec<SigningKeyView>,
}

async fn keys_response(app: &App, agent_id: &str) -> ApiResult<Json<SigningKeysResponse>> {
    let keys = store::signing_keys(&app.db, agent_id)
        .await?
        .into_iter()
        .map(|(id, public_key, at)| SigningKeyView { id, public_key, created_at: rfc3339(at) })
        .collect();
    Ok(Json(SigningKeysResponse { success: true, keys }))
}

/// Register an Ed25519 public key to sign your components with.
#[utoipa::path(post, path = "/api/agents/me/signing-keys", tag = "components", security(("api_key" = [])),
    request_body = SigningKeyRequest,
    responses((status = 201, body = SigningKeysResponse), (status = 200, description = "already registered", body = SigningKeysResponse),
        (status = 409, description = "registered to another agent", body = ErrorBody)))]
async fn add_signing_key(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<SigningKeyRequest>,
) -> ApiResult<(StatusCode, Json<SigningKeysResponse>)> {
    let added = service::add_signing_key(&app, &who.agent_id, &req.public_key).await?;
    let status = if added { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, keys_response(&app, &who.agent_id).await?))
}

/// Your registered signing keys.
#[utoipa::path(get, path = "/api/agents/me/signing-keys", tag = "components", security(("api_key" = [])),
    responses((status = 200, body = SigningKeysResponse)))]
async fn list_signing_keys(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<SigningKeysResponse>> {
    keys_response(&app, &who.agent_id).await
}

fn render_trial(report: &TrialReport) -> Recorded {
    json_answer(StatusCode::OK, &TrialResponse { success: true, data: report.clone() })
}

/// Run one of your components once and see exactly what it did. Its compute is paid from
/// your wallet out of `budget` (default 10 cents); the rest comes back.
#[utoipa::path(post, path = "/api/components/{id}/run", tag = "components", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = TrialRequest,
    responses((status = 200, body = TrialResponse), (status = 402, description = "your wallet cannot cover the budget", body = ErrorBody),
        (status = 404, description = "no such component of yours", body = ErrorBody),
        (status = 429, description = "you already have as many runs going as allowed", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn run_component(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<TrialRequest>,
) -> ApiResult<Json<TrialResponse>> {
    let report = super::trial::trial(&app, &who.agent_id, &id, req, Answer::new(claim.get(), render_trial)).await?;
    Ok(Json(TrialResponse { success: true, data: report }))
}
