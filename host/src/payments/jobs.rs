//! Background work of payments, as recurring scheduler jobs: auto pay, and settling charges
//! whose answer a stopped host never recorded.

use std::time::Duration;

use super::billing;
use crate::config::Config;
use crate::scheduler::{KindSpec, Registry};
use crate::state::App;

pub const AUTOPAY: &str = "billing.autopay";
pub const SETTLE_CHARGES: KindSpec = KindSpec::every("billing.settle_charges", Duration::from_secs(60));
/// A charge pending this long lost its request: no request waits for the provider longer.
const PENDING_CHARGE_STALE_MS: i64 = 120_000;

pub fn register(jobs: &mut Registry<App>, config: &Config) {
    let every = Duration::from_millis(config.payments.autopay_check_ms);
    jobs.add(KindSpec::every(AUTOPAY, every), |app, _| async move {
        billing::run_autopay(&app).await.map(drop).map_err(|e| e.to_string())
    });
    jobs.add(SETTLE_CHARGES, |app, _| async move {
        billing::settle_stale_charges(&app, PENDING_CHARGE_STALE_MS).await.map(drop).map_err(|e| e.to_string())
    });
}
