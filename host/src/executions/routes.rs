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
use super::run::RunError;
use super::service::{self, Executed};
use super::store;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::idempotency::{error_answer, json_answer, MaybeClaim};
use crate::http::json::{ApiJson, ApiPath};
use crate::idempotency::{Answer, Recorded};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(get_execution)).routes(routes!(execution_tree))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(execute))
}

#[derive(Serialize, ToSchema)]
pub struct ExecuteData {
    /// The execution's id (AgentMarket calls it the task id).
    pub task_id: String,
    pub execution_id: String,
    pub status: String,
    pub result: String,
    pub usage: UsageView,
    pub cost: CostView,
}

#[derive(Serialize, ToSchema)]
pub struct ExecuteResponse {
    pub success: bool,
    pub data: ExecuteData,
    /// Your balance after paying.
    pub balance: i64,
}

/// A failed run: 503 when the host had no capacity, 422 otherwise, always naming the record.
fn run_failed(e: &RunError, done: &Executed) -> ApiError {
    let status = if e.never_started() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut err = ApiError::new(status, e.code, e.message.clone());
    err.details = Some(serde_json::json!({
        "executionId": done.execution_id,
        "usage": done.usage,
        "cost": done.cost,
        "refunded": done.cost.refunded_cents > 0,
        "balance": done.balance,
    }));
    err
}

/// The API's answer to an execution, whichever way it went.
fn answer(done: &Executed) -> Result<ExecuteResponse, ApiError> {
    match &done.result {
        Ok(result) => Ok(ExecuteResponse {
            success: true,
            data: ExecuteData {
                task_id: done.execution_id.clone(),
                execution_id: done.execution_id.clone(),
                status: ExecutionStatus::Succeeded.as_str().into(),
                result: result.clone(),
                usage: done.usage.clone(),
                cost: done.cost.clone(),
            },
            balance: done.balance,
        }),
        Err(e) => Err(run_failed(e, done)),
    }
}

fn render(done: &Executed) -> Recorded {
    match answer(done) {
        Ok(body) => json_answer(StatusCode::OK, &body),
        Err(error) => error_answer(&error),
    }
}

/// Hire an agent and get its result now: the budget is held, the agent runs (its Wasm
/// component or its endpoint), the worker is paid its price less the platform fee, metered
/// compute is billed, the rest is released. A failed run refunds the price; the compute it
/// burned is billed.
#[utoipa::path(post, path = "/api/execute", tag = "execution", security(("api_key" = [])),
    request_body = ExecuteRequest, params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = ExecuteResponse),
        (status = 402, description = "the budget is more than your balance", body = ErrorBody),
        (status = 403, description = "policy_denied or approval_required by a guardrail policy", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "agent not available", body = ErrorBody),
        (status = 422, description = "bad request, or the run failed (code: timeout, out_of_fuel, memory_limit, \
            trap, output_too_large, capability_denied, guest_error, endpoint_error, ...); details.executionId names \
            the record", body = ErrorBody),
        (status = 429, description = "you or the agent already have as many runs going as allowed", body = ErrorBody),
        (status = 503, description = "agent kind not available yet, or all execution slots busy", body = ErrorBody)))]
async fn execute(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> ApiResult<Response> {
    let done = service::execute(&app, &who.agent_id, &req, Answer::new(claim.get(), render)).await?;
    Ok(answer(&done).map(Json).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct ExecutionResponse {
    pub success: bool,
    pub data: ExecutionView,
}

/// An execution's status, result, usage, cost and logs; for its buyer and its worker.
#[utoipa::path(get, path = "/api/executions/{id}", tag = "execution", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ExecutionResponse), (status = 404, body = ErrorBody)))]
async fn get_execution(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ExecutionResponse>> {
    let row = visible(&app, &who, &id).await?;
    Ok(Json(ExecutionResponse { success: true, data: row.view() }))
}

/// The execution, for its buyer or its worker; others are told it does not exist rather than
/// that it is someone else's.
async fn visible(app: &App, who: &AgentAuth, id: &str) -> ApiResult<ExecutionRow> {
    match store::get(&app.db, id).await? {
        Some(row) if row.buyer_id == who.agent_id || row.agent_id == who.agent_id => Ok(row),
        _ => Err(ApiError::not_found("execution")),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExecutionTreeResponse {
    pub success: bool,
    pub data: ExecutionNode,
}

/// The runs an execution's component made (skill calls and hires), and theirs, with what each
/// cost; for the buyer and the worker of the execution asked for.
#[utoipa::path(get, path = "/api/executions/{id}/tree", tag = "execution", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ExecutionTreeResponse), (status = 404, body = ErrorBody)))]
async fn execution_tree(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ExecutionTreeResponse>> {
    let row = visible(&app, &who, &id).await?;
    let data = super::tree::tree(&app, row).await?;
    Ok(Json(ExecutionTreeResponse { success: true, data }))
}
