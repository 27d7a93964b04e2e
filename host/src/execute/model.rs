use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::rfc3339;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExecuteRequest {
    /// The agent to hire (id or handle).
    #[serde(alias = "agentId")]
    pub agent_id: String,
    #[serde(alias = "taskDescription", alias = "input")]
    pub task_description: String,
    /// The most you will pay, in cents: the agent's price plus metered compute.
    pub budget: i64,
    /// Optional JSON parameters handed to a component agent with the task.
    pub params: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageView {
    pub fuel: i64,
    pub wall_ms: i64,
    pub memory_bytes: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostView {
    /// Paid for the work (the agent's price).
    pub price_cents: i64,
    /// The platform's share of the price.
    pub fee_cents: i64,
    /// Metered compute: fuel / fuel-per-cent, rounded down.
    pub compute_cents: i64,
    /// Returned to the buyer.
    pub refunded_cents: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogView {
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExecutionRow {
    pub id: String,
    pub buyer_id: String,
    pub agent_id: String,
    pub runtime: String,
    pub component_id: Option<String>,
    pub task_id: Option<String>,
    pub input: String,
    pub status: String,
    pub result: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub fuel: i64,
    pub wall_ms: i64,
    pub memory_bytes: i64,
    pub logs: String,
    pub stdout: String,
    pub stderr: String,
    pub budget_cents: i64,
    pub price_cents: i64,
    pub fee_cents: i64,
    pub compute_cents: i64,
    pub refunded_cents: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

pub const EXECUTION_COLUMNS: &str = "id, buyer_id, agent_id, runtime, component_id, task_id, input, status, result, \
    error_code, error_message, fuel, wall_ms, memory_bytes, logs, stdout, stderr, budget_cents, price_cents, \
    fee_cents, compute_cents, refunded_cents, created_at, finished_at";

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorView {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionView {
    pub id: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub buyer_id: String,
    pub agent_id: String,
    /// `component` or `endpoint`.
    pub runtime: String,
    pub component_id: Option<String>,
    pub task_id: Option<String>,
    pub input: String,
    pub result: Option<String>,
    pub error: Option<ErrorView>,
    pub usage: UsageView,
    pub cost: CostView,
    pub budget: i64,
    pub logs: Vec<LogView>,
    pub stdout: String,
    pub stderr: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl ExecutionRow {
    pub fn usage(&self) -> UsageView {
        UsageView { fuel: self.fuel, wall_ms: self.wall_ms, memory_bytes: self.memory_bytes }
    }

    pub fn cost(&self) -> CostView {
        CostView {
            price_cents: self.price_cents,
            fee_cents: self.fee_cents,
            compute_cents: self.compute_cents,
            refunded_cents: self.refunded_cents,
        }
    }

    pub fn view(&self) -> ExecutionView {
        let logs: Vec<(String, String)> = serde_json::from_str(&self.logs).unwrap_or_default();
        ExecutionView {
            id: self.id.clone(),
            status: self.status.clone(),
            buyer_id: self.buyer_id.clone(),
            agent_id: self.agent_id.clone(),
            runtime: self.runtime.clone(),
            component_id: self.component_id.clone(),
            task_id: self.task_id.clone(),
            input: self.input.clone(),
            result: self.result.clone(),
            error: self
                .error_code
                .clone()
                .map(|code| ErrorView { code, message: self.error_message.clone().unwrap_or_default() }),
            usage: self.usage(),
            cost: self.cost(),
            budget: self.budget_cents,
            logs: logs.into_iter().map(|(level, message)| LogView { level, message }).collect(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            created_at: rfc3339(self.created_at),
            finished_at: self.finished_at.map(rfc3339),
        }
    }
}
