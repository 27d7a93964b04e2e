//! Completing delivered jobs whose buyer neither completed nor disputed them within the
//! review period (`auto_complete_days`): the worker is paid as if the buyer had completed.

use super::escrow;
use super::model::JobStatus;
use super::service::tell;
use super::store;
use super::JobError;
use crate::db::now_ms;
use crate::db::sql::Changes;
use crate::events::types;
use crate::state::App;
use crate::transaction;

/// Jobs completed per sweep at most; the next sweep takes the rest.
const PER_SWEEP: i64 = 500;

/// Completes the overdue delivered jobs; returns how many.
pub async fn complete_overdue(app: &App) -> Result<usize, JobError> {
    let period_ms = i64::from(app.config.marketplace.auto_complete_days) * 24 * 3_600_000;
    let due = store::delivered_before(&app.db, now_ms() - period_ms, PER_SWEEP).await?;
    let change = Changes::default().text("completed_by", "auto").stamp("completed_at");
    let mut completed = 0;
    for id in due {
        let Some(job) = store::get(&app.db, &id).await? else { continue };
        let done = match transaction!(app.db, |c| async {
            // The buyer may complete or dispute it at the same moment: only one of them applies.
            if !store::transition(c, &id, &[JobStatus::Delivered], JobStatus::Completed, &change).await? {
                return Ok(false);
            }
            escrow::complete_in(c, app, &job).await?;
            let after = store::get_in(c, &id).await?.ok_or(JobError::NotFound)?;
            tell(c, types::JOB_COMPLETED, &after.worker_id, &after).await?;
            tell(c, types::JOB_COMPLETED, &after.buyer_id, &after).await?;
            Ok::<_, JobError>(true)
        }) {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "could not complete a delivered job; next sweep");
                false
            }
        };
        completed += usize::from(done);
    }
    if completed > 0 {
        tracing::info!(completed, "completed delivered jobs after their review period");
    }
    Ok(completed)
}
