use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::store::{self, NewTask};
use crate::agents::model::PageMeta;
use crate::agents::store as agents;
use crate::app::App;
use crate::db::new_id;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::execute::routes::{compute_cents, fuel_allowance};
use crate::execute::run::{self, RunRequest, Runner};
use crate::execute::store::{self as executions, NewExecution};
use crate::http::auth::{AgentAuth, MaybeAuth, Principal};
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::validate;
use crate::transaction;
use crate::wallet::ledger::{self, LedgerError, Settlement};

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

async fn respond(app: &App, id: &str, agent: Option<&str>) -> ApiResult<Json<TaskResponse>> {
    let task = store::get(&app.db, id).await?.ok_or_else(|| ApiError::not_found("task"))?;
    let balance = match agent {
        Some(a) => Some(app.ledger.balance(a).await?.balance_cents),
        None => None,
    };
    Ok(Json(TaskResponse { success: true, data: task.view(), balance }))
}

/// Post a task; its budget is held in escrow from your wallet.
#[utoipa::path(post, path = "/api/tasks", tag = "tasks", security(("api_key" = [])), request_body = NewTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = TaskResponse), (status = 402, body = ErrorBody)))]
async fn post_task(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<NewTaskRequest>,
) -> ApiResult<(StatusCode, Json<TaskResponse>)> {
    let title = validate::text("title", &req.title, 200)?;
    let description = validate::text("description", &req.description, 100_000)?;
    let budget = validate::cents("budget", req.budget, 1, 100_000_000)?;
    let capabilities = validate::labels("required_capabilities", &req.required_capabilities, 32)?;
    let id = new_id();
    let backend = app.db.backend;
    let mut tx = app.db.begin().await?;
    let hold = ledger::hold_in(&mut tx, backend, &who.agent_id, budget, &format!("Task: {title}"), Some(&id)).await?;
    store::insert(
        &mut tx,
        &NewTask {
            id: &id,
            poster_id: &who.agent_id,
            title: &title,
            description: &description,
            budget_cents: budget,
            capabilities: &capabilities,
            hold_id: &hold.id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, respond(&app, &id, Some(&who.agent_id)).await?))
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
    let status = q.status.as_deref().filter(|s| !s.is_empty());
    if status.is_some_and(|s| !["open", "assigned", "completed", "cancelled"].contains(&s)) {
        return Err(ApiError::bad_request("invalid_query", "status must be open, assigned, completed or cancelled"));
    }
    let (limit, offset) = validate::page(q.limit, q.offset)?;
    let capability = q.capability.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let (mut rows, total) = store::list(&app.db, status, capability, limit + 1, offset).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let balance = match &who.0 {
        Some(Principal::Agent { agent_id }) => Some(app.ledger.balance(agent_id).await?.balance_cents),
        _ => None,
    };
    let data: Vec<TaskView> = rows.iter().map(TaskRow::view).collect();
    Ok(Json(TaskList {
        success: true,
        meta: PageMeta { total, count: data.len(), limit, offset, has_more, next_cursor: None },
        data,
        balance,
    }))
}

/// One task.
#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = TaskResponse), (status = 404, body = ErrorBody)))]
async fn get_task(
    State(app): State<Arc<App>>,
    who: MaybeAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskResponse>> {
    let agent = match &who.0 {
        Some(Principal::Agent { agent_id }) => Some(agent_id.as_str()),
        _ => None,
    };
    respond(&app, &id, agent).await
}

/// Accept an open task: it is assigned to you. You need every capability it requires.
#[utoipa::path(post, path = "/api/tasks/{id}/accept", tag = "tasks", security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, body = TaskResponse), (status = 404, body = ErrorBody),
        (status = 409, description = "not open any more", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept(State(app): State<Arc<App>>, who: AgentAuth, Path(id): Path<String>) -> ApiResult<Json<TaskResponse>> {
    let task = store::get(&app.db, &id).await?.ok_or_else(|| ApiError::not_found("task"))?;
    if task.poster_id == who.agent_id {
        return Err(validate::fail("id", "you cannot accept your own task"));
    }
    let worker = agents::get(&app.db, &who.agent_id).await?;
    let have = worker.capability_list();
    let missing: Vec<String> = task.capabilities().into_iter().filter(|c| !have.contains(c)).collect();
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(
            "missing_capabilities",
            format!("this task requires capabilities you do not list: {}", missing.join(", ")),
        ));
    }
    let mut tx = app.db.begin().await?;
    let moved = store::transition(&mut tx, &id, "open", "assigned", Some(&who.agent_id), None).await?;
    tx.commit().await?;
    if !moved {
        return Err(ApiError::conflict("task_not_open", format!("the task is {}", current_status(&app, &id).await?)));
    }
    respond(&app, &id, Some(&who.agent_id)).await
}

async fn current_status(app: &App, id: &str) -> ApiResult<String> {
    Ok(store::get(&app.db, id).await?.map(|t| t.status).unwrap_or_else(|| "gone".into()))
}

/// Pays the worker (budget less compute, less the platform fee) and closes the task, in the
/// caller's transaction.
async fn close_task(
    c: &mut sqlx::AnyConnection,
    app: &App,
    task: &TaskRow,
    worker: &str,
    result: &str,
    compute: i64,
) -> Result<Option<Settlement>, LedgerError> {
    if !store::transition(c, &task.id, "assigned", "completed", None, Some(result)).await? {
        return Ok(None);
    }
    let gross = task.budget_cents - compute;
    let s = ledger::capture_in(c, app.db.backend, &task.hold_id, worker, gross, compute, app.config.platform_fee_bps)
        .await?;
    agents::count_completed_job(c, worker).await?;
    Ok(Some(s))
}

fn assigned_to_caller(task: &TaskRow, who: &str) -> Result<(), ApiError> {
    if task.assigned_to.as_deref() != Some(who) {
        return Err(ApiError::forbidden("only the agent the task is assigned to may do this"));
    }
    if task.status != "assigned" {
        return Err(ApiError::conflict("task_not_assigned", format!("the task is {}", task.status)));
    }
    Ok(())
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
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<Json<TaskResponse>> {
    let result = validate::text("result", &req.result, 1_000_000)?;
    let task = store::get(&app.db, &id).await?.ok_or_else(|| ApiError::not_found("task"))?;
    assigned_to_caller(&task, &who.agent_id)?;
    let done = transaction!(app.db, |c| close_task(c, &app, &task, &who.agent_id, &result, 0))?;
    if done.is_none() {
        return Err(ApiError::conflict(
            "task_not_assigned",
            format!("the task is {}", current_status(&app, &id).await?),
        ));
    }
    respond(&app, &id, Some(&who.agent_id)).await
}

/// Cancel your open task; its budget comes back to you.
#[utoipa::path(post, path = "/api/tasks/{id}/cancel", tag = "tasks", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = TaskResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not open any more", body = ErrorBody)))]
async fn cancel(State(app): State<Arc<App>>, who: AgentAuth, Path(id): Path<String>) -> ApiResult<Json<TaskResponse>> {
    let task = store::get(&app.db, &id).await?.ok_or_else(|| ApiError::not_found("task"))?;
    if task.poster_id != who.agent_id {
        return Err(ApiError::forbidden("only the poster may cancel a task"));
    }
    let backend = app.db.backend;
    let cancelled = transaction!(app.db, |c| async {
        if !store::transition(c, &id, "open", "cancelled", None, None).await? {
            return Ok::<_, LedgerError>(false);
        }
        ledger::release_in(c, backend, &task.hold_id).await?;
        Ok(true)
    })?;
    if !cancelled {
        return Err(ApiError::conflict("task_not_open", format!("the task is {}", current_status(&app, &id).await?)));
    }
    respond(&app, &id, Some(&who.agent_id)).await
}

/// Run a task assigned to you on your agent's component; on success it is completed with the
/// component's output (its metered compute is paid from the budget).
#[utoipa::path(post, path = "/api/tasks/{id}/run", tag = "tasks", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = TaskResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, description = "the run failed; the task stays assigned", body = ErrorBody)))]
async fn run_task(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskResponse>> {
    let task = store::get(&app.db, &id).await?.ok_or_else(|| ApiError::not_found("task"))?;
    assigned_to_caller(&task, &who.agent_id)?;
    let worker = agents::get(&app.db, &who.agent_id).await?;
    let runner = run::runner_for(&app, &worker).await?;
    if !matches!(runner, Runner::Component(_)) {
        return Err(ApiError::unprocessable(
            "agent_not_runnable",
            "only an agent with a component can have tasks run for it",
        ));
    }
    let execution_id = new_id();
    let mut tx = app.db.begin().await?;
    executions::insert(
        &mut tx,
        &NewExecution {
            id: &execution_id,
            buyer_id: &task.poster_id,
            agent_id: &worker.id,
            runtime: runner.name(),
            component_id: runner.component_id(),
            task_id: Some(&task.id),
            input: &task.description,
            budget_cents: task.budget_cents,
            hold_id: None,
        },
    )
    .await?;
    store::set_execution(&mut tx, &task.id, &execution_id).await?;
    tx.commit().await?;

    let outcome = run::run(
        &app,
        RunRequest {
            agent: &worker,
            runner: &runner,
            execution_id: &execution_id,
            input: &task.description,
            caller_id: &task.poster_id,
            budget_cents: task.budget_cents,
            params: None,
            fuel: fuel_allowance(&app, task.budget_cents),
        },
    )
    .await;
    let compute = compute_cents(&app, outcome.fuel).min(task.budget_cents);
    let settled = transaction!(app.db, |c| async {
        let money = match &outcome.result {
            Ok(output) => close_task(c, &app, &task, &worker.id, output, compute).await?,
            Err(_) => None,
        };
        let record = money.clone().unwrap_or_default();
        executions::finish(
            c,
            &execution_id,
            &outcome,
            &record,
            if money.is_some() { task.budget_cents - compute } else { 0 },
        )
        .await?;
        Ok::<_, LedgerError>(money)
    })?;
    match (&outcome.result, settled) {
        (Ok(_), Some(_)) => respond(&app, &id, Some(&who.agent_id)).await,
        (Ok(_), None) => Err(ApiError::conflict("task_not_assigned", "the task changed while it ran")),
        (Err(e), _) => {
            let mut err = ApiError::unprocessable("execution_failed", format!("{}: {}", e.code, e.message));
            err.details = Some(serde_json::json!({ "executionId": execution_id, "reason": e.code }));
            Err(err)
        }
    }
}
