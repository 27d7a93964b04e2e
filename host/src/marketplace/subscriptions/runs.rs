//! A subscription's scheduled runs, every `runIntervalHours` while it is ACTIVE. A component
//! service's run is the provider's component on the subscription's input, metered, its fuel
//! capped at what the period's price has left after earlier runs' compute, its output kept for
//! the subscriber. A manual service's run creates a job for the provider (paid for by the
//! subscription, so it holds nothing itself). A run missed while the host was down is not made
//! up: the next one is due an interval after the host noticed.

use serde_json::json;

use super::model::{RunStatus, SubscriptionRow, SubscriptionStatus};
use super::store::{self, RunEnd};
use super::SubscriptionError;
use crate::agents::store as agents;
use crate::db::sql::Changes;
use crate::db::{new_id, now_ms, Conn};
use crate::events::{self, types};
use crate::marketplace::fulfil;
use crate::marketplace::jobs::model::JobStatus;
use crate::marketplace::jobs::service::tell;
use crate::marketplace::jobs::store::{self as jobs, NewJob};
use crate::marketplace::services::model::Fulfilment;
use crate::state::App;
use crate::transaction;

const HOUR_MS: i64 = 3_600_000;
/// Runs started per sweep at most; the next sweep takes the rest.
const PER_SWEEP: i64 = 100;

/// Starts every run that is due; returns how many ran.
pub async fn run_due(app: &App) -> Result<usize, SubscriptionError> {
    let mut ran = 0;
    for id in store::due(&app.db, "next_run_at", PER_SWEEP).await? {
        let Some(sub) = store::get(&app.db, &id).await? else { continue };
        match run_one(app, &sub).await {
            Ok(started) => ran += usize::from(started),
            Err(e) => tracing::warn!(subscription = %id, error = %e, "could not run a subscription; next sweep"),
        }
    }
    Ok(ran)
}

async fn run_one(app: &App, sub: &SubscriptionRow) -> Result<bool, SubscriptionError> {
    let Some(scheduled) = sub.next_run_at.filter(|at| *at <= now_ms()) else { return Ok(false) };
    if sub.state() != SubscriptionStatus::Active {
        return Ok(false);
    }
    let interval = sub.run_interval_hours * HOUR_MS;
    let next = match scheduled + interval {
        next if next > now_ms() => next,
        _ => now_ms() + interval,
    };
    let manual = sub.fulfilment.parse::<Fulfilment>().unwrap_or(Fulfilment::Manual) == Fulfilment::Manual;
    // Claiming the run (its row is unique per scheduled time) and moving the schedule on is
    // one transaction: two hosts never run it twice.
    let claimed = transaction!(app.db, |c| async {
        let Some(run_id) = store::start_run(c, &sub.id, scheduled).await? else { return Ok(None) };
        let changes = Changes::default().int("next_run_at", next);
        if !store::update(c, &sub.id, &[SubscriptionStatus::Active], None, &changes).await? {
            return Ok(None);
        }
        if manual {
            let job_id = create_job_in(c, sub).await?;
            let end = RunEnd {
                status: RunStatus::Completed,
                output: None,
                error: None,
                execution_id: None,
                job_id: Some(&job_id),
            };
            finish_in(c, sub, &run_id, &end, 0).await?;
        }
        Ok::<_, SubscriptionError>(Some(run_id))
    })?;
    let Some(run_id) = claimed else { return Ok(false) };
    if !manual {
        run_component(app, sub, &run_id).await?;
    }
    Ok(true)
}

async fn run_component(app: &App, sub: &SubscriptionRow, run_id: &str) -> Result<(), SubscriptionError> {
    let left = sub.price_cents - sub.compute_cents;
    let provider = agents::get(&app.db, &sub.provider_id).await?;
    let ran = match provider {
        None => Err("the provider is gone".to_string()),
        Some(_) if left <= 0 => Err("this billing period's price is spent on compute".to_string()),
        Some(provider) => match fulfil::ready(app, &provider, &sub.buyer_id).await {
            Err(e) => Err(e.to_string()),
            Ok(ready) => {
                fulfil::run(app, ready, &provider, &sub.buyer_id, &sub.input, left).await.map_err(|e| e.to_string())
            }
        },
    };
    transaction!(app.db, |c| async {
        let (end, compute) = match &ran {
            Ok(run) => {
                // Billed only while the period that paid for the run is still open.
                let changes = Changes::default().add("compute_cents", run.compute);
                let hold = sub.hold_id.as_deref();
                let billed = store::update(c, &sub.id, &[SubscriptionStatus::Active], hold, &changes).await?;
                fulfil::record_in(c, app, run, &sub.provider_id, billed).await?;
                let end = match run.result() {
                    Ok(output) => RunEnd {
                        status: RunStatus::Completed,
                        output: Some(output),
                        error: None,
                        execution_id: Some(run.execution_id()),
                        job_id: None,
                    },
                    Err(e) => RunEnd {
                        status: RunStatus::Failed,
                        output: None,
                        error: Some(&e.message),
                        execution_id: Some(run.execution_id()),
                        job_id: None,
                    },
                };
                (end, run.compute)
            }
            Err(why) => (
                RunEnd { status: RunStatus::Failed, output: None, error: Some(why), execution_id: None, job_id: None },
                0,
            ),
        };
        finish_in(c, sub, run_id, &end, compute).await
    })
}

/// Records how the run ended, counts it, and tells the subscriber.
async fn finish_in(
    c: &mut Conn,
    sub: &SubscriptionRow,
    run_id: &str,
    end: &RunEnd<'_>,
    compute: i64,
) -> Result<(), SubscriptionError> {
    store::finish_run(c, run_id, end).await?;
    let ok = end.status == RunStatus::Completed;
    let counts = Changes::default().add("total_runs", 1).add("successful_runs", i64::from(ok));
    let all = [SubscriptionStatus::Active, SubscriptionStatus::Paused, SubscriptionStatus::Cancelled];
    store::update(c, &sub.id, &all, None, &counts).await?;
    if end.job_id.is_some() {
        return Ok(());
    }
    let event = if ok { types::SUBSCRIPTION_RUN_COMPLETED } else { types::SUBSCRIPTION_RUN_FAILED };
    let data = json!({
        "subscriptionId": sub.id,
        "runId": run_id,
        "status": end.status.as_str(),
        "output": end.output,
        "error": end.error,
        "executionId": end.execution_id,
        "computeCents": compute,
        "serviceId": sub.service_id,
        "serviceName": sub.service_title,
    });
    let body = events::toku_payload(event, &sub.buyer_id, data);
    events::record(c, event, &sub.buyer_id, Some(run_id), &body).await?;
    Ok(())
}

/// A manual service's run: a job for the provider, on the subscription's input.
async fn create_job_in(c: &mut Conn, sub: &SubscriptionRow) -> Result<String, SubscriptionError> {
    let id = new_id();
    let job = NewJob {
        id: &id,
        service_id: &sub.service_id,
        service_title: &sub.service_title,
        tier_name: "Subscription",
        delivery_days: (sub.run_interval_hours / 24).max(1),
        buyer_id: &sub.buyer_id,
        worker_id: &sub.provider_id,
        input: &sub.input,
        price_cents: sub.price_cents,
        status: JobStatus::Requested,
        fulfilment: Fulfilment::Manual.as_str(),
        hold_id: None,
        subscription_id: Some(&sub.id),
    };
    jobs::insert(c, &job).await?;
    if let Some(job) = jobs::get_in(c, &id).await? {
        tell(c, types::JOB_CREATED, &job.worker_id, &job).await?;
    }
    Ok(id)
}
