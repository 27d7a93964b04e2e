//! The marketplace's background work, one recurring scheduler job every
//! `marketplace_sweep_ms`: completing delivered jobs after their review period.

use std::time::Duration;

use super::jobs::auto;
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
    Ok(())
}
