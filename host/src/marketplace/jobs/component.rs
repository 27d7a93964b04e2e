//! Component fulfilment: a job of a `component` service is taken by the worker's component as
//! soon as it is paid for, and delivered in the same request: `DELIVERED` with the output, for
//! the buyer to complete or dispute, or back to the worker as `ACCEPTED` with the error.

use super::model::{JobRow, JobStatus};
use super::service::{tell, JobOutcome};
use super::store;
use super::JobError;
use crate::agents::model::AgentRow;
use crate::db::sql::Changes;
use crate::events::types;
use crate::idempotency::Answer;
use crate::marketplace::fulfil::{self, Ready};
use crate::state::App;
use crate::transaction;
use crate::wallet::ledger;

/// Runs the worker's component on the job (`IN_PROGRESS`), its compute capped at what the
/// price has left, and takes the result.
pub async fn deliver(
    app: &App,
    job: &JobRow,
    worker: &AgentRow,
    ready: Ready,
    answer: Answer<'_, JobOutcome>,
) -> Result<JobOutcome, JobError> {
    let max_compute = job.price_cents - job.compute_cents;
    let ran = fulfil::run(app, ready, worker, &job.buyer_id, &job.input, max_compute).await;
    transaction!(app.db, |c| async {
        let (to, change) = match &ran {
            Ok(run) => {
                let change =
                    Changes::default().text("execution_id", run.execution_id()).add("compute_cents", run.compute);
                match run.result() {
                    Ok(output) => (JobStatus::Delivered, change.text("output", output).stamp("delivered_at")),
                    Err(e) => (JobStatus::Accepted, change.text("last_error", &format!("{}: {}", e.code, e.message))),
                }
            }
            Err(e) => (JobStatus::Accepted, Changes::default().text("last_error", &e.to_string())),
        };
        // The worker may have cancelled during the run; then its result is not taken.
        let moved = store::transition(c, &job.id, &[JobStatus::InProgress], to, &change).await?;
        if let Ok(run) = &ran {
            fulfil::record_in(c, app, run, &job.worker_id, moved).await?;
        }
        let after = store::get_in(c, &job.id).await?.ok_or(JobError::NotFound)?;
        if moved && to == JobStatus::Delivered {
            tell(c, types::JOB_DELIVERED, &after.buyer_id, &after).await?;
        }
        let balance = ledger::balance_in(&mut *c, &job.buyer_id).await?.balance_cents;
        let done = JobOutcome { job: after, balance, checkout_url: None };
        answer.record_in(c, &done).await?;
        Ok::<_, JobError>(done)
    })
}
