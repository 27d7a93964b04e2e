//! The two A2A wire versions. Agora keeps messages in the v1.0 shape (ProtoJSON: parts as
//! `{"text"}`, `{"data"}`, `{"url"}` or `{"raw"}`, roles `ROLE_USER` / `ROLE_AGENT`) and
//! renders tasks, messages and stream events in the version the caller spoke: v1.0, or v0.3
//! (the same objects with a `kind`, lowercase states and roles, files as `{"kind": "file"}`).

use serde_json::{json, Map, Value};

use super::store::TaskRow;
use super::A2aError;
use crate::db::rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V03,
}

/// Checks the `A2A-Version` header: 1.0 and 0.3 are spoken (a missing one means 0.3, but the
/// method's name decides which shapes the answer takes, as the two sets of names differ).
pub fn check_version_header(header: Option<&str>) -> Result<(), A2aError> {
    match header.map(str::trim) {
        None | Some("") | Some("1.0") | Some("1") | Some("0.3") | Some("0.3.0") => Ok(()),
        Some(other) => Err(A2aError::Version(other.to_string())),
    }
}

/// The caller's message in the v1.0 shape, checked: an id, the user's role and at least one
/// part; `text` is what its text parts say, joined.
pub struct Incoming {
    pub message: Value,
    pub text: String,
    pub context_id: Option<String>,
    pub task_id: Option<String>,
}

const MAX_PARTS: usize = 64;

pub fn incoming(v: Version, raw: &Value) -> Result<Incoming, A2aError> {
    let bad = |why: &str| A2aError::InvalidParams(format!("message: {why}"));
    let m = raw.as_object().ok_or_else(|| bad("must be an object"))?;
    let id = m.get("messageId").and_then(Value::as_str).filter(|s| !s.is_empty() && s.len() <= 200);
    let id = id.ok_or_else(|| bad("messageId must be a string of 1 to 200 characters"))?;
    let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
    let user = match v {
        Version::V1 => role == "ROLE_USER",
        Version::V03 => role == "user",
    };
    if !user {
        return Err(bad("role must be the user's (ROLE_USER in 1.0, user in 0.3)"));
    }
    let parts = m.get("parts").and_then(Value::as_array).ok_or_else(|| bad("parts must be an array"))?;
    if parts.is_empty() || parts.len() > MAX_PARTS {
        return Err(bad(&format!("parts must hold 1 to {MAX_PARTS} parts")));
    }
    let parts = parts.iter().map(|p| part_in(v, p)).collect::<Result<Vec<_>, _>>()?;
    let text = parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n");
    let id_field = |name: &str| -> Result<Option<String>, A2aError> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if crate::messaging::model::valid_id(s) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("{name} must be 1 to 100 letters, digits, -, _, . or :"))),
        }
    };
    let (context_id, task_id) = (id_field("contextId")?, id_field("taskId")?);
    let mut message = json!({"messageId": id, "role": "ROLE_USER", "parts": parts});
    if let Some(meta) = m.get("metadata").filter(|v| v.is_object()) {
        message["metadata"] = meta.clone();
    }
    Ok(Incoming { message, text, context_id, task_id })
}

/// A part in the v1.0 shape.
fn part_in(v: Version, p: &Value) -> Result<Value, A2aError> {
    let bad = || A2aError::InvalidParams("a part must be text, data or a file (url or bytes)".into());
    let p = p.as_object().ok_or_else(bad)?;
    let mut out = Map::new();
    match v {
        Version::V1 => {
            let kinds = ["text", "data", "url", "raw"].iter().filter(|k| p.contains_key(**k)).count();
            if kinds != 1 || p.get("text").is_some_and(|t| !t.is_string()) {
                return Err(bad());
            }
            for key in ["text", "data", "url", "raw", "mediaType", "filename", "metadata"] {
                if let Some(value) = p.get(key) {
                    out.insert(key.into(), value.clone());
                }
            }
        }
        Version::V03 => match p.get("kind").and_then(Value::as_str) {
            Some("text") => {
                out.insert("text".into(), Value::String(p.get("text").and_then(Value::as_str).ok_or_else(bad)?.into()));
            }
            Some("data") => {
                out.insert("data".into(), p.get("data").cloned().ok_or_else(bad)?);
            }
            Some("file") => {
                let f = p.get("file").and_then(Value::as_object).ok_or_else(bad)?;
                match (f.get("uri"), f.get("bytes")) {
                    (Some(uri), None) => out.insert("url".into(), uri.clone()),
                    (None, Some(bytes)) => out.insert("raw".into(), bytes.clone()),
                    _ => return Err(bad()),
                };
                if let Some(t) = f.get("mimeType") {
                    out.insert("mediaType".into(), t.clone());
                }
                if let Some(n) = f.get("name") {
                    out.insert("filename".into(), n.clone());
                }
            }
            _ => return Err(bad()),
        },
    }
    if let Some(meta) = p.get("metadata").filter(|m| m.is_object()) {
        out.insert("metadata".into(), meta.clone());
    }
    Ok(Value::Object(out))
}

/// The agent's answer as a v1.0 message in the task's context.
pub fn agent_message(t: &TaskRow, id: &str, text: &str) -> Value {
    json!({"messageId": id, "role": "ROLE_AGENT", "parts": [{"text": text}],
           "contextId": t.context_id, "taskId": t.id})
}

fn part_out(v: Version, p: &Value) -> Value {
    if v == Version::V1 {
        return p.clone();
    }
    let mut out = if let Some(text) = p.get("text") {
        json!({"kind": "text", "text": text})
    } else if let Some(data) = p.get("data") {
        json!({"kind": "data", "data": data})
    } else {
        let mut file = Map::new();
        if let Some(url) = p.get("url") {
            file.insert("uri".into(), url.clone());
        }
        if let Some(raw) = p.get("raw") {
            file.insert("bytes".into(), raw.clone());
        }
        if let Some(t) = p.get("mediaType") {
            file.insert("mimeType".into(), t.clone());
        }
        if let Some(n) = p.get("filename") {
            file.insert("name".into(), n.clone());
        }
        json!({"kind": "file", "file": file})
    };
    if let Some(meta) = p.get("metadata") {
        out["metadata"] = meta.clone();
    }
    out
}

pub fn message_out(v: Version, m: &Value) -> Value {
    if v == Version::V1 {
        return m.clone();
    }
    let mut out = m.clone();
    out["kind"] = json!("message");
    out["role"] = json!(if m["role"] == "ROLE_AGENT" { "agent" } else { "user" });
    let parts = m["parts"].as_array().map(|ps| ps.iter().map(|p| part_out(v, p)).collect::<Vec<_>>());
    out["parts"] = json!(parts.unwrap_or_default());
    out
}

fn state_out(v: Version, state: &str) -> String {
    match v {
        Version::V1 => format!("TASK_STATE_{}", state.to_ascii_uppercase()),
        Version::V03 => state.to_string(),
    }
}

/// Whether a stream ends after this state.
pub fn is_final(state: &str) -> bool {
    !super::store::OPEN_STATES.contains(&state)
}

fn status(v: Version, t: &TaskRow) -> Value {
    let mut s = json!({"state": state_out(v, &t.state), "timestamp": rfc3339(t.updated_at)});
    let said = match (&t.reply, &t.note) {
        (Some(reply), _) => serde_json::from_str(reply).ok(),
        (None, Some(note)) => Some(json!({"messageId": format!("{}-status", t.id), "role": "ROLE_AGENT",
                                         "parts": [{"text": note}], "contextId": t.context_id, "taskId": t.id})),
        (None, None) => None,
    };
    if let Some(m) = said {
        s["message"] = message_out(v, &m);
    }
    s
}

/// The task's result: the agent's answer, as one artifact.
fn artifact(v: Version, t: &TaskRow) -> Option<Value> {
    let reply: Value = serde_json::from_str(t.reply.as_deref()?).ok()?;
    let parts = reply["parts"].as_array().map(|ps| ps.iter().map(|p| part_out(v, p)).collect::<Vec<_>>());
    Some(json!({"artifactId": format!("{}-answer", t.id), "name": "answer", "parts": parts.unwrap_or_default()}))
}

/// The task in the caller's version; `history_length` keeps the last messages only.
pub fn task_out(v: Version, t: &TaskRow, history_length: Option<usize>) -> Value {
    let mut history: Vec<Value> = [Some(t.request.as_str()), t.reply.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(|m| serde_json::from_str::<Value>(m).ok())
        .map(|mut m| {
            m["contextId"] = json!(t.context_id);
            m["taskId"] = json!(t.id);
            message_out(v, &m)
        })
        .collect();
    if let Some(n) = history_length {
        history.drain(..history.len().saturating_sub(n));
    }
    let mut task = json!({"id": t.id, "contextId": t.context_id, "status": status(v, t), "history": history,
                          "artifacts": artifact(v, t).into_iter().collect::<Vec<_>>()});
    if v == Version::V03 {
        task["kind"] = json!("task");
    }
    task
}

/// What `SendMessage` answers with: the task, wrapped in 1.0.
pub fn send_result(v: Version, t: &TaskRow, history_length: Option<usize>) -> Value {
    match v {
        Version::V1 => json!({"task": task_out(v, t, history_length)}),
        Version::V03 => task_out(v, t, history_length),
    }
}

/// The stream's events for a task that moved to where `t` is now: its answer (when it has
/// one), then its status.
pub fn updates(v: Version, t: &TaskRow) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(a) = artifact(v, t) {
        out.push(match v {
            Version::V1 => json!({"artifactUpdate": {"taskId": t.id, "contextId": t.context_id, "artifact": a,
                                                     "append": false, "lastChunk": true}}),
            Version::V03 => json!({"kind": "artifact-update", "taskId": t.id, "contextId": t.context_id,
                                   "artifact": a, "append": false, "lastChunk": true}),
        });
    }
    out.push(status_update(v, t));
    out
}

pub fn status_update(v: Version, t: &TaskRow) -> Value {
    match v {
        Version::V1 => json!({"statusUpdate": {"taskId": t.id, "contextId": t.context_id, "status": status(v, t)}}),
        Version::V03 => json!({"kind": "status-update", "taskId": t.id, "contextId": t.context_id,
                               "status": status(v, t), "final": is_final(&t.state)}),
    }
}

/// A stream's first event: the task as it is.
pub fn task_event(v: Version, t: &TaskRow) -> Value {
    send_result(v, t, None)
}
