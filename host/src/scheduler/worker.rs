//! The worker inside `agora serve`: claims due jobs of the kinds it knows with a lease, runs up
//! to `concurrency` at once, each under its kind's time limit, and records how each ended.
//! Several hosts can run workers on one database: a claim is one statement (skipping rows
//! another host is claiming on PostgreSQL), and a host whose lease ran out can no longer
//! record an end for a job another host took over.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::model::{Job, Next};
use super::registry::{Kind, Registry};
use super::store;
use crate::db::{new_id, now_ms, Db};
use crate::transaction;

/// Time added to a kind's time limit for its lease: a run that hit its limit still has time to
/// record how it ended before another host may take the job.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The shortest wait between looks for due jobs.
const MIN_WAIT_MS: i64 = 20;

/// This host's name in leases, kept in `<data dir>/host-id` so that a restarted host knows the
/// claims of its previous run. Two live processes must not share a data directory.
pub fn host_id(data_dir: &std::path::Path) -> std::io::Result<String> {
    let path = data_dir.join("host-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        _ => {
            std::fs::create_dir_all(data_dir)?;
            let id = format!("host-{}", new_id());
            std::fs::write(&path, &id)?;
            Ok(id)
        }
    }
}

pub struct Scheduler<C> {
    db: Db,
    ctx: Arc<C>,
    registry: Arc<Registry<C>>,
    /// The kinds this host runs: the only ones it claims.
    kinds: Vec<&'static str>,
    /// How long a claim lasts: the slowest kind's time limit plus `LEASE_MARGIN` (a claim does
    /// not know which kinds it gets).
    lease: Duration,
    /// This host's name in leases.
    owner: String,
    concurrency: usize,
    /// How long an idle worker waits before looking for jobs other hosts added.
    poll: Duration,
}

impl<C: Send + Sync + 'static> Scheduler<C> {
    /// A worker that claims jobs as `owner`: a name no other live host uses (`host_id`).
    pub fn new(
        db: Db,
        ctx: Arc<C>,
        registry: Registry<C>,
        owner: String,
        concurrency: usize,
        poll: Duration,
    ) -> Arc<Scheduler<C>> {
        let kinds = registry.names();
        let longest = kinds.iter().filter_map(|k| registry.get(k)).map(|k| k.spec.timeout).max();
        let lease = longest.unwrap_or_default() + LEASE_MARGIN;
        let registry = Arc::new(registry);
        Arc::new(Scheduler { db, ctx, registry, kinds, lease, owner, concurrency: concurrency.max(1), poll })
    }

    /// Gives back the jobs this host's name still holds: they were claimed by an earlier run of
    /// this host that died (kill -9, power loss), and need not wait for their leases to run out.
    pub async fn release_previous_claims(&self) -> Result<u64, sqlx::Error> {
        let owner = &self.owner;
        transaction!(self.db, |c| store::release_held_by(c, owner))
    }

    /// Makes sure every recurring kind has its job, due now: recurring work runs when a host
    /// starts.
    pub async fn ensure_recurring(&self) -> Result<(), sqlx::Error> {
        let now = now_ms();
        for kind in self.registry.recurring() {
            let spec = kind.spec;
            transaction!(self.db, |c| async move {
                let job = super::model::NewJob {
                    kind: spec.name,
                    key: Some(RECURRING_KEY),
                    payload: &serde_json::Value::Null,
                    run_at: now,
                    max_attempts: spec.max_attempts,
                };
                if !store::insert(c, &job).await? {
                    store::run_no_later_than(c, spec.name, RECURRING_KEY, now).await?;
                }
                Ok::<_, sqlx::Error>(())
            })?;
        }
        Ok(())
    }

    /// Runs until `stop` turns true, then waits for the jobs it started. `due` wakes it when
    /// this host adds a job that is due now (it would otherwise see it within `poll`).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>, due: Arc<tokio::sync::Notify>) {
        match self.release_previous_claims().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "took back the jobs a previous run of this host held"),
            Err(e) => tracing::error!(error = %e, "could not take back this host's earlier claims"),
        }
        if let Err(e) = self.ensure_recurring().await {
            tracing::error!(error = %e, "could not schedule the recurring jobs");
        }
        let mut running = JoinSet::new();
        loop {
            let free = self.concurrency - running.len();
            if free > 0 {
                let claimed = self.claim(free).await;
                let all_taken = claimed.len() == free;
                for job in claimed {
                    running.spawn(self.clone().run_one(job));
                }
                if all_taken {
                    continue; // more may be due: wait for a free slot below
                }
            }
            // With every slot taken, only a job ending (or the stop) matters.
            let full = running.len() == self.concurrency;
            let wait = if full { self.poll } else { self.until_next_due().await };
            tokio::select! {
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(wait), if !full => {}
                () = due.notified(), if !full => {}
                _ = stop.changed() => break,
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// Claims and runs every job due now (up to `concurrency` at a time), and returns how many
    /// ran: for tests.
    pub async fn run_due(self: &Arc<Self>) -> usize {
        let mut ran = 0;
        loop {
            let claimed = self.claim(self.concurrency).await;
            if claimed.is_empty() {
                return ran;
            }
            ran += claimed.len();
            let mut running = JoinSet::new();
            for job in claimed {
                running.spawn(self.clone().run_one(job));
            }
            while running.join_next().await.is_some() {}
        }
    }

    async fn claim(&self, limit: usize) -> Vec<Job> {
        let lease_until = now_ms() + self.lease.as_millis() as i64;
        let (backend, owner, kinds) = (self.db.backend, &self.owner, &self.kinds);
        let claimed = transaction!(self.db, |c| store::claim(c, backend, kinds, owner, lease_until, limit as i64));
        claimed.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "claiming scheduled jobs failed");
            Vec::new()
        })
    }

    /// How long to wait for the next job: until the next one is due, at most `poll`, and at
    /// least a moment (a due job still waiting is being claimed by another host).
    async fn until_next_due(&self) -> Duration {
        let poll = self.poll.as_millis() as i64;
        match store::next_due(&self.db, &self.kinds).await {
            Ok(Some(at)) => Duration::from_millis((at - now_ms()).clamp(MIN_WAIT_MS.min(poll), poll) as u64),
            _ => self.poll,
        }
    }

    async fn run_one(self: Arc<Self>, job: Job) {
        let Some(kind) = self.registry.get(&job.kind) else { return };
        let outcome = match tokio::time::timeout(kind.spec.timeout, (kind.handler)(self.ctx.clone(), job.clone())).await
        {
            Ok(result) => result,
            Err(_) => Err(format!("timed out after {:?}", kind.spec.timeout)),
        };
        let next = next_after(kind, &job, outcome, now_ms());
        if let Next::Failed { error } | Next::Retry { error, .. } = &next {
            tracing::warn!(kind = %job.kind, id = %job.id, attempts = job.attempts, %error, "scheduled job failed");
        }
        let (id, owner) = (&job.id, &self.owner);
        match transaction!(self.db, |c| store::finish(c, id, owner, &next)) {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(kind = %job.kind, id = %job.id, "job taken over by another host before it ended")
            }
            Err(e) => tracing::error!(kind = %job.kind, id = %job.id, error = %e, "recording a job's end failed"),
        }
    }
}

/// The key of a recurring kind's one job.
const RECURRING_KEY: &str = "recurring";

/// What a run's outcome makes of the job.
fn next_after<C>(kind: &Kind<C>, job: &Job, outcome: Result<(), String>, now: i64) -> Next {
    let spec = &kind.spec;
    match (outcome, spec.every) {
        (Ok(()), None) => Next::Done,
        (Ok(()), Some(every)) => Next::Again { run_at: now + every.as_millis() as i64 },
        // Recurring work is never given up: it runs again after the backoff or at its next
        // time, whichever is sooner.
        (Err(error), Some(every)) => {
            Next::Retry { run_at: now + spec.backoff.after(job.attempts).min(every).as_millis() as i64, error }
        }
        (Err(error), None) if job.attempts >= job.max_attempts => Next::Failed { error },
        (Err(error), None) => Next::Retry { run_at: now + spec.backoff.after(job.attempts).as_millis() as i64, error },
    }
}
