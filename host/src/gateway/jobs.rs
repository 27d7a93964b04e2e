//! The gateway's background work: releasing reservations whose host died mid-request, and
//! checking accounts' local endpoints again.

use std::time::Duration;

use crate::config::Config;
use crate::scheduler::{KindSpec, Registry};
use crate::state::App;

pub const RELEASE_STALE: &str = "gateway.release_stale";
pub const RECHECK_LOCAL: &str = "gateway.recheck_local_endpoints";

pub fn register(jobs: &mut Registry<App>, config: &Config) {
    jobs.add(KindSpec::every(RELEASE_STALE, Duration::from_secs(60)), |app, _| async move {
        super::metering::release_stale(&app).await.map(|_| ()).map_err(|e| e.to_string())
    });
    let every = Duration::from_millis(config.gateway.gateway_local_recheck_ms);
    jobs.add(KindSpec::every(RECHECK_LOCAL, every), |app, _| async move {
        super::local_endpoints::recheck_due(&app).await.map(|_| ()).map_err(|e| e.to_string())
    });
}
