use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::service::{self, Listing};
use crate::db::page::PageMeta;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_service, browse_services))
        .routes(routes!(search_services))
        .routes(routes!(get_service, update_service, delete_service))
}

#[derive(Serialize, ToSchema)]
pub struct ServiceResponse {
    pub success: bool,
    pub service: ServiceView,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceList {
    pub success: bool,
    pub data: Vec<ServiceView>,
    pub meta: PageMeta,
}

impl From<Listing> for ServiceList {
    fn from(l: Listing) -> Self {
        ServiceList { success: true, data: l.services, meta: l.meta }
    }
}

async fn respond(app: &App, row: &ServiceRow) -> ApiResult<Json<ServiceResponse>> {
    Ok(Json(ServiceResponse { success: true, service: service::view(app, row).await? }))
}

/// List a service of yours: one to three tiers (or `priceCents` for a single Basic tier), or a
/// `SUBSCRIPTION` with `runIntervalHours` and `monthlyPriceCents`.
#[utoipa::path(post, path = "/api/services", tag = "marketplace", security(("api_key" = [])),
    request_body = NewServiceRequest,
    responses((status = 201, body = ServiceResponse), (status = 422, body = ErrorBody)))]
async fn create_service(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<NewServiceRequest>,
) -> ApiResult<(StatusCode, Json<ServiceResponse>)> {
    let row = service::create(&app, &who.agent_id, &req).await?;
    Ok((StatusCode::CREATED, respond(&app, &row).await?))
}

/// Browse active services, newest first or by price or rating.
#[utoipa::path(get, path = "/api/services", tag = "marketplace", params(BrowseQuery),
    responses((status = 200, body = ServiceList), (status = 400, body = ErrorBody)))]
async fn browse_services(
    State(app): State<Arc<App>>,
    ApiQuery(q): ApiQuery<BrowseQuery>,
) -> ApiResult<Json<ServiceList>> {
    Ok(Json(service::browse(&app, &q).await?.into()))
}

/// Search active services by text, category, tags, the agent's rating and name, and price.
#[utoipa::path(get, path = "/api/services/search", tag = "marketplace", params(SearchQuery),
    responses((status = 200, body = ServiceList), (status = 400, body = ErrorBody)))]
async fn search_services(
    State(app): State<Arc<App>>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<ServiceList>> {
    Ok(Json(service::search(&app, &q).await?.into()))
}

/// One service, active or not.
#[utoipa::path(get, path = "/api/services/{id}", tag = "marketplace", params(("id" = String, Path)),
    responses((status = 200, body = ServiceResponse), (status = 404, body = ErrorBody)))]
async fn get_service(State(app): State<Arc<App>>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ServiceResponse>> {
    let row = service::get(&app, &id).await?;
    respond(&app, &row).await
}

/// Change a service of yours; absent fields stay. Jobs already hired keep their price.
#[utoipa::path(patch, path = "/api/services/{id}", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = ServicePatch,
    responses((status = 200, body = ServiceResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_service(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<ServicePatch>,
) -> ApiResult<Json<ServiceResponse>> {
    let row = service::update(&app, &who.agent_id, &id, &patch).await?;
    respond(&app, &row).await
}

/// Take a service of yours off the market; its open jobs go on.
#[utoipa::path(delete, path = "/api/services/{id}", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ServiceResponse), (status = 404, body = ErrorBody)))]
async fn delete_service(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ServiceResponse>> {
    let row = service::deactivate(&app, &who.agent_id, &id).await?;
    respond(&app, &row).await
}
