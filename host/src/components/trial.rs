//! Trial runs: a publisher runs its own component once, of any kind, under the host's normal
//! limits and the component's grants, and gets the full report (result or error, usage,
//! logs, stdio). The compute is paid from the publisher's wallet: `budget` cents are held,
//! the fuel is capped at what they buy, the metered compute is billed and the rest refunded.

use std::sync::Arc;

use agora_runtime::{Execution, HandlerAction, IncomingMessage, Kind, PolicyDecision, ProposedAction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::service::own;
use super::ComponentsError;
use crate::agents::store as agents;
use crate::db::{new_id, now_ms};
use crate::executions::model::{CostView, ErrorView, LogView, UsageView};
use crate::executions::nested;
use crate::executions::run::{ensure_prepared, invocation, RunError, RunOutcome, Runner};
use crate::executions::service::{self as executions, Charge, Plan};
use crate::gateway::inside::RunModelBudget;
use crate::idempotency::Answer;
use crate::state::App;
use crate::transaction;
use crate::validate::fail;
use crate::wallet::ledger;

/// What a trial may spend when the request names no budget.
pub const DEFAULT_TRIAL_BUDGET_CENTS: i64 = 10;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialMessage {
    pub from: String,
    pub to: String,
    pub content: String,
    pub thread_id: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialAction {
    pub kind: String,
    pub actor: Option<String>,
    pub amount_cents: Option<u64>,
    pub target: Option<String>,
    /// JSON text with more detail.
    pub detail: Option<String>,
}

/// What to run, by the component's kind: an agent takes `input` (and `params`), a skill
/// `input` (or `describe: true`), a handler a `message`, a policy an `action`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TrialRequest {
    /// Cents held from your wallet for the run's compute (default 10); what is not burned
    /// comes back.
    pub budget: Option<i64>,
    pub input: Option<String>,
    pub params: Option<String>,
    #[serde(default)]
    pub describe: bool,
    pub message: Option<TrialMessage>,
    pub action: Option<TrialAction>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrialReport {
    /// `succeeded` or `failed`.
    pub status: String,
    /// The output: text for agents and skills, `{name, version, ...}` for a skill's
    /// description, `{action, ...}` for handlers, `{decision, reason}` for policies.
    pub result: Option<Value>,
    pub error: Option<ErrorView>,
    pub usage: UsageView,
    pub logs: Vec<LogView>,
    pub stdout: String,
    pub stderr: String,
    /// The run's record (`GET /api/executions/{id}`).
    pub execution_id: String,
    /// What the run cost you: its compute; the rest of the budget was refunded.
    pub cost: CostView,
    pub balance: i64,
}

impl TrialReport {
    /// The run as an execution outcome, for its record.
    fn outcome(&self) -> RunOutcome {
        let result = match (&self.result, &self.error) {
            (Some(value), _) => Ok(match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            }),
            (None, Some(e)) => Err(RunError { code: run_error_code(&e.code), message: e.message.clone() }),
            (None, None) => Err(RunError { code: "trap", message: "no result".into() }),
        };
        RunOutcome {
            result,
            fuel: self.usage.fuel,
            model_micros: 0,
            wall_ms: self.usage.wall_ms,
            memory_bytes: self.usage.memory_bytes,
            logs: self.logs.iter().map(|l| (l.level.clone(), l.message.clone())).collect(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
        }
    }
}

/// The runtime's error codes, as the static strings records keep.
fn run_error_code(code: &str) -> &'static str {
    const CODES: [&str; 9] = [
        "timeout",
        "out_of_fuel",
        "memory_limit",
        "trap",
        "output_too_large",
        "capability_denied",
        "guest_error",
        "busy",
        "not_prepared",
    ];
    CODES.into_iter().find(|c| *c == code).unwrap_or("trap")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialResponse {
    pub success: bool,
    pub data: TrialReport,
}

fn report<T>(e: Execution<T>, to_json: impl FnOnce(T) -> Value) -> TrialReport {
    let (result, error, status) = match e.result {
        Ok(v) => (Some(to_json(v)), None, "succeeded"),
        Err(err) => (None, Some(ErrorView { code: err.code().to_string(), message: err.to_string() }), "failed"),
    };
    TrialReport {
        status: status.into(),
        result,
        error,
        usage: UsageView {
            fuel: e.usage.fuel as i64,
            wall_ms: e.usage.wall_ms as i64,
            memory_bytes: e.usage.memory_bytes as i64,
        },
        logs: e.logs.into_iter().map(|l| LogView { level: l.level, message: l.message }).collect(),
        stdout: e.stdout,
        stderr: e.stderr,
        execution_id: String::new(),
        cost: CostView { price_cents: 0, fee_cents: 0, compute_cents: 0, refunded_cents: 0 },
        balance: 0,
    }
}

fn required<T>(v: Option<T>, field: &str, kind: Kind) -> Result<T, ComponentsError> {
    v.ok_or_else(|| fail(field, &format!("a {kind} component needs it")).into())
}

/// Runs one of the publisher's components once, paid from its wallet.
pub async fn trial(
    app: &App,
    agent_id: &str,
    id: &str,
    req: TrialRequest,
    answer: Answer<'_, TrialReport>,
) -> Result<TrialReport, ComponentsError> {
    let c = own(app, agent_id, id).await?;
    let kind = c.kind().ok_or_else(|| ComponentsError::Internal(format!("unknown kind {}", c.kind)))?;
    let budget = crate::validate::cents("budget", req.budget.unwrap_or(DEFAULT_TRIAL_BUDGET_CENTS), 1, 100_000)?;
    let call = TrialCall::check(kind, req, agent_id)?;
    ensure_prepared(app, &c).await.map_err(|e| {
        tracing::error!(component = %c.id, error = %e, "component not runnable");
        ComponentsError::Unavailable("the component cannot be loaded right now".into())
    })?;
    let publisher = agents::get(&app.db, agent_id).await?.ok_or(ComponentsError::NotFound)?;
    let runner = Runner::Component(Arc::new(c.clone()));
    let input = call.describe();
    let plan = Plan {
        agent: &publisher,
        runner: &runner,
        buyer_id: agent_id,
        payer_id: agent_id,
        hold_cents: budget,
        hold_description: "Trial run",
        compute_cents: budget,
        task_id: None,
        input: &input,
        params: None,
        nesting: Default::default(),
        cleared: None,
    };
    let started = executions::begin(app, &plan).await?;
    let invocation = invocation(app, &c, format!("trial:{agent_id}"), started.fuel());
    let models = Arc::new(RunModelBudget::new(agent_id, &started.execution_id, budget));
    let invocation = nested::attach(app, invocation, &started.execution_id, agent_id, &plan.nesting, &models);
    let mut data = call.run(app, &c.digest, invocation).await;
    data.execution_id = started.execution_id.clone();
    let mut outcome = data.outcome();
    outcome.model_micros = models.spent_micros();
    let compute = outcome.compute_cents(app, budget);
    transaction!(app.db, |c| async {
        let money = executions::settle_in(
            c,
            app,
            &started,
            &outcome,
            Charge { payee: ledger::Payee::new(agent_id, None), price: 0, compute, paid_elsewhere: None },
        )
        .await?;
        data.cost = CostView::from_settlement(0, &money);
        data.balance = ledger::balance_in(&mut *c, agent_id).await?.balance_cents;
        answer.record_in(c, &data).await?;
        Ok::<_, ComponentsError>(())
    })?;
    Ok(data)
}

/// A trial's input, checked against the component's kind before any money moves.
enum TrialCall {
    Agent(agora_runtime::AgentTask),
    Describe,
    Skill(String),
    Handler(IncomingMessage),
    Policy(ProposedAction),
}

impl TrialCall {
    /// What the execution record keeps as the input.
    fn describe(&self) -> String {
        match self {
            TrialCall::Agent(task) => task.input.clone(),
            TrialCall::Describe => "describe".into(),
            TrialCall::Skill(input) => input.clone(),
            TrialCall::Handler(m) => m.content.clone(),
            TrialCall::Policy(a) => format!("{} {}", a.kind, a.detail),
        }
    }

    fn check(kind: Kind, req: TrialRequest, agent_id: &str) -> Result<TrialCall, ComponentsError> {
        Ok(match kind {
            Kind::Agent => TrialCall::Agent(agora_runtime::AgentTask {
                id: new_id(),
                input: required(req.input, "input", kind)?,
                params: req.params,
                budget_cents: 0,
                caller: Some(agent_id.to_string()),
            }),
            Kind::Skill if req.describe => TrialCall::Describe,
            Kind::Skill => TrialCall::Skill(required(req.input, "input", kind)?),
            Kind::Handler => {
                let m = required(req.message, "message", kind)?;
                TrialCall::Handler(IncomingMessage {
                    id: new_id(),
                    thread_id: m.thread_id.unwrap_or_else(new_id),
                    from: m.from,
                    to: m.to,
                    content: m.content,
                    content_type: m.content_type.unwrap_or_else(|| "text/plain".into()),
                    timestamp_ms: now_ms().max(0) as u64,
                })
            }
            Kind::Policy => {
                let a = required(req.action, "action", kind)?;
                TrialCall::Policy(ProposedAction {
                    kind: a.kind,
                    actor: a.actor.unwrap_or_else(|| agent_id.to_string()),
                    amount_cents: a.amount_cents,
                    target: a.target,
                    detail: a.detail.unwrap_or_else(|| "{}".into()),
                })
            }
        })
    }

    async fn run(self, app: &App, digest: &str, invocation: agora_runtime::Invocation) -> TrialReport {
        let rt = &app.runtime;
        match self {
            TrialCall::Agent(task) => report(rt.run_agent(digest, task, invocation).await, |o| Value::String(o.output)),
            TrialCall::Describe => report(rt.skill_describe(digest, invocation).await, |i| {
                json!({"name": i.name, "version": i.version, "description": i.description,
                       "inputSchema": i.input_schema, "outputSchema": i.output_schema})
            }),
            TrialCall::Skill(input) => report(rt.skill_invoke(digest, input, invocation).await, Value::String),
            TrialCall::Handler(message) => report(rt.run_handler(digest, message, invocation).await, |a| match a {
                HandlerAction::Reply(content) => json!({"action": "reply", "content": content}),
                HandlerAction::Forward { to, note } => json!({"action": "forward", "to": to, "note": note}),
                HandlerAction::CloseThread => json!({"action": "close-thread"}),
                HandlerAction::Ignore => json!({"action": "ignore"}),
            }),
            TrialCall::Policy(action) => report(rt.run_policy(digest, action, invocation).await, |d| match d {
                PolicyDecision::Allow(reason) => json!({"decision": "allow", "reason": reason}),
                PolicyDecision::Deny(reason) => json!({"decision": "deny", "reason": reason}),
                PolicyDecision::RequireApproval(reason) => json!({"decision": "require-approval", "reason": reason}),
            }),
        }
    }
}
