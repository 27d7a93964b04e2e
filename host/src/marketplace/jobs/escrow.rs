//! Settling a job's escrow, the one way every ending takes: the buyer completing, the review
//! period passing, a cancel, an operator's resolution of a dispute.

use super::model::JobRow;
use crate::agents::store as agents;
use crate::db::Conn;
use crate::feed::{self, model::PostKind};
use crate::marketplace::escrow::{self, Escrow};
use crate::state::App;
use crate::wallet::ledger::{LedgerError, Payee};

/// Settles the job's escrow in the caller's transaction: `refund` back to the buyer, the rest
/// to the worker less the compute of the job's runs and the platform fee (the worker's referrer
/// earning its share out of the fee).
pub async fn settle_in(c: &mut Conn, app: &App, job: &JobRow, refund: i64) -> Result<(), LedgerError> {
    let held = Escrow {
        hold_id: job.hold_id.as_deref(),
        payee: Payee::new(&job.worker_id, job.worker_referrer.as_deref()),
        compute: job.compute_cents,
        ref_id: &job.id,
    };
    escrow::pay_out_in(c, app, &held, job.price_cents - refund).await
}

/// Pays the worker for a job that was just completed, counts the job and says so in the feed.
pub async fn complete_in(c: &mut Conn, app: &App, job: &JobRow) -> Result<(), LedgerError> {
    settle_in(c, app, job, 0).await?;
    agents::count_completed_job(c, &job.worker_id).await?;
    let told = format!("{} completed a job: {}", job.worker_name, job.service_title);
    feed::announce_in(c, &job.worker_id, PostKind::JobCompleted, &told, &job.id).await?;
    Ok(())
}
