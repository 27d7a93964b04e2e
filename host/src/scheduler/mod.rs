//! Durable background work: jobs stored in `scheduled_jobs`, claimed by a host with a lease,
//! retried with backoff, taken over from a host that died when its lease runs out.
//!
//! A domain adds its job kinds in its `jobs.rs` (`register`) and asks for work with `enqueue`
//! inside the transaction of the change that needs it, so the job exists exactly when the
//! change was committed. Recurring work (sweeps) is a kind with `KindSpec::every`.

pub mod model;
pub mod registry;
pub mod store;
pub mod worker;

pub use model::{Job, NewJob, Next};
pub use registry::{Backoff, KindSpec, Registry};
pub use worker::{host_id, Scheduler};

use std::time::Duration;

use crate::db::now_ms;

/// Jobs that ended (done or failed) are kept this long for operators, then deleted.
const KEEP_ENDED: Duration = Duration::from_secs(7 * 24 * 3600);

pub const PRUNE_ENDED: KindSpec = KindSpec::every("scheduler.prune_ended", Duration::from_secs(3600));

/// The scheduler's own upkeep: deleting old ended jobs.
pub fn register(jobs: &mut Registry<crate::state::App>) {
    jobs.add(PRUNE_ENDED, |app, _| async move {
        let before = now_ms() - KEEP_ENDED.as_millis() as i64;
        store::delete_ended_before(&app.db, before).await.map(drop).map_err(|e| e.to_string())
    });
}

/// Adds a job of `kind` due at `run_at` (ms since the epoch) in the caller's transaction;
/// with a `key`, only if no job of that kind and key exists. True if added.
pub async fn enqueue(
    c: &mut crate::db::Conn,
    spec: KindSpec,
    key: Option<&str>,
    payload: &serde_json::Value,
    run_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let job = NewJob {
        kind: spec.name,
        key,
        payload,
        run_at: run_at.unwrap_or_else(now_ms),
        max_attempts: spec.max_attempts,
    };
    store::insert(c, &job).await
}

/// A job to add later, in another transaction than the one that decides it (a payment's
/// follow-up, added when the payment is credited); kept as JSON until then.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deferred {
    pub kind: String,
    pub key: Option<String>,
    pub payload: serde_json::Value,
    pub max_attempts: i64,
}

impl Deferred {
    pub fn new(spec: KindSpec, key: Option<&str>, payload: serde_json::Value) -> Self {
        Deferred { kind: spec.name.into(), key: key.map(Into::into), payload, max_attempts: spec.max_attempts }
    }

    /// Adds the job, due now, in the caller's transaction (once per kind and key).
    pub async fn enqueue_in(&self, c: &mut crate::db::Conn) -> Result<bool, sqlx::Error> {
        let job = NewJob {
            kind: &self.kind,
            key: self.key.as_deref(),
            payload: &self.payload,
            run_at: now_ms(),
            max_attempts: self.max_attempts,
        };
        store::insert(c, &job).await
    }
}
