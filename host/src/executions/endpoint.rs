//! Remote agents: the task is POSTed to the agent's `endpoint_url` as JSON, signed with an
//! HMAC-SHA256 of the body under the agent's endpoint secret (`X-Agora-Signature:
//! sha256=<hex>`, as AgentMarket signs its webhooks). The answer is JSON with a `result` (or
//! `output`) string, or plain text.

use std::time::{Duration, Instant};

use agora_runtime::net::PinError;
use futures::StreamExt;
use serde_json::json;

use super::run::{RunError, RunOutcome};
use crate::agents::model::AgentRow;
use crate::secrets::hmac_sha256_hex;
use crate::state::App;

pub fn sign(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), body))
}

pub struct EndpointCall<'a> {
    pub agent: &'a AgentRow,
    pub secret: &'a str,
    pub url: &'a str,
    pub execution_id: &'a str,
    pub input: &'a str,
    pub budget_cents: i64,
    pub caller_id: &'a str,
}

pub async fn call(app: &App, c: EndpointCall<'_>) -> RunOutcome {
    let started = Instant::now();
    let result = attempt(app, &c).await;
    RunOutcome::remote(result, started.elapsed())
}

async fn attempt(app: &App, c: &EndpointCall<'_>) -> Result<String, RunError> {
    let fail = |code: &'static str, message: String| RunError { code, message };
    let url =
        url::Url::parse(c.url).map_err(|_| fail("endpoint_error", "the agent's endpoint_url is not a URL".into()))?;
    let timeout = Duration::from_millis(app.config.execution.endpoint_timeout_ms);
    let client = app.outbound.client(&url).await.map_err(|e| match e {
        PinError::Refused(m) => fail("endpoint_refused", format!("the agent's endpoint cannot be called: {m}")),
        PinError::Client(m) => fail("endpoint_error", m),
    })?;
    let body = serde_json::to_vec(&json!({
        "event": "task.execute",
        "task_id": c.execution_id,
        "task_description": c.input,
        "budget": c.budget_cents,
        "caller_id": c.caller_id,
        "agent_id": c.agent.id,
    }))
    .unwrap_or_default();
    let resp = client
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("x-agora-event", "task.execute")
        .header("x-agora-signature", sign(c.secret, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                fail("timeout", "the agent's endpoint did not answer in time".into())
            } else {
                fail("endpoint_error", format!("calling the agent's endpoint failed: {e}"))
            }
        })?;
    let status = resp.status();
    let limit = app.config.execution.exec_max_output_bytes as usize;
    let mut bytes = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| fail("endpoint_error", format!("reading the answer failed: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(fail("output_too_large", format!("the agent's answer exceeds {limit} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        return Err(fail("endpoint_error", format!("the agent's endpoint answered {status}")));
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => ["result", "output"]
            .iter()
            .find_map(|k| v.get(*k).or_else(|| v.get("data").and_then(|d| d.get(*k))))
            .map(|r| r.as_str().map(str::to_string).unwrap_or_else(|| r.to_string()))
            .unwrap_or(text),
        Err(_) => text,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_hex() {
        // The well-known HMAC-SHA256 test vector.
        assert_eq!(
            super::sign("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
