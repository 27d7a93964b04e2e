//! The delivery dispatcher, one per `agora serve`: deliveries are their own queue. It leases due
//! deliveries many at a time in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so hosts
//! never send the same one; SQLite has one writer), reads them with their agents' URLs and
//! secrets in one query, sends each on its own task (at most `CONCURRENCY` at once, so a slow
//! endpoint holds up nobody else), and records what came back in batches: one transaction for
//! every attempt that ended meanwhile. A delivery whose host died is leased again once its
//! lease runs out; a restarted host gives back its own leases at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch, Semaphore};

use super::deliver::{send, Sent};
use super::model::DeliveryStatus;
use super::store::{self, Outcome, Outgoing};
use crate::db::now_ms;
use crate::events::types;
use crate::scheduler::Backoff;
use crate::state::App;
use crate::transaction;

/// Attempts in flight on one host.
const CONCURRENCY: usize = 128;
/// Ended attempts recorded in one transaction at most.
const RECORD_BATCH: usize = 128;
/// How long an idle dispatcher waits before looking for due deliveries again.
const POLL: Duration = Duration::from_millis(50);
/// How long a dispatcher that found a few deliveries, or a recorder that got a few ends, waits
/// for more before the next claim or write: under a steady trickle, one statement then serves
/// many deliveries instead of one each.
const GATHER: Duration = Duration::from_millis(10);

pub struct Dispatcher {
    app: Arc<App>,
    owner: String,
    backoff: Backoff,
    /// Attempts a delivery gets: one more than the retry pauses.
    max_attempts: i64,
    lease: Duration,
}

/// An attempt's end, or a delivery with nowhere to go.
enum Ended {
    Sent {
        outgoing: Box<Outgoing>,
        url: String,
        sent: Sent,
    },
    GivenUp {
        id: String,
        why: &'static str,
    },
    /// Not sent for a passing fault: sent again once its lease runs out.
    Unsent,
}

impl Dispatcher {
    /// A dispatcher leasing as `owner` (the host's `host_id`).
    pub fn new(app: Arc<App>, owner: String) -> Dispatcher {
        let schedule = app.config.webhooks.retry_schedule().unwrap_or_default();
        // The schedule lives as long as the process; it is made once, at start.
        let steps: &'static [Duration] = Box::leak(schedule.into_boxed_slice());
        let lease = Duration::from_millis(app.config.webhooks.webhook_timeout_ms) + Duration::from_secs(30);
        Dispatcher { app, owner, backoff: Backoff::schedule(steps), max_attempts: steps.len() as i64 + 1, lease }
    }

    /// Runs until `stop` turns true, then waits for the attempts in flight and records them.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let owner = &this.owner;
        match transaction!(this.app.db, |c| store::release_held_by(c, owner)) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(deliveries = n, "took back the deliveries a previous run of this host held"),
            Err(e) => tracing::error!(error = %e, "could not take back this host's earlier deliveries"),
        }
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(this.clone().record(ended_rx));
        loop {
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("never closed"),
                _ = stop.changed() => break,
            };
            let mut permits = vec![first];
            while let Ok(p) = slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            let free = permits.len();
            let claimed = this.claim(free).await;
            let pause = match claimed.len() {
                0 => this.until_claimable().await,
                n if n < free => GATHER,
                _ => Duration::ZERO,
            };
            match store::for_sending(&this.app.db, &claimed).await {
                Ok(outgoing) => {
                    // Permits left over (fewer claimed than free slots) go back as the zip ends.
                    for (out, permit) in outgoing.into_iter().zip(permits) {
                        let (this, ended) = (this.clone(), ended_tx.clone());
                        tokio::spawn(async move {
                            let _ = ended.send(this.attempt(out).await);
                            drop(permit);
                        });
                    }
                }
                // The leases run out and the deliveries are claimed again.
                Err(e) => tracing::warn!(error = %e, "reading claimed deliveries failed"),
            }
            if !pause.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => break,
                }
            }
        }
        // Every permit back means every attempt ended and was handed to the recorder.
        let _ = slots.acquire_many(CONCURRENCY as u32).await;
        drop(ended_tx);
        let _ = recorder.await;
    }

    async fn claim(&self, limit: usize) -> Vec<String> {
        let lease_until = now_ms() + self.lease.as_millis() as i64;
        let (backend, owner) = (self.app.db.backend, &self.owner);
        transaction!(self.app.db, |c| store::claim_due(c, backend, owner, lease_until, limit as i64)).unwrap_or_else(
            |e| {
                tracing::warn!(error = %e, "claiming deliveries failed");
                Vec::new()
            },
        )
    }

    /// How long an idle dispatcher waits: until the next delivery can be claimed, at least
    /// `GATHER` and at most `POLL` (deliveries other hosts add are found within `POLL`). A read,
    /// so that an idle host does not write to look.
    async fn until_claimable(&self) -> Duration {
        match store::next_claimable(&self.app.db).await {
            Ok(Some(at)) => {
                let ms = (at - now_ms()).clamp(GATHER.as_millis() as i64, POLL.as_millis() as i64);
                Duration::from_millis(ms as u64)
            }
            Ok(None) => POLL,
            Err(e) => {
                tracing::warn!(error = %e, "looking for the next delivery failed");
                POLL
            }
        }
    }

    async fn attempt(&self, out: Outgoing) -> Ended {
        let id = out.delivery.id.clone();
        let Some(url) = out.url.clone() else { return Ended::GivenUp { id, why: "the agent has no webhook URL" } };
        let endpoint = match &out.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => match super::service::secrets(&self.app, &out.delivery.agent_id).await {
                Ok(endpoint) => endpoint,
                Err(e) => {
                    tracing::warn!(error = %e, "making an agent's webhook secret failed");
                    return Ended::Unsent;
                }
            },
        };
        if endpoint.disabled_at.is_some() {
            let why = "the webhook endpoint was disabled after failing for too long; set its URL again";
            return Ended::GivenUp { id, why };
        }
        let sent = send(&self.app, (&out.delivery).into(), &url, &endpoint).await;
        Ended::Sent { outgoing: Box::new(out), url, sent }
    }

    /// Records ended attempts as they come, all that are waiting in one transaction.
    async fn record(self: Arc<Self>, mut ended: mpsc::UnboundedReceiver<Ended>) {
        let mut batch = Vec::with_capacity(RECORD_BATCH);
        while ended.recv_many(&mut batch, RECORD_BATCH).await > 0 {
            if batch.len() < RECORD_BATCH {
                tokio::time::sleep(GATHER).await;
                while batch.len() < RECORD_BATCH {
                    match ended.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
            }
            if let Err(e) = self.record_batch(&batch).await {
                // Unrecorded attempts are sent again once their leases run out.
                tracing::error!(error = %e, attempts = batch.len(), "recording delivery attempts failed");
            }
            batch.clear();
        }
    }

    async fn record_batch(&self, batch: &[Ended]) -> Result<(), sqlx::Error> {
        let owner = self.owner.as_str();
        let disable_after = self.app.config.webhooks.webhook_disable_after_ms as i64;
        let disabled = transaction!(self.app.db, |c| async {
            let mut disabled = Vec::new();
            for ended in batch {
                let Ended::Sent { outgoing, url, sent } = ended else {
                    if let Ended::GivenUp { id, why } = ended {
                        store::give_up(c, id, owner, why).await?;
                    }
                    continue;
                };
                let d = &outgoing.delivery;
                if !store::record_attempt(c, &sent.attempt(&d.id, url), &self.outcome(d.attempts + 1, sent)).await? {
                    tracing::warn!(delivery = %d.id, "delivery taken over by another host during its attempt");
                }
                let was_failing = outgoing.endpoint.as_ref().is_some_and(|e| e.failing_since.is_some());
                let succeeded = sent.error.is_none();
                if (!succeeded || was_failing) && store::record_health(c, &d.agent_id, succeeded, disable_after).await?
                {
                    let message = "Every delivery failed for too long; set the URL again to resume.";
                    let data = json!({"webhookUrl": url, "message": message});
                    let notice = crate::events::toku_payload(types::WEBHOOK_DISABLED, &d.agent_id, data);
                    crate::events::insert(c, types::WEBHOOK_DISABLED, &d.agent_id, Some(&d.id), &notice).await?;
                    disabled.push(d.agent_id.clone());
                }
            }
            Ok::<_, sqlx::Error>(disabled)
        })?;
        for agent in disabled {
            tracing::warn!(agent = %agent, "disabled a webhook endpoint that kept failing");
        }
        Ok(())
    }

    /// What the `attempts`-th attempt leaves its delivery as.
    fn outcome(&self, attempts: i64, sent: &Sent) -> Outcome<'_> {
        let (status, next) = match (&sent.error, attempts >= self.max_attempts) {
            (None, _) => (DeliveryStatus::Delivered, None),
            (Some(_), true) => (DeliveryStatus::Failed, None),
            (Some(_), false) => {
                (DeliveryStatus::Pending, Some(now_ms() + self.backoff.after(attempts).as_millis() as i64))
            }
        };
        Outcome { status, next_attempt_at: next, owner: Some(&self.owner) }
    }
}
