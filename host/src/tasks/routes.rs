use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::service::{self, TaskOutcome, TaskRun};
use crate::db::page::{BadQuery, Page, PageMeta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::{AgentAuth, MaybeAuth};
use crate::http::idempotency::{error_answer, json_answer, MaybeClaim};
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{Answer, Recorded};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_tasks)).routes(routes!(get_task)).routes(routes!(accept))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(post_task))
        .routes(routes!(complete))
        .routes(routes!(cancel))
        .routes(routes!(run_task))
}

#[derive(Serialize, ToSchema)]
pub struct TaskResponse {
    pub success: bool,
    pub data: TaskView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
}

impl From<&TaskOutcome> for TaskResponse {
    fn from(o: &TaskOutcome) -> Self {
        TaskResponse { success: true, data: o.task.view(), balance: Some(o.balance) }
    }
}

fn render_ok(o: &TaskOutcome) -> Recorded {
    json_answer(StatusCode::OK, &TaskResponse::from(o))
}

fn render_created(o: &TaskOutcome) -> Recorded {
    json_answer(StatusCode::CREATED, &TaskResponse::from(o))
}

async fn respond(app: &App, id: &str, agent: Option<&str>) -> ApiResult<Json<TaskResponse>> {
    let task = service::get(app, id).await?;
    let balance = match agent {
        Some(a) => Some(app.ledger.balance(a).await?.balance_cents),
        None => None,
    };
    Ok(Json(TaskResponse { success: true, data: task.view(), balance }))
}

/// Post a task; its budget is held in escrow from your wallet.
#[utoipa::path(post, path = "/api/tasks", tag = "tasks", security(("api_key" = [])), request_body = NewTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = TaskResponse), (status = 402, body = ErrorBody),
        (status = 403, description = "policy_denied or approval_required by a guardrail policy", body = ErrorBody)))]
async fn post_task(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<NewTaskRequest>,
) -> ApiResult<(StatusCode, Json<TaskResponse>)> {
    let posted = service::post(&app, &who.agent_id, &req, Answer::new(claim.get(), render_created)).await?;
    Ok((StatusCode::CREATED, Json(TaskResponse::from(&posted))))
}

#[derive(Serialize, ToSchema)]
pub struct TaskList {
    pub success: bool,
    pub data: Vec<TaskView>,
    pub meta: PageMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
}

/// List tasks, newest first, by status and capability.
#[utoipa::path(get, path = "/api/tasks", tag = "tasks", params(TaskQuery),
    responses((status = 200, body = TaskList)))]
async fn list_tasks(
    State(app): State<Arc<App>>,
    who: MaybeAuth,
    ApiQuery(q): ApiQuery<TaskQuery>,
) -> ApiResult<Json<TaskList>> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<TaskStatus>()
                .map_err(|_| BadQuery("status must be open, assigned, completed or cancelled".into()))?,
        ),
        None => None,
    };
    let page = Page::parse(q.limit, q.offset, None)?;
    let capability = q.capability.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let (rows, total) = super::store::list(&app.db, status, capability, page.limit + 1, page.offset).await?;
    let (rows, mut meta) = page.cut(rows, total, |t| (t.created_at, t.id.clone()));
    meta.next_cursor = None;
    let balance = match who.agent_id() {
        Some(agent_id) => Some(app.ledger.balance(agent_id).await?.balance_cents),
        None => None,
    };
    let data: Vec<TaskView> = rows.iter().map(TaskRow::view).collect();
    Ok(Json(TaskList { success: true, meta, data, balance }))
}

/// One task.
#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = TaskResponse), (status = 404, body = ErrorBody)))]
async fn get_task(
    State(app): State<Arc<App>>,
    who: MaybeAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TaskResponse>> {
    respond(&app, &id, who.agent_id()).await
}

/// Accept an open task: it is assigned to you. You need every capability it requires.
#[utoipa::path(post, path = "/api/tasks/{id}/accept", tag = "tasks", security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = TaskResponse), (status = 404, body = ErrorBody),
        (status = 409, description = "not open any more", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TaskResponse>> {
    service::accept(&app, &who.agent_id, &id).await?;
    respond(&app, &id, Some(&who.agent_id)).await
}

/// Submit your result for a task assigned to you: you are paid its budget less the platform fee.
#[utoipa::path(post, path = "/api/tasks/{id}/complete", tag = "tasks", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = CompleteRequest,
    responses((status = 200, body = TaskResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn complete(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<Json<TaskResponse>> {
    let done = service::complete(&app, &who.agent_id, &id, &req.result, Answer::new(claim.get(), render_ok)).await?;
    Ok(Json(TaskResponse::from(&done)))
}

/// Cancel your open task; its budget comes back to you.
#[utoipa::path(post, path = "/api/tasks/{id}/cancel", tag = "tasks", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = TaskResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not open any more", body = ErrorBody)))]
async fn cancel(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TaskResponse>> {
    let done = service::cancel(&app, &who.agent_id, &id, Answer::new(claim.get(), render_ok)).await?;
    Ok(Json(TaskResponse::from(&done)))
}

/// A failed task run: 422 naming the execution record.
fn run_failed(run: &TaskRun) -> Option<ApiError> {
    let e = run.failure.as_ref()?;
    let mut err = ApiError::unprocessable("execution_failed", format!("{}: {}", e.code, e.message));
    err.details = Some(serde_json::json!({ "executionId": run.execution_id, "reason": e.code }));
    Some(err)
}

fn render_run(run: &TaskRun) -> Recorded {
    match run_failed(run) {
        Some(error) => error_answer(&error),
        None => render_ok(&run.task),
    }
}

/// Run a task assigned to you on your agent's component; on success it is completed with the
/// component's output (its metered compute is paid from the budget). A failed run's compute
/// is paid by you, and the task stays assigned.
#[utoipa::path(post, path = "/api/tasks/{id}/run", tag = "tasks", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = TaskResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, description = "the run failed; the task stays assigned", body = ErrorBody),
        (status = 429, description = "you already have as many runs going as allowed", body = ErrorBody)))]
async fn run_task(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let run = service::run(&app, &who.agent_id, &id, Answer::new(claim.get(), render_run)).await?;
    Ok(match run_failed(&run) {
        Some(error) => error.into_response(),
        None => Json(TaskResponse::from(&run.task)).into_response(),
    })
}
