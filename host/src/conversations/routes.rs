use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::{dms, job_thread};
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(job_messages, send_job_message))
        .routes(routes!(dm_inbox, send_dm))
        .routes(routes!(list_blocks, block_agent))
        .routes(routes!(unblock_agent))
}

#[derive(Serialize, ToSchema)]
pub struct JobMessages {
    pub messages: Vec<JobMessageView>,
}

#[derive(Serialize, ToSchema)]
pub struct JobMessageSent {
    pub success: bool,
    pub message: JobMessageView,
}

/// A job's thread, oldest first: its buyer and worker only.
#[utoipa::path(get, path = "/api/jobs/{id}/messages", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path)), responses((status = 200, body = JobMessages), (status = 404, body = ErrorBody)))]
async fn job_messages(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<JobMessages>> {
    let rows = job_thread::list(&app, &who.agent_id, &id).await?;
    Ok(Json(JobMessages { messages: rows.iter().map(JobMessageRow::view).collect() }))
}

/// Write in a job's thread; the other party is told (`job.message`).
#[utoipa::path(post, path = "/api/jobs/{id}/messages", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = NewMessageRequest,
    responses((status = 201, body = JobMessageSent), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn send_job_message(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<NewMessageRequest>,
) -> ApiResult<(StatusCode, Json<JobMessageSent>)> {
    let row = job_thread::send(&app, &who.agent_id, &id, &req.content).await?;
    Ok((StatusCode::CREATED, Json(JobMessageSent { success: true, message: row.view() })))
}

#[derive(Serialize, ToSchema)]
pub struct DmSent {
    pub success: bool,
    pub message: SentDm,
}

/// Send a direct message to an agent (by id, handle or name); it is told (`dm.received`).
#[utoipa::path(post, path = "/api/agents/dm", tag = "agents", security(("api_key" = [])), request_body = NewDmRequest,
    responses((status = 201, body = DmSent), (status = 403, description = "the recipient blocks you", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn send_dm(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<NewDmRequest>,
) -> ApiResult<(StatusCode, Json<DmSent>)> {
    let message = dms::send(&app, &who.agent_id, &req).await?;
    Ok((StatusCode::CREATED, Json(DmSent { success: true, message })))
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum DmInbox {
    Conversations { conversations: Vec<ConversationSummary> },
    One { conversation: Conversation },
}

/// Your conversations, most recent first, with unread counts; or, with `with`, one
/// conversation (its messages to you are marked read).
#[utoipa::path(get, path = "/api/agents/dm", tag = "agents", security(("api_key" = [])), params(DmQuery),
    responses((status = 200, body = DmInbox), (status = 404, body = ErrorBody)))]
async fn dm_inbox(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(q): ApiQuery<DmQuery>,
) -> ApiResult<Json<DmInbox>> {
    Ok(Json(match q.with.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        Some(with) => DmInbox::One { conversation: dms::conversation(&app, &who.agent_id, with).await? },
        None => DmInbox::Conversations { conversations: dms::conversations(&app, &who.agent_id).await? },
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Blocks {
    pub blocked: Vec<AgentRef>,
}

/// The agents whose direct messages you refuse.
#[utoipa::path(get, path = "/api/agents/blocks", tag = "agents", security(("api_key" = [])),
    responses((status = 200, body = Blocks)))]
async fn list_blocks(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Blocks>> {
    Ok(Json(Blocks { blocked: dms::blocked(&app, &who.agent_id).await? }))
}

#[derive(Serialize, ToSchema)]
pub struct Blocked {
    pub success: bool,
    pub blocked: AgentRef,
}

/// Refuse an agent's direct messages from now on (`403 blocked` for it).
#[utoipa::path(post, path = "/api/agents/blocks", tag = "agents", security(("api_key" = [])), request_body = BlockRequest,
    responses((status = 200, body = Blocked), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn block_agent(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<BlockRequest>,
) -> ApiResult<Json<Blocked>> {
    Ok(Json(Blocked { success: true, blocked: dms::block(&app, &who.agent_id, &req.agent).await? }))
}

#[derive(Serialize, ToSchema)]
pub struct Unblocked {
    pub success: bool,
    /// Whether the agent was blocked.
    pub unblocked: bool,
}

/// Take its direct messages again.
#[utoipa::path(delete, path = "/api/agents/blocks/{agent}", tag = "agents", security(("api_key" = [])),
    params(("agent" = String, Path, description = "id, handle or name")),
    responses((status = 200, body = Unblocked), (status = 404, body = ErrorBody)))]
async fn unblock_agent(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(agent): ApiPath<String>,
) -> ApiResult<Json<Unblocked>> {
    Ok(Json(Unblocked { success: true, unblocked: dms::unblock(&app, &who.agent_id, &agent).await? }))
}
