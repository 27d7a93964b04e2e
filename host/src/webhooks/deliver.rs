//! Sending one delivery attempt: signed, pinned to a checked address, bounded in time and in
//! the answer read. The dispatcher (`dispatch.rs`) decides what to send and records it.

use std::time::{Duration, Instant};

use agora_runtime::net::PinError;
use futures::StreamExt;
use serde_json::json;

use super::model::{DeliveryRow, Endpoint};
use super::{signing, store};
use crate::events::types;
use crate::state::App;

/// Bytes of an answer read at most, and kept as its excerpt.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
const EXCERPT_CHARS: usize = 1024;

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

/// What one delivery sends: its id (the `webhook-id`), its event type and its body as stored.
pub struct Message<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub body: &'a [u8],
}

impl<'a> From<&'a DeliveryRow> for Message<'a> {
    fn from(d: &'a DeliveryRow) -> Self {
        Message { id: &d.id, event_type: &d.event_type, body: d.payload.as_bytes() }
    }
}

/// POSTs the message to `url`, signed with every valid secret; never follows a redirect,
/// refuses internal addresses unless the operator allows them, and gives up after the
/// configured time.
pub async fn send(app: &App, message: Message<'_>, url: &str, secrets: &Endpoint) -> Sent {
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
    let client = match app.outbound.client(&parsed).await {
        Ok(c) => c,
        Err(PinError::Refused(m)) => return done(None, Some(format!("the webhook URL cannot be called: {m}")), None),
        Err(PinError::Client(m)) => return done(None, Some(m), None),
    };
    let body = message.body;
    let timestamp = crate::db::now_ms() / 1000;
    let request = client
        .post(parsed)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("user-agent", "Agora-Webhooks/1")
        .header("webhook-id", message.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signing::standard_header(&secrets.all(), message.id, timestamp, body))
        .header("x-agentmarket-event", message.event_type)
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
