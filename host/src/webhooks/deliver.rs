//! Sending one delivery attempt, and the scheduler job that sends and retries deliveries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_runtime::net::{pinned_client, PinError};
use futures::StreamExt;
use serde_json::json;

use super::model::{DeliveryRow, DeliveryStatus, Endpoint};
use super::{signing, store};
use crate::events::types;
use crate::scheduler::{Backoff, Job, KindSpec, Registry};
use crate::state::App;
use crate::transaction;

/// The job kind as enqueued: the delivery job itself decides when it has run out of attempts
/// (from the configured schedule), so the row's own limit is only a backstop.
pub const DELIVER: KindSpec = KindSpec::once("webhooks.deliver")
    .attempts(1_000, Backoff::exponential(Duration::from_secs(5), 4, Duration::from_secs(3600)));

/// Bytes of an answer read at most, and kept as its excerpt.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
const EXCERPT_CHARS: usize = 1024;

pub fn register(jobs: &mut Registry<App>, config: &crate::config::Config) {
    let schedule = config.webhooks.retry_schedule().unwrap_or_default();
    // The schedule lives as long as the process; it is made once, at start.
    let steps: &'static [Duration] = Box::leak(schedule.into_boxed_slice());
    let timeout = Duration::from_millis(config.webhooks.webhook_timeout_ms) + Duration::from_secs(5);
    let spec = DELIVER.timeout(timeout).attempts(DELIVER.max_attempts, Backoff::schedule(steps));
    jobs.add(spec, move |app: Arc<App>, job: Job| async move { run(&app, &job, steps.len() as i64 + 1).await });
}

/// Sends the delivery named in the job once; an `Err` makes the scheduler retry it.
async fn run(app: &App, job: &Job, max_attempts: i64) -> Result<(), String> {
    let id = job.payload["delivery"].as_str().unwrap_or_default();
    let found = store::for_sending(&app.db, id).await.map_err(|e| e.to_string())?;
    let Some((delivery, url)) = found else { return Ok(()) };
    if delivery.status != DeliveryStatus::Pending.as_str() {
        return Ok(());
    }
    let Some(url) = url else {
        transaction!(app.db, |c| store::give_up(c, id, "the agent has no webhook URL")).map_err(|e| e.to_string())?;
        return Ok(());
    };
    let endpoint = super::service::secrets(app, &delivery.agent_id).await.map_err(|e| e.to_string())?;
    if endpoint.disabled_at.is_some() {
        let why = "the webhook endpoint was disabled after failing for too long; set its URL again";
        transaction!(app.db, |c| store::give_up(c, id, why)).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let sent = send(app, &delivery, &url, &endpoint).await;
    let last = delivery.attempts + 1 >= max_attempts;
    let status = match (&sent.error, last) {
        (None, _) => DeliveryStatus::Delivered,
        (Some(_), true) => DeliveryStatus::Failed,
        (Some(_), false) => DeliveryStatus::Pending,
    };
    let attempt = sent.attempt(id, &url);
    let (agent, succeeded) = (&delivery.agent_id, sent.error.is_none());
    let disable_after = app.config.webhooks.webhook_disable_after_ms as i64;
    transaction!(app.db, |c| async {
        store::record_attempt(c, &attempt, status).await?;
        if succeeded && endpoint.failing_since.is_none() {
            return Ok(());
        }
        if store::record_health(c, agent, succeeded, disable_after).await? {
            tracing::warn!(agent = %agent, "disabled a webhook endpoint that kept failing");
            let message = "Every delivery failed for too long; set the URL again to resume.";
            let data = json!({"webhookUrl": url, "message": message});
            let notice = crate::events::toku_payload(types::WEBHOOK_DISABLED, agent, data);
            crate::events::insert(c, types::WEBHOOK_DISABLED, agent, Some(id), &notice).await?;
        }
        Ok::<_, sqlx::Error>(())
    })
    .map_err(|e| e.to_string())?;
    match (sent.error, status) {
        (Some(error), DeliveryStatus::Pending) => Err(error),
        _ => Ok(()),
    }
}

/// What one attempt got.
pub struct Sent {
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// Why it did not succeed; `None` on a 2xx.
    pub error: Option<String>,
    pub excerpt: Option<String>,
}

impl Sent {
    /// The attempt to record for `delivery_id`.
    pub fn attempt<'a>(&'a self, delivery_id: &'a str, url: &'a str) -> store::Attempt<'a> {
        store::Attempt {
            delivery_id,
            url,
            status_code: self.status_code,
            latency_ms: self.latency_ms,
            error: self.error.as_deref(),
            response_excerpt: self.excerpt.as_deref(),
        }
    }
}

/// POSTs the delivery's payload to `url`, signed with every valid secret; never follows a
/// redirect, refuses internal addresses unless the operator allows them, and gives up after
/// the configured time.
pub async fn send(app: &App, delivery: &DeliveryRow, url: &str, secrets: &Endpoint) -> Sent {
    let started = Instant::now();
    let done = |status_code: Option<i64>, error: Option<String>, excerpt: Option<String>| Sent {
        status_code,
        latency_ms: started.elapsed().as_millis() as i64,
        error,
        excerpt,
    };
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(_) => return done(None, Some("the webhook URL is not a URL".into()), None),
    };
    let timeout = Duration::from_millis(app.config.webhooks.webhook_timeout_ms);
    let client = match pinned_client(&parsed, app.config.execution.allow_private_http, timeout).await {
        Ok(c) => c,
        Err(PinError::Refused(m)) => return done(None, Some(format!("the webhook URL cannot be called: {m}")), None),
        Err(PinError::Client(m)) => return done(None, Some(m), None),
    };
    let body = delivery.payload.as_bytes();
    let timestamp = crate::db::now_ms() / 1000;
    let request = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("user-agent", "Agora-Webhooks/1")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signing::standard_header(&secrets.all(), &delivery.id, timestamp, body))
        .header("x-agentmarket-event", &delivery.event_type)
        .header("x-agentmarket-signature", signing::agentmarket(&secrets.current, body))
        .body(body.to_vec());
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return done(None, Some("timed out".into()), None),
        Err(e) => return done(None, Some(format!("could not connect: {e}")), None),
    };
    let status = response.status();
    let mut stream = response.bytes_stream();
    let mut answer = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) if answer.len() < MAX_RESPONSE_BYTES => answer.extend_from_slice(&bytes),
            Ok(_) => break,
            Err(e) if e.is_timeout() => return done(Some(status.as_u16() as i64), Some("timed out".into()), None),
            Err(_) => break,
        }
    }
    let excerpt: String = String::from_utf8_lossy(&answer).chars().take(EXCERPT_CHARS).collect();
    let error = (!status.is_success()).then(|| format!("the endpoint answered {}", status.as_u16()));
    done(Some(status.as_u16() as i64), error, Some(excerpt).filter(|e| !e.is_empty()))
}

/// The body of Toku's `webhook.test`.
pub fn test_payload(agent_id: &str) -> serde_json::Value {
    let message = "This is a test webhook from Agora. If you can read this, your endpoint works.";
    crate::events::toku_payload(types::WEBHOOK_TEST, agent_id, json!({ "message": message }))
}
