//! The marketplace's background work, one recurring scheduler job every
//! `marketplace_sweep_ms`: completing delivered jobs after their review period, renewing the
//! subscriptions whose billing period ended, and starting their due runs.

use std::time::Duration;

use super::jobs::auto;
use super::subscriptions::{billing, runs};
use crate::config::Config;
use crate::scheduler::{KindSpec, Registry};
use crate::state::App;

pub const SWEEP: &str = "marketplace.sweep";

pub fn register(jobs: &mut Registry<App>, config: &Config) {
    let every = Duration::from_millis(config.marketplace.marketplace_sweep_ms);
    jobs.add(KindSpec::every(SWEEP, every), |app, _| async move { sweep(&app).await.map_err(|e| e.to_string()) });
}

async fn sweep(app: &App) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    auto::complete_overdue(app).await?;
    billing::renew_due(app).await?;
    runs::run_due(app).await?;
    Ok(())
}
