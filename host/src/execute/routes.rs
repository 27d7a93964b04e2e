use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::run::{self, RunError, RunOutcome, RunRequest, Runner};
use super::store::{self, NewExecution};
use crate::agents::model::AgentRow;
use crate::agents::store as agents;
use crate::app::App;
use crate::db::new_id;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::json::ApiJson;
use crate::http::validate;
use crate::transaction;
use crate::wallet::ledger::{self, LedgerError, Settlement};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(get_execution))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(execute))
}

/// The fuel a run may burn so that its compute (fuel / fuel-per-cent, rounded down) never
/// exceeds what the budget leaves after the price.
pub fn fuel_allowance(app: &App, spare_cents: i64) -> u64 {
    let per_cent = app.config.fuel_per_cent;
    let affordable = (spare_cents.max(0) as u64).saturating_add(1).saturating_mul(per_cent).saturating_sub(1);
    affordable.min(app.config.exec_fuel)
}

pub fn compute_cents(app: &App, fuel: i64) -> i64 {
    fuel.max(0) / app.config.fuel_per_cent as i64
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

async fn settle(
    app: &App,
    execution_id: &str,
    hold_id: &str,
    worker_id: &str,
    price: i64,
    compute: i64,
    outcome: &RunOutcome,
) -> Result<Settlement, LedgerError> {
    let (backend, fee_bps) = (app.db.backend, app.config.platform_fee_bps);
    transaction!(app.db, |c| async {
        let money = match outcome.result {
            Ok(_) => {
                let s = ledger::capture_in(c, backend, hold_id, worker_id, price, compute, fee_bps).await?;
                agents::count_completed_job(c, worker_id).await?;
                s
            }
            Err(_) => ledger::release_in(c, backend, hold_id).await?,
        };
        store::finish(c, execution_id, outcome, &money, price).await?;
        Ok::<_, LedgerError>(money)
    })
}

fn check_hireable(agent: &AgentRow, buyer: &str) -> Result<(), ApiError> {
    if agent.id == buyer {
        return Err(validate::fail("agent_id", "an agent cannot hire itself"));
    }
    if agent.status != "ACTIVE" || agent.available_for_hire == 0 {
        return Err(ApiError::conflict("agent_unavailable", "this agent is not available for hire"));
    }
    Ok(())
}

/// Hire an agent and get its result now: the budget is held, the agent runs (its Wasm
/// component or its endpoint), the worker is paid its price less the platform fee, metered
/// compute is billed, the rest is released. A failed run refunds the budget in full.
#[utoipa::path(post, path = "/api/execute", tag = "execution", security(("api_key" = [])),
    request_body = ExecuteRequest, params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = ExecuteResponse),
        (status = 402, description = "the budget is more than your balance", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "agent not available", body = ErrorBody),
        (status = 422, description = "bad request, or the run failed (code: timeout, out_of_fuel, memory_limit, trap, output_too_large, capability_denied, guest_error, endpoint_error, ...); details.executionId names the record", body = ErrorBody),
        (status = 503, description = "agent kind not available yet, or all execution slots busy", body = ErrorBody)))]
async fn execute(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> ApiResult<Json<ExecuteResponse>> {
    let input = validate::text("task_description", &req.task_description, 100_000)?;
    let params = match req.params {
        None | Some(serde_json::Value::Null) => None,
        Some(p @ serde_json::Value::Object(_)) => Some(p.to_string()),
        Some(_) => return Err(validate::fail("params", "must be a JSON object")),
    };
    let budget = validate::cents("budget", req.budget, 1, 100_000_000)?;
    let agent = agents::find(&app.db, req.agent_id.trim()).await?.ok_or_else(|| ApiError::not_found("agent"))?;
    check_hireable(&agent, &who.agent_id)?;
    let runner = run::runner_for(&app, &agent).await?;
    let price = agent.price_per_task_cents;
    if budget < price {
        return Err(ApiError::unprocessable(
            "budget_too_low",
            format!("this agent's price is {price} cents; the budget must cover it"),
        ));
    }
    let agent = if matches!(runner, Runner::Endpoint(_)) && agent.endpoint_secret.is_none() {
        let secret = agents::endpoint_secret(&app.db, &agent).await?;
        AgentRow { endpoint_secret: Some(secret), ..agent }
    } else {
        agent
    };

    let execution_id = new_id();
    let backend = app.db.backend;
    let mut tx = app.db.begin().await?;
    let hold =
        ledger::hold_in(&mut tx, backend, &who.agent_id, budget, "Direct execution", Some(&execution_id)).await?;
    store::insert(
        &mut tx,
        &NewExecution {
            id: &execution_id,
            buyer_id: &who.agent_id,
            agent_id: &agent.id,
            runtime: runner.name(),
            component_id: runner.component_id(),
            task_id: None,
            input: &input,
            budget_cents: budget,
            hold_id: Some(&hold.id),
        },
    )
    .await?;
    tx.commit().await?;

    let outcome = run::run(
        &app,
        RunRequest {
            agent: &agent,
            runner: &runner,
            execution_id: &execution_id,
            input: &input,
            caller_id: &who.agent_id,
            budget_cents: budget,
            params,
            fuel: fuel_allowance(&app, budget - price),
        },
    )
    .await;
    let compute = compute_cents(&app, outcome.fuel).min(budget - price);
    let money = settle(&app, &execution_id, &hold.id, &agent.id, price, compute, &outcome).await?;
    let balance = app.ledger.balance(&who.agent_id).await?.balance_cents;
    let usage = UsageView { fuel: outcome.fuel, wall_ms: outcome.wall_ms, memory_bytes: outcome.memory_bytes };
    match outcome.result {
        Ok(result) => Ok(Json(ExecuteResponse {
            success: true,
            data: ExecuteData {
                task_id: execution_id.clone(),
                execution_id,
                status: "succeeded".into(),
                result,
                usage,
                cost: CostView {
                    price_cents: price,
                    fee_cents: money.fee,
                    compute_cents: money.compute,
                    refunded_cents: money.refunded,
                },
            },
            balance,
        })),
        Err(e) => Err(execution_error(e, &execution_id, &usage, balance)),
    }
}

/// A failed run: 503 when the host had no capacity, 422 otherwise, always naming the record.
fn execution_error(e: RunError, execution_id: &str, usage: &UsageView, balance: i64) -> ApiError {
    let status = if e.code == "busy" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut err = ApiError::new(status, e.code, e.message);
    err.details = Some(serde_json::json!({
        "executionId": execution_id,
        "usage": usage,
        "refunded": true,
        "balance": balance,
    }));
    err
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
    Path(id): Path<String>,
) -> ApiResult<Json<ExecutionResponse>> {
    let row = store::get(&app.db, &id).await?.ok_or_else(|| ApiError::not_found("execution"))?;
    // Others are told it does not exist rather than that it is someone else's.
    if row.buyer_id != who.agent_id && row.agent_id != who.agent_id {
        return Err(ApiError::not_found("execution"));
    }
    Ok(Json(ExecutionResponse { success: true, data: row.view() }))
}
