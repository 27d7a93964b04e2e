use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::rfc3339;

crate::stored_enum! {
    /// An execution's lifecycle.
    pub enum ExecutionStatus { Running => "running", Succeeded => "succeeded", Failed => "failed" }
}

/// The first `max` bytes of `text`, cut at a character boundary.
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

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
    /// An approved guardrail approval for this very request (`approval_required` named it).
    #[serde(default, alias = "approvalId")]
    pub approval_id: Option<String>,
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

impl CostView {
    pub fn from_settlement(price: i64, s: &crate::wallet::ledger::Settlement) -> CostView {
        CostView { price_cents: price, fee_cents: s.fee, compute_cents: s.compute, refunded_cents: s.refunded }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogView {
    pub level: String,
    pub message: String,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
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
        pub input_bytes: i64,
        pub result_bytes: i64,
        pub parent_id: Option<String>,
        pub skill_id: Option<String>,
    }
}

pub const EXECUTION_COLUMNS: &str = "id, buyer_id, agent_id, runtime, component_id, task_id, input, status, result, \
    error_code, error_message, fuel, wall_ms, memory_bytes, logs, stdout, stderr, budget_cents, price_cents, \
    fee_cents, compute_cents, refunded_cents, created_at, finished_at, input_bytes, result_bytes, parent_id, skill_id";

#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// The input as kept (the first `AGORA_EXECUTION_RECORD_BYTES` of it).
    pub input: String,
    /// Whether `input` is shorter than what was sent.
    pub input_truncated: bool,
    /// The result as kept (the first `AGORA_EXECUTION_RECORD_BYTES` of it).
    pub result: Option<String>,
    pub result_truncated: bool,
    pub error: Option<ErrorView>,
    pub usage: UsageView,
    pub cost: CostView,
    pub budget: i64,
    pub logs: Vec<LogView>,
    pub stdout: String,
    pub stderr: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The execution whose component made this run (a skill call or a hire), if one did.
    pub parent_id: Option<String>,
    /// The skill this run was a call of.
    pub skill_id: Option<String>,
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
            input_truncated: self.input_bytes > self.input.len() as i64,
            result: self.result.clone(),
            result_truncated: self.result.as_ref().is_some_and(|r| self.result_bytes > r.len() as i64),
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
            parent_id: self.parent_id.clone(),
            skill_id: self.skill_id.clone(),
        }
    }
}

/// One run in an execution's tree.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionNode {
    pub id: String,
    pub parent_id: Option<String>,
    /// The agent that worked (a skill call's: the skill's author).
    pub agent_id: String,
    /// Who paid: the agent whose component made the call.
    pub buyer_id: String,
    pub skill_id: Option<String>,
    pub component_id: Option<String>,
    pub status: String,
    pub error: Option<ErrorView>,
    pub budget: i64,
    pub cost: CostView,
    pub usage: UsageView,
    /// What this run and every run under it cost their payers: prices plus compute.
    pub total_cents: i64,
    pub created_at: String,
    #[schema(no_recursion)]
    pub children: Vec<ExecutionNode>,
}
