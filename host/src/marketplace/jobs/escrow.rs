//! Settling a job's escrow, the one way every ending takes: the buyer completing, the review
//! period passing, a cancel, an operator's resolution of a dispute.
//!
//! What the worker's component runs burned is the worker's cost: it comes off the worker's part
//! of the escrow, and what that part cannot cover (a cancel, a refund) is billed to the worker's
//! wallet, as far as it holds. The buyer gets its refund whole.

use super::model::JobRow;
use crate::agents::store as agents;
use crate::db::Conn;
use crate::state::App;
use crate::wallet::ledger::{self, LedgerError, Payee};

/// Settles the job's escrow in the caller's transaction: `refund` back to the buyer, the rest
/// to the worker less the compute and the platform fee (the worker's referrer earning its
/// share out of the fee).
pub async fn settle_in(c: &mut Conn, app: &App, job: &JobRow, refund: i64) -> Result<(), LedgerError> {
    let Some(hold) = job.hold_id.as_deref() else { return Ok(()) };
    let worker_part = (job.price_cents - refund).max(0);
    let compute_in_escrow = job.compute_cents.min(worker_part);
    let gross = worker_part - compute_in_escrow;
    if gross == 0 && compute_in_escrow == 0 {
        ledger::release_in(c, hold).await?;
    } else {
        let payee = Payee::new(&job.worker_id, job.worker_referrer.as_deref());
        ledger::capture_in(c, hold, payee, gross, compute_in_escrow, app.config.money.rates()).await?;
    }
    let compute_left = job.compute_cents - compute_in_escrow;
    if compute_left > 0 {
        let why = "Compute of a refunded job's runs";
        ledger::bill_compute_in(c, app.db.backend, &job.worker_id, compute_left, why, Some(&job.id)).await?;
    }
    Ok(())
}

/// Pays the worker for a job that was just completed, and counts the job.
pub async fn complete_in(c: &mut Conn, app: &App, job: &JobRow) -> Result<(), LedgerError> {
    settle_in(c, app, job, 0).await?;
    agents::count_completed_job(c, &job.worker_id).await?;
    Ok(())
}
