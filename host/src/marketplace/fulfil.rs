//! Running a worker's component for the marketplace: a job of a `component` service, a run of a
//! component subscription. The escrow that pays for the work pays for its compute, so a run's
//! fuel is capped at what that escrow has left, and its caller records the compute against it
//! in the transaction that takes the result.

use crate::agents::model::AgentRow;
use crate::db::Conn;
use crate::executions::run::{RunError, RunOutcome, Runner};
use crate::executions::service::{self as executions, Charge, Plan, Started};
use crate::executions::slots::SlotGuard;
use crate::executions::ExecutionError;
use crate::state::App;
use crate::wallet::ledger::{LedgerError, Payee, Settlement};

/// A worker ready to run: its component, and its slots taken.
pub struct Ready {
    runner: Runner,
    slots: SlotGuard,
}

/// Checks that `worker` has an agent component this host can run and takes a run slot for it
/// and the buyer: done before any money moves, so a busy or broken worker is refused first.
pub async fn ready(app: &App, worker: &AgentRow, buyer_id: &str) -> Result<Ready, ExecutionError> {
    let runner = executions::component_runner(app, worker).await?;
    let slots = executions::take_slots(app, buyer_id, &worker.id)?;
    Ok(Ready { runner, slots })
}

/// A finished run and what its compute cost.
pub struct ComponentRun {
    started: Started,
    outcome: RunOutcome,
    pub compute: i64,
}

impl ComponentRun {
    pub fn execution_id(&self) -> &str {
        &self.started.execution_id
    }

    pub fn result(&self) -> &Result<String, RunError> {
        &self.outcome.result
    }
}

/// Runs the worker's component on `input` for `buyer_id`; its compute costs at most
/// `max_compute` cents. Moves no money.
pub async fn run(
    app: &App,
    ready: Ready,
    worker: &AgentRow,
    buyer_id: &str,
    input: &str,
    max_compute: i64,
) -> Result<ComponentRun, ExecutionError> {
    let plan = Plan {
        agent: worker,
        runner: &ready.runner,
        buyer_id,
        payer_id: buyer_id,
        hold_cents: 0,
        hold_description: "",
        compute_cents: max_compute.max(0),
        task_id: None,
        input,
        params: None,
        nesting: Default::default(),
        cleared: None,
    };
    let started = executions::begin_in_slots(app, &plan, ready.slots).await?;
    let outcome = executions::run(app, &plan, &started).await;
    let compute = outcome.compute_cents(app, max_compute.max(0));
    Ok(ComponentRun { started, outcome, compute })
}

/// Finishes the run's execution record in the caller's transaction. `billed` says whether the
/// escrow took the run's compute: not when the job or subscription moved on during the run.
pub async fn record_in(
    c: &mut Conn,
    app: &App,
    run: &ComponentRun,
    worker_id: &str,
    billed: bool,
) -> Result<(), LedgerError> {
    let paid = Settlement { compute: if billed { run.compute } else { 0 }, ..Default::default() };
    let charge = Charge { payee: Payee::new(worker_id, None), price: 0, compute: 0, paid_elsewhere: Some(&paid) };
    executions::settle_in(c, app, &run.started, &run.outcome, charge).await.map(drop)
}
