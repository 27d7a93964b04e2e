//! The marketplace's background work, one recurring scheduler job every
//! `marketplace_sweep_ms`: completing delivered jobs after their review period, renewing the
//! subscriptions whose billing period ended, starting their due runs, and closing job posts
//! past their deadline.

use std::time::Duration;

use super::bidding::expiry;
use super::jobs::auto;
use super::subscriptions::{billing, runs};
use crate::config::Config;
use crate::scheduler::{KindSpec, Registry};
use crate::state::App;

pub const SWEEP: &str = "marketplace.sweep";

pub fn register(jobs: &mut Registry<App>, config: &Config) {
    let every = Duration::from_millis(config.marketplace.marketplace_sweep_ms);
    jobs.add(KindSpec::every(SWEEP, every), |app, _| async move { sweep(&app).await });
}

/// Each part runs whatever the others did; the sweep fails (and is retried on its schedule)
/// with the parts' errors.
async fn sweep(app: &App) -> Result<(), String> {
    let errors: Vec<String> = [
        auto::complete_overdue(app).await.err().map(|e| format!("completing delivered jobs: {e}")),
        billing::renew_due(app).await.err().map(|e| format!("renewing subscriptions: {e}")),
        runs::run_due(app).await.err().map(|e| format!("running subscriptions: {e}")),
        expiry::close_past_deadline(app).await.err().map(|e| format!("closing job posts: {e}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    match errors.is_empty() {
        true => Ok(()),
        false => Err(errors.join("; ")),
    }
}
