//! Scheduled jobs as stored, and what becomes of a job after a run.

use serde_json::Value;

crate::stored_enum!(
    /// Where a job is: waiting for its time, claimed by a host, or ended.
    pub enum JobStatus {
        Pending => "pending",
        Running => "running",
        Done => "done",
        Failed => "failed",
    }
);

/// A claimed job, as its handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub key: Option<String>,
    pub payload: Value,
    /// Runs so far, this one included.
    pub attempts: i64,
    pub max_attempts: i64,
}

/// A job to add.
pub struct NewJob<'a> {
    pub kind: &'a str,
    /// At most one job per kind and key: adding one again does nothing.
    pub key: Option<&'a str>,
    pub payload: &'a Value,
    /// Milliseconds since the epoch; now or in the past runs as soon as a host is free.
    pub run_at: i64,
    pub max_attempts: i64,
}

/// What a finished run leaves the job as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Ended for good.
    Done,
    /// Runs again at `run_at` (a recurring job's next time, with its attempts reset).
    Again { run_at: i64 },
    /// Failed; runs again at `run_at` (backoff), its attempts kept.
    Retry { run_at: i64, error: String },
    /// Failed and out of attempts.
    Failed { error: String },
}
