//! AgentMarket's task market: post (the budget held in escrow), accept, complete (the worker
//! paid the budget less the platform fee), cancel while open (refunded), and run: a worker
//! backed by a component has it do the task.

use super::jobs;
use super::model::{NewTaskRequest, TaskRow, TaskStatus};
use super::store::{self, NewTask};
use super::TaskError;
use crate::agents::model::AgentRow;
use crate::agents::store as agents;
use crate::db::new_id;
use crate::executions::run::{RunError, RunOutcome};
use crate::executions::service::{self as executions, Charge, Plan};
use crate::executions::ExecutionError;
use crate::guardrails::enforce::{clear, HostAction};
use crate::idempotency::Answer;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};
use crate::wallet::ledger::{self, Payee, Settlement};

/// A task after a money-moving action, with the caller's balance then.
pub struct TaskOutcome {
    pub task: TaskRow,
    pub balance: i64,
}

async fn outcome_in(c: &mut crate::db::Conn, id: &str, caller: &str) -> Result<TaskOutcome, TaskError> {
    let task = store::get_in(c, id).await?.ok_or(TaskError::NotFound)?;
    let balance = ledger::balance_in(&mut *c, caller).await?.balance_cents;
    Ok(TaskOutcome { task, balance })
}

pub async fn get(app: &App, id: &str) -> Result<TaskRow, TaskError> {
    store::get(&app.db, id).await?.ok_or(TaskError::NotFound)
}

async fn status_now(app: &App, id: &str) -> Result<String, TaskError> {
    Ok(store::get(&app.db, id).await?.map(|t| t.status).unwrap_or_else(|| "gone".into()))
}

/// Posts a task, holding its budget from the poster's wallet, and announces it to the agents
/// that listen for its capabilities.
pub async fn post(
    app: &App,
    poster_id: &str,
    req: &NewTaskRequest,
    answer: Answer<'_, TaskOutcome>,
) -> Result<TaskOutcome, TaskError> {
    let title = validate::text("title", &req.title, 200)?;
    let description = validate::text("description", &req.description, 100_000)?;
    let budget = validate::cents("budget", req.budget, 1, 100_000_000)?;
    let capabilities = validate::labels("required_capabilities", &req.required_capabilities, 32)?;
    let action = HostAction {
        tool_ref: "agora.task",
        action_type: "spend",
        access_level: None,
        operation: Some(title.clone()),
        amount_cents: Some(budget),
        approval_id: req.approval_id.clone(),
        metadata: None,
    };
    let id = new_id();
    let backend = app.db.backend;
    // One more than are told inline says whether the job must tell them instead.
    let inline_limit = jobs::ANNOUNCE_INLINE as i64 + 1;
    let listeners = store::agents_to_announce(&app.db, poster_id, &capabilities, inline_limit).await?;
    let inline = listeners.len() <= jobs::ANNOUNCE_INLINE;
    let cleared = clear(app, poster_id, action).await.map_err(ExecutionError::from)?;
    let posted = transaction!(app.db, |c| async {
        cleared.record_in(&mut *c);
        let hold = ledger::hold_in(c, backend, poster_id, budget, &format!("Task: {title}"), Some(&id)).await?;
        let task = NewTask {
            id: &id,
            poster_id,
            title: &title,
            description: &description,
            budget_cents: budget,
            capabilities: &capabilities,
            hold_id: &hold.id,
        };
        let task = store::insert(c, &task).await?;
        let balance = match hold.payer_balance_after {
            Some(balance) => balance,
            None => ledger::balance_in(&mut *c, poster_id).await?.balance_cents,
        };
        let done = TaskOutcome { task, balance };
        if inline {
            jobs::announce_in(c, &id, &listeners, &jobs::posted_body(app, &done.task)).await?;
        } else {
            let announce = serde_json::json!({ "task_id": id });
            crate::scheduler::enqueue(c, jobs::ANNOUNCE, Some(&id), &announce, None).await?;
        }
        answer.record_in(c, &done).await?;
        Ok::<_, TaskError>(done)
    });
    if posted.is_err() {
        cleared.record_after_failure(app).await;
    }
    posted
}

/// Assigns an open task to the worker, who must list every capability it requires.
pub async fn accept(app: &App, worker_id: &str, id: &str) -> Result<TaskRow, TaskError> {
    let task = get(app, id).await?;
    if task.poster_id == worker_id {
        return Err(fail("id", "you cannot accept your own task").into());
    }
    let worker = agents::get(&app.db, worker_id).await?.ok_or(TaskError::NotFound)?;
    let have = worker.capability_list();
    let missing: Vec<String> = task.capabilities().into_iter().filter(|c| !have.contains(c)).collect();
    if !missing.is_empty() {
        return Err(TaskError::MissingCapabilities(missing));
    }
    let moved = transaction!(app.db, |c| store::transition(
        c,
        id,
        TaskStatus::Open,
        TaskStatus::Assigned,
        Some(worker_id),
        None
    ))?;
    if !moved {
        return Err(TaskError::NotOpen(status_now(app, id).await?));
    }
    get(app, id).await
}

/// Pays the worker (budget less compute, less the platform fee) and closes the task, in the
/// caller's transaction; `None` if the task was not assigned any more.
async fn close_in(
    c: &mut crate::db::Conn,
    app: &App,
    task: &TaskRow,
    worker: &AgentRow,
    result: &str,
    compute: i64,
) -> Result<Option<Settlement>, TaskError> {
    if !store::transition(c, &task.id, TaskStatus::Assigned, TaskStatus::Completed, None, Some(result)).await? {
        return Ok(None);
    }
    let gross = task.budget_cents - compute;
    let payee = Payee::new(&worker.id, worker.referred_by.as_deref());
    let s = ledger::capture_in(c, &task.hold_id, payee, gross, compute, app.config.money.rates()).await?;
    agents::count_completed_job(c, &worker.id).await?;
    Ok(Some(s))
}

fn assigned_to(task: &TaskRow, who: &str) -> Result<(), TaskError> {
    if task.assigned_to.as_deref() != Some(who) {
        return Err(TaskError::NotAssignee);
    }
    if task.state() != TaskStatus::Assigned {
        return Err(TaskError::NotAssigned(task.status.clone()));
    }
    Ok(())
}

/// The worker submits its result and is paid.
pub async fn complete(
    app: &App,
    worker_id: &str,
    id: &str,
    result: &str,
    answer: Answer<'_, TaskOutcome>,
) -> Result<TaskOutcome, TaskError> {
    let result = validate::text("result", result, 1_000_000)?;
    let task = get(app, id).await?;
    assigned_to(&task, worker_id)?;
    let worker = agents::get(&app.db, worker_id).await?.ok_or(TaskError::NotFound)?;
    let done = transaction!(app.db, |c| async {
        if close_in(c, app, &task, &worker, &result, 0).await?.is_none() {
            return Ok(None);
        }
        let done = outcome_in(c, id, worker_id).await?;
        answer.record_in(c, &done).await?;
        Ok::<_, TaskError>(Some(done))
    })?;
    match done {
        Some(row) => Ok(row),
        None => Err(TaskError::NotAssigned(status_now(app, id).await?)),
    }
}

/// The poster cancels its open task; the budget comes back.
pub async fn cancel(
    app: &App,
    poster_id: &str,
    id: &str,
    answer: Answer<'_, TaskOutcome>,
) -> Result<TaskOutcome, TaskError> {
    let task = get(app, id).await?;
    if task.poster_id != poster_id {
        return Err(TaskError::NotPoster);
    }
    let done = transaction!(app.db, |c| async {
        if !store::transition(c, id, TaskStatus::Open, TaskStatus::Cancelled, None, None).await? {
            return Ok(None);
        }
        ledger::release_in(c, &task.hold_id).await?;
        let done = outcome_in(c, id, poster_id).await?;
        answer.record_in(c, &done).await?;
        Ok::<_, TaskError>(Some(done))
    })?;
    match done {
        Some(row) => Ok(row),
        None => Err(TaskError::NotOpen(status_now(app, id).await?)),
    }
}

/// A task run: the task as it stands after, or why the run failed.
pub struct TaskRun {
    pub task: TaskOutcome,
    pub execution_id: String,
    pub failure: Option<RunError>,
}

/// Runs the task assigned to the worker on the worker's component. On success the task is
/// completed with the output, its budget paying the worker and the run's compute. The
/// worker pays the compute of a failed run, so its fuel is capped at what the worker can pay
/// (and at what the budget could); the task then stays assigned.
pub async fn run(app: &App, worker_id: &str, id: &str, answer: Answer<'_, TaskRun>) -> Result<TaskRun, TaskError> {
    let task = get(app, id).await?;
    assigned_to(&task, worker_id)?;
    let worker = agents::get(&app.db, worker_id).await?.ok_or(TaskError::NotFound)?;
    let runner = executions::component_runner(app, &worker).await?;
    let can_pay = app.ledger.balance(worker_id).await?.balance_cents;
    let allowance = can_pay.min(task.budget_cents).max(0);
    let plan = Plan {
        agent: &worker,
        runner: &runner,
        buyer_id: &task.poster_id,
        payer_id: worker_id,
        hold_cents: allowance,
        hold_description: "Compute for a task run",
        compute_cents: allowance,
        task_id: Some(&task.id),
        input: &task.description,
        params: None,
        nesting: Default::default(),
        cleared: None,
    };
    let started = executions::begin(app, &plan).await?;
    transaction!(app.db, |c| store::set_execution(c, &task.id, &started.execution_id))?;
    let outcome: RunOutcome = executions::run(app, &plan, &started).await;
    let compute = outcome.compute_cents(app, allowance);
    let ran = transaction!(app.db, |c| async {
        // The budget pays for a successful run that completes the task, and the worker's hold
        // goes back whole; otherwise the worker pays the compute.
        let paid = match &outcome.result {
            Ok(output) => close_in(c, app, &task, &worker, output, compute).await?,
            Err(_) => None,
        };
        let closed = paid.is_some();
        let charge = Charge {
            payee: Payee::new(worker_id, None),
            price: 0,
            compute: if closed { 0 } else { compute },
            paid_elsewhere: paid.as_ref(),
        };
        executions::settle_in(c, app, &started, &outcome, charge).await?;
        if outcome.result.is_ok() && !closed {
            return Ok(None);
        }
        let task = outcome_in(c, id, worker_id).await?;
        let done = TaskRun { task, execution_id: started.execution_id.clone(), failure: outcome.result.clone().err() };
        answer.record_in(c, &done).await?;
        Ok::<_, TaskError>(Some(done))
    })?;
    ran.ok_or(TaskError::ChangedWhileRunning)
}
