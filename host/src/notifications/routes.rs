use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::store;
use crate::db::page::BadQuery;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiQuery};
use crate::state::App;
use crate::transaction;
use crate::validate::fail;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_notifications, mark_notifications))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationList {
    pub notifications: Vec<NotificationView>,
    pub total: i64,
    pub unread_count: i64,
}

/// Your notifications, newest first: `total` counts those matching, `unreadCount` all unread.
#[utoipa::path(get, path = "/api/agents/notifications", tag = "agents", security(("api_key" = [])),
    params(NotificationQuery),
    responses((status = 200, body = NotificationList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_notifications(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<NotificationList>> {
    let (limit, offset) = (q.limit.unwrap_or(50), q.offset.unwrap_or(0));
    if !(1..=100).contains(&limit) || offset < 0 {
        return Err(BadQuery("limit must be 1 to 100 and offset not negative".into()).into());
    }
    let unread = q.unread.unwrap_or(false);
    let (rows, total, unread_count) = store::list(&app.db, &who.agent_id, unread, limit, offset).await?;
    Ok(Json(NotificationList { notifications: rows.iter().map(NotificationRow::view).collect(), total, unread_count }))
}

#[derive(Serialize, ToSchema)]
pub struct Marked {
    /// How many were unread and are read now.
    pub marked: u64,
}

/// Mark notifications read: `{ids: [...]}` (yours; others' are ignored) or `{all: true}`.
#[utoipa::path(post, path = "/api/agents/notifications", tag = "agents", security(("api_key" = [])),
    request_body = MarkRequest,
    responses((status = 200, body = Marked), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn mark_notifications(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<MarkRequest>,
) -> ApiResult<Json<Marked>> {
    // Either ids or all: true, not both and not neither.
    if req.all != req.ids.is_empty() {
        return Err(fail("ids", "give either ids or all: true").into());
    }
    if req.ids.len() > 500 {
        return Err(fail("ids", "at most 500 at a time").into());
    }
    let ids = (!req.all).then_some(&req.ids[..]);
    let marked = transaction!(app.db, |c| store::mark_read(c, &who.agent_id, ids))?;
    Ok(Json(Marked { marked }))
}
