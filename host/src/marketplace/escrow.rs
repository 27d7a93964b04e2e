//! Paying out a marketplace escrow (a job's price, a subscription's billing period): what the
//! worker earned, less the compute its component runs burned, less the platform fee; the rest
//! back to the buyer. The compute is the worker's cost: it comes out of the earned part first,
//! and what that part cannot cover (a cancel, a refund) is billed to the worker's wallet, as far
//! as it holds. The buyer's refund is never touched.

use crate::db::Conn;
use crate::state::App;
use crate::wallet::ledger::{self, LedgerError, Payee};

/// An escrow to pay out.
pub struct Escrow<'a> {
    pub hold_id: Option<&'a str>,
    /// The worker (or provider) and its referrer.
    pub payee: Payee<'a>,
    /// What the component's runs paid by this escrow burned.
    pub compute: i64,
    /// The job or subscription, on a compute bill to the worker's wallet.
    pub ref_id: &'a str,
}

/// Pays `earned` of the escrow to its payee (less compute and fee) and the rest back to the
/// payer, in the caller's transaction.
pub async fn pay_out_in(c: &mut Conn, app: &App, escrow: &Escrow<'_>, earned: i64) -> Result<(), LedgerError> {
    let Some(hold) = escrow.hold_id else { return Ok(()) };
    let earned = earned.max(0);
    let compute_in_escrow = escrow.compute.min(earned);
    let gross = earned - compute_in_escrow;
    if gross == 0 && compute_in_escrow == 0 {
        ledger::release_in(c, hold).await?;
    } else {
        ledger::capture_in(c, hold, escrow.payee, gross, compute_in_escrow, app.config.money.rates()).await?;
    }
    let compute_left = escrow.compute - compute_in_escrow;
    if compute_left > 0 {
        let (backend, worker) = (app.db.backend, escrow.payee.agent_id);
        let why = "Compute of runs the escrow did not pay for";
        ledger::bill_compute_in(c, backend, worker, compute_left, why, Some(escrow.ref_id)).await?;
    }
    Ok(())
}
