//! Running an agent for money, in three phases that `/api/execute`, a task's `run` and a
//! component's trial run share: `begin` (a slot for the payer and for the worker, then one
//! transaction that holds the payer's money and records the execution as running), `run` (the
//! component or endpoint, outside any transaction), and `settle_in` (inside the caller's
//! closing transaction: pay the worker and bill the metered compute, or on failure bill the
//! compute alone and refund the rest).
//!
//! Who pays what: the buyer's budget covers the agent's price plus metered compute
//! (`fuel / AGORA_FUEL_PER_CENT` cents, rounded down), and the run's fuel is capped at what
//! the budget leaves after the price. A failed run refunds the price, not the compute it
//! burned. A task's poster pays the worker and the compute of the successful run out of the
//! task's budget; a worker pays the compute of its own failed runs; a publisher pays for its
//! trials.

use agora_runtime::Kind;

use super::model::{CostView, ExecuteRequest, UsageView};
use super::nested::Nesting;
use super::run::{self, RunError, RunOutcome, RunRequest, Runner};
use super::slots::SlotGuard;
use super::store::{self, NewExecution};
use super::ExecutionError;
use crate::agents::model::{AgentRow, AgentStatus};
use crate::agents::store as agents;
use crate::db::new_id;
use crate::guardrails::enforce::{clear, Cleared, HostAction};
use crate::idempotency::Answer;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};
use crate::wallet::ledger::{self, Hold, LedgerError, Settlement};

/// The fuel a run may burn so that its compute (fuel / fuel-per-cent, rounded down) never
/// exceeds `spare_cents`.
pub fn fuel_allowance(app: &App, spare_cents: i64) -> u64 {
    let per_cent = app.config.execution.fuel_per_cent;
    let affordable = (spare_cents.max(0) as u64).saturating_add(1).saturating_mul(per_cent).saturating_sub(1);
    affordable.min(app.config.execution.exec_fuel)
}

pub fn compute_cents(app: &App, fuel: i64) -> i64 {
    fuel.max(0) / app.config.execution.fuel_per_cent as i64
}

fn record_bytes(app: &App) -> usize {
    app.config.execution.execution_record_bytes as usize
}

/// One paid run, as planned.
pub struct Plan<'a> {
    pub agent: &'a AgentRow,
    pub runner: &'a Runner,
    /// Recorded as the execution's buyer.
    pub buyer_id: &'a str,
    /// Whose wallet the run's hold comes from.
    pub payer_id: &'a str,
    /// Held from the payer before the run; 0 holds nothing.
    pub hold_cents: i64,
    pub hold_description: &'a str,
    /// Cents the run's compute may cost: bounds its fuel.
    pub compute_cents: i64,
    pub task_id: Option<&'a str>,
    pub input: &'a str,
    pub params: Option<String>,
    /// Where the run sits among nested runs (top level: the default).
    pub nesting: Nesting,
    /// The policies' check of the run, audited in the run's first transaction.
    pub cleared: Option<&'a Cleared>,
}

/// A run that began: its record, its hold, and the agents' slots while it lasts.
pub struct Started {
    pub execution_id: String,
    pub hold: Option<Hold>,
    fuel: u64,
    compute_cents: i64,
    _slots: SlotGuard,
}

impl Started {
    /// The fuel the run may burn.
    pub fn fuel(&self) -> u64 {
        self.fuel
    }
}

/// Takes a slot for the payer and one for the agent that works, then holds the payer's money
/// and records the run, in one transaction.
pub async fn begin(app: &App, plan: &Plan<'_>) -> Result<Started, ExecutionError> {
    let began = match take_slots(app, plan.payer_id, &plan.agent.id) {
        Ok(slots) => begin_in_slots(app, plan, slots).await,
        Err(e) => Err(e),
    };
    if let (Err(_), Some(cleared)) = (&began, plan.cleared) {
        cleared.record_after_failure(app).await;
    }
    began
}

/// A slot for the payer and one for the agent that works, or 429 when either has as many runs
/// in progress as it may.
pub fn take_slots(app: &App, payer_id: &str, agent_id: &str) -> Result<SlotGuard, ExecutionError> {
    app.slots
        .acquire(&[payer_id, agent_id])
        .map_err(|at| ExecutionError::TooManyExecutions { agent_id: at.agent_id, max: at.max })
}

/// `begin` with the slots taken already.
pub async fn begin_in_slots(app: &App, plan: &Plan<'_>, slots: SlotGuard) -> Result<Started, ExecutionError> {
    let execution_id = new_id();
    let backend = app.db.backend;
    let hold = transaction!(app.db, |c| async {
        if let Some(cleared) = plan.cleared {
            cleared.record_in(&mut *c);
        }
        let hold = match plan.hold_cents {
            0 => None,
            cents => Some(
                ledger::hold_in(c, backend, plan.payer_id, cents, plan.hold_description, Some(&execution_id)).await?,
            ),
        };
        let record = NewExecution {
            id: &execution_id,
            buyer_id: plan.buyer_id,
            agent_id: &plan.agent.id,
            runtime: plan.runner.name(),
            component_id: plan.runner.component_id(),
            task_id: plan.task_id,
            input: plan.input,
            budget_cents: plan.hold_cents,
            hold_id: hold.as_ref().map(|h| h.id.as_str()),
            parent_id: plan.nesting.parent_id.as_deref(),
            skill_id: plan.nesting.skill_id.as_deref(),
        };
        store::insert(c, &record, record_bytes(app)).await?;
        Ok::<_, LedgerError>(hold)
    })?;
    let fuel = fuel_allowance(app, plan.compute_cents);
    Ok(Started { execution_id, hold, fuel, compute_cents: plan.compute_cents, _slots: slots })
}

/// Runs the agent once; moves no money.
pub async fn run(app: &App, plan: &Plan<'_>, started: &Started) -> RunOutcome {
    run::run(
        app,
        RunRequest {
            agent: plan.agent,
            runner: plan.runner,
            execution_id: &started.execution_id,
            input: plan.input,
            caller_id: plan.buyer_id,
            payer_id: plan.payer_id,
            budget_cents: plan.hold_cents,
            compute_cents: started.compute_cents,
            params: plan.params.clone(),
            fuel: started.fuel,
            nesting: &plan.nesting,
        },
    )
    .await
}

/// What the run's hold pays.
pub struct Charge<'a> {
    pub payee: ledger::Payee<'a>,
    /// Paid to the payee (less the platform fee), on success only.
    pub price: i64,
    /// Billed to the platform whatever the outcome.
    pub compute: i64,
    /// When another hold paid for the run (a task's budget), its settlement: the run's record
    /// shows that cost rather than this hold's.
    pub paid_elsewhere: Option<&'a Settlement>,
}

/// Settles the run's hold and finishes its record, in the caller's transaction: on success
/// the payee gets the price less the fee, and the compute is billed; on failure only the
/// compute is billed; the rest goes back to the payer.
pub async fn settle_in(
    c: &mut crate::db::Conn,
    app: &App,
    started: &Started,
    outcome: &RunOutcome,
    charge: Charge<'_>,
) -> Result<Settlement, LedgerError> {
    let rates = app.config.money.rates();
    let price = if outcome.result.is_ok() { charge.price } else { 0 };
    let money = match &started.hold {
        None => Settlement::default(),
        Some(hold) if price == 0 && charge.compute == 0 => ledger::release_in(c, &hold.id).await?,
        Some(hold) => ledger::capture_in(c, &hold.id, charge.payee, price, charge.compute, rates).await?,
    };
    if outcome.result.is_ok() && charge.price > 0 {
        agents::count_completed_job(c, charge.payee.agent_id).await?;
    }
    let (recorded, recorded_price) = match charge.paid_elsewhere {
        Some(paid) => (paid, paid.paid_to_payee + paid.fee),
        None => (&money, price),
    };
    store::finish(c, &started.execution_id, outcome, recorded, recorded_price, record_bytes(app)).await?;
    Ok(money)
}

/// What `/api/execute` did.
pub struct Executed {
    pub execution_id: String,
    /// The agent's output, or why the run failed.
    pub result: Result<String, RunError>,
    pub usage: UsageView,
    pub cost: CostView,
    /// The buyer's balance after settling.
    pub balance: i64,
}

fn check_hireable(agent: &AgentRow, buyer: &str) -> Result<(), ExecutionError> {
    if agent.id == buyer {
        return Err(fail("agent_id", "an agent cannot hire itself").into());
    }
    if agent.standing() != AgentStatus::Active || agent.available_for_hire == 0 {
        return Err(ExecutionError::AgentUnavailable);
    }
    Ok(())
}

/// The agent with its endpoint secret, created for agents registered before secrets existed.
async fn with_endpoint_secret(app: &App, agent: AgentRow, runner: &Runner) -> Result<AgentRow, ExecutionError> {
    if matches!(runner, Runner::Endpoint(_)) && agent.endpoint_secret.is_none() {
        let secret = agents::endpoint_secret(&app.db, &agent).await?;
        return Ok(AgentRow { endpoint_secret: Some(secret), ..agent });
    }
    Ok(agent)
}

/// Hires an agent and gets its result now.
pub async fn execute(
    app: &App,
    buyer_id: &str,
    req: &ExecuteRequest,
    answer: Answer<'_, Executed>,
) -> Result<Executed, ExecutionError> {
    execute_within(app, buyer_id, req, Nesting::default(), answer).await
}

/// `execute` at a place among nested runs (a hire from a component).
pub async fn execute_within(
    app: &App,
    buyer_id: &str,
    req: &ExecuteRequest,
    nesting: Nesting,
    answer: Answer<'_, Executed>,
) -> Result<Executed, ExecutionError> {
    let input = validate::text("task_description", &req.task_description, 100_000)?;
    let params = match &req.params {
        None | Some(serde_json::Value::Null) => None,
        Some(p @ serde_json::Value::Object(_)) => Some(p.to_string()),
        Some(_) => return Err(fail("params", "must be a JSON object").into()),
    };
    let budget = validate::cents("budget", req.budget, 1, 100_000_000)?;
    let agent = agents::find(&app.db, req.agent_id.trim()).await?.ok_or(ExecutionError::AgentNotFound)?;
    check_hireable(&agent, buyer_id)?;
    let runner = run::runner_for(app, &agent).await?;
    let price = agent.price_per_task_cents;
    if budget < price {
        return Err(ExecutionError::BudgetTooLow(price));
    }
    let action = HostAction {
        tool_ref: if nesting.depth > 0 { "agora.hire" } else { "agora.execute" },
        action_type: "spend",
        access_level: None,
        operation: Some(agent.id.clone()),
        amount_cents: Some(budget),
        approval_id: req.approval_id.clone(),
        metadata: None,
    };
    let agent = with_endpoint_secret(app, agent, &runner).await?;
    let cleared = clear(app, buyer_id, action).await?;
    let plan = Plan {
        agent: &agent,
        runner: &runner,
        buyer_id,
        payer_id: buyer_id,
        hold_cents: budget,
        hold_description: "Direct execution",
        compute_cents: budget - price,
        task_id: None,
        input: &input,
        params,
        nesting,
        cleared: Some(&cleared),
    };
    let started = begin(app, &plan).await?;
    let outcome = run(app, &plan, &started).await;
    let compute = outcome.compute_cents(app, budget - price);
    transaction!(app.db, |c| async {
        let payee = ledger::Payee::new(&agent.id, agent.referred_by.as_deref());
        let charge = Charge { payee, price, compute, paid_elsewhere: None };
        let money = settle_in(c, app, &started, &outcome, charge).await?;
        // The refund's transfer row knows the buyer's balance; only without one is it read.
        let balance = match money.balance_after(&ledger::wallet_account(buyer_id)) {
            Some(balance) => balance,
            None => ledger::balance_in(&mut *c, buyer_id).await?.balance_cents,
        };
        let done = Executed {
            execution_id: started.execution_id.clone(),
            result: outcome.result.clone(),
            usage: outcome.usage(),
            cost: CostView::from_settlement(if outcome.result.is_ok() { price } else { 0 }, &money),
            balance,
        };
        // A run that never started (no free slot, component not loadable here) answers 503,
        // which is not the request's answer: a retry with the same key runs (the middleware
        // releases the key).
        if !matches!(&outcome.result, Err(e) if e.never_started()) {
            answer.record_in(c, &done).await?;
        }
        Ok::<_, ExecutionError>(done)
    })
}

/// The runner of a worker that must run a component: its agent component.
pub async fn component_runner(app: &App, worker: &AgentRow) -> Result<Runner, ExecutionError> {
    let runner = run::runner_for(app, worker).await?;
    match &runner {
        Runner::Component(c) if c.kind() == Some(Kind::Agent) => Ok(runner),
        _ => Err(ExecutionError::NotRunnable("only an agent with a component can have tasks run for it".into())),
    }
}
