//! Disputes: a buyer disputes a delivery, an operator resolves it by splitting the escrow:
//! `refundCents` back to the buyer, the rest to the worker, the platform fee (and the compute
//! of the job's runs, see `escrow`) taken from the worker's part only. A refund of the whole
//! price cancels the job; any other split completes it. The operator's note is on the job for
//! both parties.

use super::escrow;
use super::model::{JobQuery, JobRow, JobStatus};
use super::service::{tell, JobPage};
use super::store;
use super::JobError;
use crate::agents::store as agents;
use crate::db::page::Page;
use crate::db::sql::Changes;
use crate::events::types;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

/// Disputed jobs, newest first.
pub async fn list(app: &App, q: &JobQuery) -> Result<JobPage, JobError> {
    let page = Page::parse(q.limit, q.offset, q.cursor.as_deref())?;
    let (rows, total) = store::list(&app.db, None, None, Some(JobStatus::Disputed), &page).await?;
    let (jobs, meta) = page.cut(rows, total, |j| (j.created_at, j.id.clone()));
    Ok(JobPage { jobs, meta })
}

/// Resolves a disputed job: `refund_cents` to the buyer, the rest of the escrow (less compute)
/// to the worker.
pub async fn resolve(app: &App, id: &str, refund_cents: i64, note: &str) -> Result<JobRow, JobError> {
    let note = validate::optional_text("note", note, 5_000)?;
    let job = store::get(&app.db, id).await?.ok_or(JobError::NotFound)?;
    if job.state() != JobStatus::Disputed {
        return Err(JobError::Transition { action: "resolve", status: job.status });
    }
    if !(0..=job.price_cents).contains(&refund_cents) {
        return Err(fail("refundCents", &format!("must be from 0 to the price, {} cents", job.price_cents)).into());
    }
    let (to, party_column) = match refund_cents == job.price_cents {
        true => (JobStatus::Cancelled, ("cancelled_by", "cancelled_at")),
        false => (JobStatus::Completed, ("completed_by", "completed_at")),
    };
    let change = Changes::default()
        .text(party_column.0, "operator")
        .stamp(party_column.1)
        .int("refund_cents", refund_cents)
        .text("resolution_note", &note)
        .stamp("resolved_at");
    let resolved = transaction!(app.db, |c| async {
        if !store::transition(c, id, &[JobStatus::Disputed], to, &change).await? {
            return Ok(None);
        }
        escrow::settle_in(c, app, &job, refund_cents).await?;
        if to == JobStatus::Completed {
            agents::count_completed_job(c, &job.worker_id).await?;
        }
        let after = store::get_in(c, id).await?.ok_or(JobError::NotFound)?;
        let event = if to == JobStatus::Completed { types::JOB_COMPLETED } else { types::JOB_CANCELLED };
        tell(c, event, &after.buyer_id, &after).await?;
        tell(c, event, &after.worker_id, &after).await?;
        Ok::<_, JobError>(Some(after))
    })?;
    match resolved {
        Some(job) => Ok(job),
        None => {
            let now = store::get(&app.db, id).await?.ok_or(JobError::NotFound)?;
            Err(JobError::Transition { action: "resolve", status: now.status })
        }
    }
}
