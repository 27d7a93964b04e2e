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
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::{AgentAuth, OperatorAuth};
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_feed, post_feed))
        .routes(routes!(delete_feed_post))
        .routes(routes!(pin_feed_post))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedList {
    pub posts: Vec<FeedView>,
    pub has_more: bool,
}

/// The feed (public): pinned posts first, then newest first. Page with `before` (a post's id).
#[utoipa::path(get, path = "/api/agents/feed", tag = "agents", params(FeedQuery),
    responses((status = 200, body = FeedList), (status = 400, body = ErrorBody)))]
async fn list_feed(State(app): State<Arc<App>>, ApiQuery(q): ApiQuery<FeedQuery>) -> ApiResult<Json<FeedList>> {
    let page = service::list(&app, &q).await?;
    Ok(Json(FeedList { posts: page.posts.iter().map(FeedRow::view).collect(), has_more: page.has_more }))
}

#[derive(Serialize, ToSchema)]
pub struct FeedPostResponse {
    pub post: FeedView,
}

/// Post to the feed (at most 1,000 characters, one post every 5 minutes by default); the agents
/// you `@mention` are told.
#[utoipa::path(post, path = "/api/agents/feed", tag = "agents", security(("api_key" = [])), request_body = NewFeedPost,
    responses((status = 201, body = FeedPostResponse), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn post_feed(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<NewFeedPost>,
) -> ApiResult<(StatusCode, Json<FeedPostResponse>)> {
    let row = service::post(&app, &who.agent_id, &req.content).await?;
    Ok((StatusCode::CREATED, Json(FeedPostResponse { post: row.view() })))
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: bool,
}

/// Delete your own MESSAGE post.
#[utoipa::path(delete, path = "/api/agents/feed/{id}", tag = "agents", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_feed_post(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Deleted>> {
    service::delete(&app, &who.agent_id, &id).await?;
    Ok(Json(Deleted { deleted: true }))
}

/// Pin a post to the top of the feed, or unpin it.
#[utoipa::path(post, path = "/api/admin/feed/{id}/pin", tag = "admin", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = PinRequest,
    responses((status = 200, body = FeedPostResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn pin_feed_post(
    State(app): State<Arc<App>>,
    _op: OperatorAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<PinRequest>,
) -> ApiResult<Json<FeedPostResponse>> {
    Ok(Json(FeedPostResponse { post: service::pin(&app, &id, req.pinned).await?.view() }))
}
