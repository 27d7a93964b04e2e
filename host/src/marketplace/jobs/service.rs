//! Hiring and the job lifecycle. Each action is one transaction whose conditional status
//! update decides it: two concurrent completes capture once, a cancel racing a complete
//! either refunds or pays, never both.

use serde_json::Value;

use super::model::*;
use super::store::{self, NewJob};
use super::{component, escrow, JobError};
use crate::agents::model::{AgentRow, AgentStatus};
use crate::agents::store as agents;
use crate::db::page::{BadQuery, Page, PageMeta};
use crate::db::sql::Changes;
use crate::db::{new_id, now_ms, Conn};
use crate::events;
use crate::idempotency::Answer;
use crate::marketplace::fulfil;
use crate::marketplace::services::model::{Fulfilment, ServiceRow, ServiceType, Tier};
use crate::marketplace::services::store as services;
use crate::notifications::model::NoticeKind;
use crate::notifications::{inbox_in, Notice};
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};
use crate::wallet::ledger;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A job after an action, with the caller's balance then.
pub struct JobOutcome {
    pub job: JobRow,
    pub balance: i64,
    /// Where the buyer pays, when the job waits for a checkout (`PENDING_PAYMENT`).
    pub checkout_url: Option<String>,
}

/// A hire checked and priced, not paid yet.
pub struct Order {
    pub service: ServiceRow,
    pub tier: Tier,
    pub worker: AgentRow,
    pub input: String,
}

impl Order {
    pub fn new_job<'a>(
        &'a self,
        id: &'a str,
        buyer_id: &'a str,
        status: JobStatus,
        hold_id: Option<&'a str>,
    ) -> NewJob<'a> {
        NewJob {
            id,
            service_id: &self.service.id,
            service_title: &self.service.title,
            tier_name: &self.tier.name,
            delivery_days: self.tier.delivery_days,
            buyer_id,
            worker_id: &self.service.agent_id,
            input: &self.input,
            price_cents: self.tier.price_cents,
            status,
            fulfilment: &self.service.fulfilment,
            hold_id,
            subscription_id: None,
        }
    }

    pub fn by_component(&self) -> bool {
        self.service.fulfilled_by() == Fulfilment::Component
    }

    /// What the hold and the payment are called in the buyer's wallet history.
    pub fn description(&self) -> String {
        format!("Hired {} for {}", self.worker.name, self.service.title)
    }
}

/// Checks that the buyer may hire `service_id` at the named tier (the cheapest by default).
pub async fn order(
    app: &App,
    buyer_id: &str,
    service_id: &str,
    tier: Option<&str>,
    input: &str,
) -> Result<Order, JobError> {
    let service = hireable(app, buyer_id, service_id).await?;
    order_for(app, buyer_id, service, tier, input).await
}

/// An order of a service already chosen (an unlisted one, for a custom proposal's quote).
pub async fn order_for(
    app: &App,
    buyer_id: &str,
    service: ServiceRow,
    tier: Option<&str>,
    input: &str,
) -> Result<Order, JobError> {
    let input = validate::text("input", input, 100_000)?;
    if service.agent_id == buyer_id {
        return Err(fail("serviceId", "you cannot hire your own service").into());
    }
    let Some(tier) = service.tier(tier) else {
        let names: Vec<String> = service.tier_list().into_iter().map(|t| t.name).collect();
        return Err(fail("tierId", &format!("this service's tiers are {}", names.join(", "))).into());
    };
    let worker = worker_of(app, &service).await?;
    Ok(Order { service, tier, worker, input })
}

/// Hires `service_id` at the named tier: the tier's price is held in escrow from the buyer's
/// wallet and the job is REQUESTED. 402 when the wallet is short. A `component` service's job
/// is taken by the worker's component at once and delivered in the same request (see
/// `component::deliver`).
pub async fn hire(
    app: &App,
    buyer_id: &str,
    service_id: &str,
    tier: Option<&str>,
    input: &str,
    answer: Answer<'_, JobOutcome>,
) -> Result<JobOutcome, JobError> {
    let order = order(app, buyer_id, service_id, tier, input).await?;
    start(app, buyer_id, &order, answer).await
}

/// Pays for the order from the buyer's wallet and starts the job.
pub async fn start(
    app: &App,
    buyer_id: &str,
    order: &Order,
    answer: Answer<'_, JobOutcome>,
) -> Result<JobOutcome, JobError> {
    let ready = match order.by_component() {
        true => Some(fulfil::ready(app, &order.worker, buyer_id).await?),
        false => None,
    };
    let status = if ready.is_some() { JobStatus::InProgress } else { JobStatus::Requested };
    let id = new_id();
    let backend = app.db.backend;
    let description = order.description();
    let created = transaction!(app.db, |c| async {
        let hold = ledger::hold_in(c, backend, buyer_id, order.tier.price_cents, &description, Some(&id)).await?;
        store::insert(c, &order.new_job(&id, buyer_id, status, Some(&hold.id))).await?;
        let job = store::get_in(c, &id).await?.ok_or(JobError::NotFound)?;
        tell(c, events::types::JOB_CREATED, &job.worker_id, &job).await?;
        let balance = match hold.payer_balance_after {
            Some(b) => b,
            None => ledger::balance_in(&mut *c, buyer_id).await?.balance_cents,
        };
        let done = JobOutcome { job, balance, checkout_url: None };
        // A component's job is answered once its run is over.
        if ready.is_none() {
            answer.record_in(c, &done).await?;
        }
        Ok::<_, JobError>(done)
    })?;
    match ready {
        None => Ok(created),
        Some(ready) => component::deliver(app, &created.job, &order.worker, ready, answer).await,
    }
}

/// The service, if it can be hired by this buyer now.
async fn hireable(app: &App, buyer_id: &str, service_id: &str) -> Result<ServiceRow, JobError> {
    let service = services::get(&app.db, service_id).await?.ok_or(JobError::ServiceNotFound)?;
    if service.active != 1 {
        return Err(JobError::Unavailable("this service is no longer offered".into()));
    }
    if service.kind() == ServiceType::Subscription {
        return Err(fail("serviceId", "a SUBSCRIPTION service is subscribed to, not hired").into());
    }
    if service.agent_id == buyer_id {
        return Err(fail("serviceId", "you cannot hire your own service").into());
    }
    Ok(service)
}

async fn worker_of(app: &App, service: &ServiceRow) -> Result<AgentRow, JobError> {
    let worker = agents::get(&app.db, &service.agent_id).await?.ok_or(JobError::ServiceNotFound)?;
    if worker.status != AgentStatus::Active.as_str() {
        return Err(JobError::Unavailable("the agent offering this service is not active".into()));
    }
    Ok(worker)
}

/// Records a job event for `agent_id` in Toku's webhook shape (with `jobId`).
/// The event is in the agent's inbox too (a `job` notification).
pub async fn tell(c: &mut Conn, event_type: &str, agent_id: &str, job: &JobRow) -> Result<(), sqlx::Error> {
    let mut body = events::toku_payload(event_type, agent_id, job.event_data());
    body["jobId"] = Value::String(job.id.clone());
    events::record(c, event_type, agent_id, Some(&job.id), &body).await?;
    let what = event_type.trim_start_matches("job.");
    let notice = Notice {
        agent_id,
        kind: NoticeKind::Job,
        title: format!("Job {what}: {}", job.service_title),
        body: format!("The job \"{}\" is {}.", job.service_title, job.status),
        link: Some(format!("/jobs/{}", job.id)),
        data: serde_json::json!({"event": event_type, "jobId": job.id, "status": job.status}),
    };
    inbox_in(c, &notice).await
}

/// The job, if `agent_id` is its buyer or worker; anyone else is told it does not exist.
pub async fn get(app: &App, agent_id: &str, id: &str) -> Result<JobRow, JobError> {
    match store::get(&app.db, id).await? {
        Some(job) if job.buyer_id == agent_id || job.worker_id == agent_id => Ok(job),
        _ => Err(JobError::NotFound),
    }
}

pub struct JobPage {
    pub jobs: Vec<JobRow>,
    pub meta: PageMeta,
}

pub async fn list(app: &App, agent_id: &str, q: &JobQuery) -> Result<JobPage, JobError> {
    let role = match q.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(r @ ("buyer" | "worker")) => Some(r),
        Some(_) => return Err(BadQuery("role must be buyer or worker".into()).into()),
        None => None,
    };
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(s.to_uppercase().parse::<JobStatus>().map_err(|_| BadQuery(format!("unknown status {s}")))?),
        None => None,
    };
    let page = Page::parse(q.limit, q.offset, q.cursor.as_deref())?;
    let (rows, total) = store::list(&app.db, Some(agent_id), role, status, &page).await?;
    let (jobs, meta) = page.cut(rows, total, |j| (j.created_at, j.id.clone()));
    Ok(JobPage { jobs, meta })
}

/// Which party may take an action, the statuses it applies to, and where it leads.
struct Rule {
    party: &'static str,
    from: &'static [JobStatus],
    to: JobStatus,
    stamp: Option<&'static str>,
}

fn rule(action: JobAction) -> Rule {
    use JobStatus::*;
    match action {
        JobAction::Accept => Rule { party: "worker", from: &[Requested], to: Accepted, stamp: Some("accepted_at") },
        JobAction::Start => Rule { party: "worker", from: &[Accepted], to: InProgress, stamp: None },
        JobAction::Deliver => {
            Rule { party: "worker", from: &[Accepted, InProgress], to: Delivered, stamp: Some("delivered_at") }
        }
        JobAction::Complete => Rule { party: "buyer", from: &[Delivered], to: Completed, stamp: Some("completed_at") },
        JobAction::Dispute => Rule { party: "buyer", from: &[Delivered], to: Disputed, stamp: Some("disputed_at") },
        // Who may cancel when is decided by `may_cancel`.
        JobAction::Cancel => Rule {
            party: "either",
            from: &[PendingPayment, Requested, Accepted, InProgress],
            to: Cancelled,
            stamp: Some("cancelled_at"),
        },
    }
}

/// The cancellation rule: before the worker accepts, either party may cancel. Once accepted,
/// the worker may still cancel (giving up the work), but the buyer only when the tier's
/// delivery time since acceptance has passed without a delivery. Delivered work is completed
/// or disputed, not cancelled. The escrow goes back to the buyer whole.
fn may_cancel(job: &JobRow, party: &str, now: i64) -> Result<(), JobError> {
    let accepted = matches!(job.state(), JobStatus::Accepted | JobStatus::InProgress);
    if party == "buyer" && accepted {
        let due = job.accepted_at.unwrap_or(job.created_at) + job.delivery_days * DAY_MS;
        if now < due {
            return Err(JobError::Rule(format!(
                "the worker accepted this job and has until {} to deliver; until then only the worker may cancel it",
                crate::db::rfc3339(due)
            )));
        }
    }
    Ok(())
}

/// Takes `action` on the job for `agent_id`.
pub async fn act(
    app: &App,
    agent_id: &str,
    id: &str,
    req: &JobActionRequest,
    answer: Answer<'_, JobOutcome>,
) -> Result<JobOutcome, JobError> {
    let action = req
        .action
        .trim()
        .to_lowercase()
        .parse::<JobAction>()
        .map_err(|_| fail("action", "must be accept, start, deliver, complete, cancel or dispute"))?;
    let job = get(app, agent_id, id).await?;
    let party = if job.buyer_id == agent_id { "buyer" } else { "worker" };
    let rule = rule(action);
    if rule.party != "either" && rule.party != party {
        return Err(JobError::WrongParty(rule.party, action.as_str()));
    }
    let output = match action {
        JobAction::Deliver => Some(validate::text("output", req.output.as_deref().unwrap_or(""), 1_000_000)?),
        _ => None,
    };
    if !rule.from.contains(&job.state()) {
        return Err(JobError::Transition { action: action.as_str(), status: job.status.clone() });
    }
    if action == JobAction::Cancel {
        may_cancel(&job, party, now_ms())?;
    }
    let mut change = Changes::default();
    if let Some(output) = &output {
        change = change.text("output", output);
    }
    match action {
        JobAction::Cancel => change = change.text("cancelled_by", party),
        JobAction::Complete => change = change.text("completed_by", party),
        _ => {}
    }
    if let Some(column) = rule.stamp {
        change = change.stamp(column);
    }
    let done = transaction!(app.db, |c| async {
        // Applies only from the status the checks above saw: a concurrent action that moved
        // the job first makes this one a conflict, with nothing written.
        if !store::transition(c, id, &[job.state()], rule.to, &change).await? {
            return Ok(None);
        }
        match action {
            JobAction::Complete => escrow::complete_in(c, app, &job).await?,
            JobAction::Cancel => escrow::settle_in(c, app, &job, job.price_cents).await?,
            _ => {}
        }
        let after = store::get_in(c, id).await?.ok_or(JobError::NotFound)?;
        if let Some((event_type, to)) = event_of(action, &after, party) {
            tell(c, event_type, to, &after).await?;
        }
        let balance = ledger::balance_in(&mut *c, agent_id).await?.balance_cents;
        let done = JobOutcome { job: after, balance, checkout_url: None };
        answer.record_in(c, &done).await?;
        Ok::<_, JobError>(Some(done))
    })?;
    match done {
        Some(done) => Ok(done),
        None => {
            let now = store::get(&app.db, id).await?.ok_or(JobError::NotFound)?;
            Err(JobError::Transition { action: action.as_str(), status: now.status })
        }
    }
}

/// The event an action causes, and the agent told: the other party.
fn event_of<'a>(action: JobAction, job: &'a JobRow, party: &str) -> Option<(&'static str, &'a str)> {
    use events::types::*;
    let other = if party == "buyer" { &job.worker_id } else { &job.buyer_id };
    let event_type = match action {
        JobAction::Accept => JOB_ACCEPTED,
        JobAction::Deliver => JOB_DELIVERED,
        JobAction::Complete => JOB_COMPLETED,
        JobAction::Cancel => JOB_CANCELLED,
        JobAction::Dispute => JOB_DISPUTED,
        JobAction::Start => return None,
    };
    Some((event_type, other))
}
