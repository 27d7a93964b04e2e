//! Sending to an agent on another stack: a message to an `https://` A2A address is queued like
//! one to another Agora host (`messaging::federation`), and its delivery job calls this: the
//! card is read from the address (`/.well-known/agent-card.json` under it, or the address
//! itself when it names a `.json` card), the first JSON-RPC interface of version 1.x is used
//! (else the v0.3 `url`), and `SendMessage` / `message/send` is called, blocking, with the
//! sender's `a2a_auth` as a bearer token. The agent's answer (its artifacts' text, else its
//! status or message text) comes back to the sender as a message in the same thread.

use std::time::Duration;

use serde_json::{json, Value};

use super::wire::Version;
use crate::messaging::model::MessageRow;
use crate::state::App;

/// Why a send did not go through: for good (the agent refused it) or for now.
pub enum Failure {
    Refused(String),
    Retry(String),
}

/// What the agent answered: its text, and the task's id and state when it made one.
pub struct Answer {
    pub text: Option<String>,
    pub task_id: Option<String>,
    pub state: Option<String>,
}

async fn get_json(app: &App, url: &str) -> Result<Value, Failure> {
    let parsed = url::Url::parse(url).map_err(|e| Failure::Refused(format!("{url}: {e}")))?;
    let client = app.outbound.client(&parsed).await.map_err(|e| Failure::Refused(format!("{e:?}")))?;
    let resp = client.get(parsed).timeout(Duration::from_secs(10)).send().await;
    let resp = resp.map_err(|e| Failure::Retry(format!("the agent card at {url}: {e}")))?;
    match resp.status().as_u16() {
        200..=299 => resp.json().await.map_err(|e| Failure::Refused(format!("the agent card at {url}: {e}"))),
        408 | 429 | 500..=599 => Err(Failure::Retry(format!("the agent card at {url}: {}", resp.status()))),
        _ => Err(Failure::Refused(format!("the agent card at {url}: {}", resp.status()))),
    }
}

/// The endpoint and version to call, from the card.
fn interface(card: &Value) -> Option<(String, Version)> {
    let listed = card["supportedInterfaces"].as_array().into_iter().flatten();
    for i in listed {
        let v1 = i["protocolVersion"].as_str().is_some_and(|v| v.starts_with("1."));
        if v1 && i["protocolBinding"] == "JSONRPC" {
            return i["url"].as_str().map(|u| (u.to_string(), Version::V1));
        }
    }
    let jsonrpc = card["preferredTransport"].as_str().is_none_or(|t| t == "JSONRPC");
    card["url"].as_str().filter(|_| jsonrpc).map(|u| (u.to_string(), Version::V03))
}

fn request(v: Version, m: &MessageRow) -> Value {
    let body: Value = serde_json::from_str(&m.body).unwrap_or_default();
    let part = match body.get("text").and_then(Value::as_str) {
        Some(text) => json!({"text": text}),
        None => json!({"data": body}),
    };
    match v {
        Version::V1 => json!({"jsonrpc": "2.0", "id": m.id, "method": "SendMessage", "params": {
            "message": {"messageId": m.id, "role": "ROLE_USER", "parts": [part], "contextId": m.thread_id},
            "configuration": {"returnImmediately": false}}}),
        Version::V03 => {
            let part = match part.get("text") {
                Some(text) => json!({"kind": "text", "text": text}),
                None => json!({"kind": "data", "data": part["data"]}),
            };
            json!({"jsonrpc": "2.0", "id": m.id, "method": "message/send", "params": {
                "message": {"kind": "message", "messageId": m.id, "role": "user", "parts": [part], "contextId": m.thread_id},
                "configuration": {"blocking": true}}})
        }
    }
}

fn texts(parts: &Value) -> Vec<String> {
    parts.as_array().into_iter().flatten().filter_map(|p| p["text"].as_str().map(str::to_string)).collect()
}

/// The answer in a `SendMessage` result of either version.
fn answer(result: &Value) -> Answer {
    let task = result.get("task").or_else(|| (result["kind"] == "task").then_some(result));
    if let Some(t) = task {
        let mut said: Vec<String> =
            t["artifacts"].as_array().into_iter().flatten().flat_map(|a| texts(&a["parts"])).collect();
        if said.is_empty() {
            said = texts(&t["status"]["message"]["parts"]);
        }
        let state = t["status"]["state"].as_str().map(|s| s.trim_start_matches("TASK_STATE_").to_ascii_lowercase());
        return Answer {
            text: (!said.is_empty()).then(|| said.join("\n")),
            task_id: t["id"].as_str().map(str::to_string),
            state,
        };
    }
    let message = result.get("message").unwrap_or(result);
    let said = texts(&message["parts"]);
    Answer { text: (!said.is_empty()).then(|| said.join("\n")), task_id: None, state: None }
}

/// One attempt to send `m` to the A2A agent at its `to_address`.
pub async fn send(app: &App, m: &MessageRow, bearer: Option<&str>) -> Result<Answer, Failure> {
    let to = m.to_address.trim_end_matches('/');
    let card_url = if to.ends_with(".json") { to.to_string() } else { format!("{to}/.well-known/agent-card.json") };
    let card = get_json(app, &card_url).await?;
    let (endpoint, v) =
        interface(&card).ok_or_else(|| Failure::Refused("the agent card names no JSON-RPC endpoint".into()))?;
    let url =
        url::Url::parse(&endpoint).map_err(|e| Failure::Refused(format!("the card's endpoint {endpoint}: {e}")))?;
    let client = app.outbound.client(&url).await.map_err(|e| Failure::Refused(format!("{e:?}")))?;
    let mut req = client
        .post(url)
        .timeout(Duration::from_millis(app.config.messaging.a2a_wait_ms + 5_000))
        .header("A2A-Version", if v == Version::V1 { "1.0" } else { "0.3" })
        .json(&request(v, m));
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(|e| Failure::Retry(format!("{endpoint}: {e}")))?;
    let status = resp.status();
    let reply: Value = match status.as_u16() {
        200..=299 => {
            resp.json().await.map_err(|e| Failure::Refused(format!("{endpoint} did not answer JSON-RPC: {e}")))?
        }
        408 | 429 | 500..=599 => return Err(Failure::Retry(format!("{endpoint} answered {status}"))),
        _ => return Err(Failure::Refused(format!("{endpoint} answered {status}"))),
    };
    if let Some(e) = reply.get("error") {
        return Err(Failure::Refused(format!(
            "{endpoint}: {} ({})",
            e["message"].as_str().unwrap_or("an error"),
            e["code"]
        )));
    }
    Ok(answer(&reply["result"]))
}
