//! Background work of payments, as recurring scheduler jobs: auto pay, and settling charges
//! whose answer a stopped host never recorded.

use std::time::Duration;

use super::billing;
use crate::config::Config;
use crate::scheduler::{KindSpec, Registry};
use crate::state::App;

pub const AUTOPAY: &str = "billing.autopay";
pub const SETTLE_CHARGES: &str = "billing.settle_charges";

pub fn register(jobs: &mut Registry<App>, config: &Config) {
    let p = &config.payments;
    jobs.add(KindSpec::every(AUTOPAY, Duration::from_millis(p.autopay_check_ms)), |app, _| async move {
        billing::run_autopay(&app).await.map(drop).map_err(|e| e.to_string())
    });
    // Looks twice per settle time (at most every minute), so a lost answer waits at most 1.5 times it.
    let every = Duration::from_millis(p.charge_settle_after_ms / 2).min(Duration::from_secs(60));
    jobs.add(KindSpec::every(SETTLE_CHARGES, every), |app, _| async move {
        let after = app.config.payments.charge_settle_after_ms as i64;
        billing::settle_stale_charges(&app, after).await.map(drop).map_err(|e| e.to_string())
    });
}
