//! The gateway's background work: releasing reservations whose host died mid-request.

use std::time::Duration;

use crate::scheduler::{KindSpec, Registry};
use crate::state::App;

pub const RELEASE_STALE: &str = "gateway.release_stale";

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(KindSpec::every(RELEASE_STALE, Duration::from_secs(60)), |app, _| async move {
        super::metering::release_stale(&app).await.map(|_| ()).map_err(|e| e.to_string())
    });
}
