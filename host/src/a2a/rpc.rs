//! The JSON-RPC endpoint: one request, one method, answered in the version its name belongs to
//! (the v1.0 and v0.3 names do not overlap, so one endpoint serves both). A streaming method
//! answers with a stream of results; anything else with one JSON-RPC response.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde_json::{json, Value};

use super::service;
use super::store::{self, PushRow, TaskFilter, TaskRow};
use super::wire::{self, Version};
use super::{push, A2aError};
use crate::agents::model::AgentRow;
use crate::db::page::Page;
use crate::db::{new_id, now_ms};
use crate::state::App;
use crate::transaction;

/// How the caller wants a send answered.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// When the task is done, or `a2a_wait_ms` passed.
    Done,
    /// At once, the task still working.
    No,
}

pub type Results = Pin<Box<dyn Stream<Item = Value> + Send>>;

pub enum Reply {
    /// A JSON-RPC response.
    One(Value),
    /// `result`s to send as server-sent events, each wrapped in a response with `id`.
    Stream { id: Value, results: Results },
}

/// Who calls, and which agent.
pub struct Call<'a> {
    pub app: &'a Arc<App>,
    pub agent: &'a AgentRow,
    pub caller_id: &'a str,
}

pub fn response(id: &Value, outcome: Result<Value, A2aError>) -> Value {
    match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": e.rpc_error()}),
    }
}

/// Answers one JSON-RPC request body.
pub async fn handle(call: &Call<'_>, version_header: Option<&str>, body: &[u8]) -> Reply {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Reply::One(response(&Value::Null, Err(A2aError::Parse(e.to_string())))),
    };
    let id = match request.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_) | Value::Null)) => id.clone(),
        None => Value::Null,
        Some(_) => {
            let bad = A2aError::InvalidRequest("id must be a string, a number or null".into());
            return Reply::One(response(&Value::Null, Err(bad)));
        }
    };
    let checked = (|| {
        if request.get("jsonrpc") != Some(&json!("2.0")) {
            return Err(A2aError::InvalidRequest(r#"jsonrpc must be "2.0""#.into()));
        }
        wire::check_version_header(version_header)?;
        let method = request.get("method").and_then(Value::as_str);
        let method = method.ok_or_else(|| A2aError::InvalidRequest("method must be a string".into()))?;
        let params = match request.get("params") {
            None | Some(Value::Null) => json!({}),
            Some(p @ Value::Object(_)) => p.clone(),
            Some(_) => return Err(A2aError::InvalidParams("params must be an object".into())),
        };
        Ok((method.to_string(), params))
    })();
    let (method, params) = match checked {
        Ok(m) => m,
        Err(e) => return Reply::One(response(&id, Err(e))),
    };
    match dispatch(call, &method, &params).await {
        Ok(Outcome::One(result)) => Reply::One(response(&id, Ok(result))),
        Ok(Outcome::Stream(results)) => Reply::Stream { id, results },
        Err(e) => Reply::One(response(&id, Err(e))),
    }
}

enum Outcome {
    One(Value),
    Stream(Results),
}

async fn dispatch(call: &Call<'_>, method: &str, p: &Value) -> Result<Outcome, A2aError> {
    use Version::{V03, V1};
    let one = Outcome::One;
    Ok(match method {
        "SendMessage" => one(send(call, V1, p).await?),
        "message/send" => one(send(call, V03, p).await?),
        "SendStreamingMessage" => Outcome::Stream(send_streaming(call, V1, p).await?),
        "message/stream" => Outcome::Stream(send_streaming(call, V03, p).await?),
        "GetTask" => one(get(call, V1, p).await?),
        "tasks/get" => one(get(call, V03, p).await?),
        "ListTasks" => one(list(call, p).await?),
        "CancelTask" => one(cancel(call, V1, p).await?),
        "tasks/cancel" => one(cancel(call, V03, p).await?),
        "SubscribeToTask" => Outcome::Stream(subscribe(call, V1, p).await?),
        "tasks/resubscribe" => Outcome::Stream(subscribe(call, V03, p).await?),
        "CreateTaskPushNotificationConfig" => one(set_push(call, V1, p).await?),
        "tasks/pushNotificationConfig/set" => one(set_push(call, V03, p).await?),
        "GetTaskPushNotificationConfig" => one(get_push(call, V1, p).await?),
        "tasks/pushNotificationConfig/get" => one(get_push(call, V03, p).await?),
        "ListTaskPushNotificationConfigs" => one(list_push(call, V1, p).await?),
        "tasks/pushNotificationConfig/list" => one(list_push(call, V03, p).await?),
        "DeleteTaskPushNotificationConfig" => one(delete_push(call, V1, p).await?),
        "tasks/pushNotificationConfig/delete" => one(delete_push(call, V03, p).await?),
        "GetExtendedAgentCard" | "agent/getAuthenticatedExtendedCard" => return Err(A2aError::NoExtendedCard),
        other => return Err(A2aError::MethodNotFound(other.to_string())),
    })
}

fn text<'a>(p: &'a Value, name: &str) -> Result<&'a str, A2aError> {
    p.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .ok_or_else(|| A2aError::InvalidParams(format!("{name} must be a string of 1 to 200 characters")))
}

fn history_length(p: &Value) -> Result<Option<usize>, A2aError> {
    match p.get("historyLength") {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| A2aError::InvalidParams("historyLength must be 0 or more".into())),
    }
}

/// The send's message, how long to wait for it, and a push config to keep with its task.
fn send_params(v: Version, p: &Value) -> Result<(wire::Incoming, Wait, Option<NewPush>), A2aError> {
    let message = p.get("message").ok_or_else(|| A2aError::InvalidParams("message is required".into()))?;
    let incoming = wire::incoming(v, message)?;
    let config = p.get("configuration").cloned().unwrap_or(json!({}));
    let wait = match v {
        Version::V1 if config["returnImmediately"] == json!(true) => Wait::No,
        Version::V03 if config["blocking"] == json!(false) => Wait::No,
        _ => Wait::Done,
    };
    let push = match v {
        Version::V1 => config.get("taskPushNotificationConfig"),
        Version::V03 => config.get("pushNotificationConfig"),
    };
    let push = push.filter(|c| !c.is_null()).map(|c| NewPush::parse(v, c)).transpose()?;
    Ok((incoming, wait, push))
}

async fn start(call: &Call<'_>, v: Version, p: &Value, wait: Option<Wait>) -> Result<TaskRow, A2aError> {
    let (incoming, asked, push) = send_params(v, p)?;
    let task = service::send(call.app, call.agent, call.caller_id, incoming).await?;
    if let Some(push) = push {
        keep_push(call.app, &task.id, push).await?;
    }
    let timeout = match wait.unwrap_or(asked) {
        Wait::Done => Duration::from_millis(call.app.config.messaging.a2a_wait_ms),
        Wait::No => Duration::ZERO,
    };
    service::wait_done(call.app, &task.id, timeout).await
}

async fn send(call: &Call<'_>, v: Version, p: &Value) -> Result<Value, A2aError> {
    let task = start(call, v, p, None).await?;
    let history = history_length(p.get("configuration").unwrap_or(&Value::Null))?;
    Ok(wire::send_result(v, &task, history))
}

async fn send_streaming(call: &Call<'_>, v: Version, p: &Value) -> Result<Results, A2aError> {
    let task = start(call, v, p, Some(Wait::No)).await?;
    Ok(events(call.app.clone(), v, task))
}

/// The task as it is, then each change until it ends.
fn events(app: Arc<App>, v: Version, task: TaskRow) -> Results {
    struct State {
        app: Arc<App>,
        v: Version,
        last: TaskRow,
        first: bool,
        woken: tokio::sync::watch::Receiver<()>,
        stopping: tokio::sync::watch::Receiver<bool>,
    }
    let woken = app.a2a_tasks.watch(&task.id);
    let stopping = app.stopping.subscribe();
    let state = State { app, v, last: task, first: true, woken, stopping };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        if s.first {
            s.first = false;
            return Some((vec![wire::task_event(s.v, &s.last)], s));
        }
        if wire::is_final(&s.last.state) {
            return None;
        }
        loop {
            if *s.stopping.borrow() {
                return None; // the server stops: the client subscribes again elsewhere or later
            }
            s.woken.borrow_and_update();
            let now = match store::task(&s.app.db, &s.last.id).await {
                Ok(Some(t)) => t,
                _ => return None,
            };
            if now.state != s.last.state {
                let out = if wire::is_final(&now.state) {
                    wire::updates(s.v, &now)
                } else {
                    vec![wire::status_update(s.v, &now)]
                };
                s.last = now;
                return Some((out, s));
            }
            let poll = Duration::from_millis(s.app.config.messaging.messaging_poll_ms);
            tokio::select! {
                _ = tokio::time::timeout(poll, s.woken.changed()) => {}
                _ = s.stopping.changed() => {}
            }
        }
    }))
    .flat_map(futures::stream::iter)
    .boxed()
}

async fn get(call: &Call<'_>, v: Version, p: &Value) -> Result<Value, A2aError> {
    let task = service::get(call.app, call.agent, call.caller_id, text(p, "id")?).await?;
    Ok(wire::task_out(v, &task, history_length(p)?))
}

async fn cancel(call: &Call<'_>, v: Version, p: &Value) -> Result<Value, A2aError> {
    let task = service::cancel(call.app, call.agent, call.caller_id, text(p, "id")?).await?;
    Ok(wire::task_out(v, &task, None))
}

async fn subscribe(call: &Call<'_>, v: Version, p: &Value) -> Result<Results, A2aError> {
    let task = service::get(call.app, call.agent, call.caller_id, text(p, "id")?).await?;
    if wire::is_final(&task.state) {
        return Err(A2aError::Unsupported(format!("task {} is {}: read it with GetTask", task.id, task.state)));
    }
    Ok(events(call.app.clone(), v, task))
}

const TASK_STATES: [&str; 6] = ["submitted", "working", "completed", "failed", "canceled", "rejected"];

async fn list(call: &Call<'_>, p: &Value) -> Result<Value, A2aError> {
    let bad = |why: &str| A2aError::InvalidParams(why.to_string());
    let state = match p.get("status").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        None | Some("TASK_STATE_UNSPECIFIED") => None,
        Some(s) => {
            let name = s.strip_prefix("TASK_STATE_").unwrap_or_default().to_ascii_lowercase();
            Some(TASK_STATES.into_iter().find(|t| *t == name).ok_or_else(|| bad("status must be a TASK_STATE_ name"))?)
        }
    };
    let context_id = p.get("contextId").and_then(Value::as_str).filter(|s| !s.is_empty());
    let size = match p.get("pageSize") {
        None | Some(Value::Null) => 50,
        Some(n) => n.as_i64().filter(|n| (1..=100).contains(n)).ok_or_else(|| bad("pageSize must be 1 to 100"))?,
    };
    let token = p.get("pageToken").and_then(Value::as_str);
    let page = Page::parse(Some(size), None, token).map_err(|e| bad(&format!("pageToken: {e}")))?;
    let filter = TaskFilter { context_id, state };
    let (rows, total) = service::list(call.app, call.agent, call.caller_id, &filter, &page).await?;
    let (rows, meta) = page.cut(rows, total, |t| (t.created_at, t.id.clone()));
    let history = history_length(p)?;
    let tasks: Vec<Value> = rows.iter().map(|t| wire::task_out(Version::V1, t, history)).collect();
    Ok(json!({"tasks": tasks, "nextPageToken": meta.next_cursor.unwrap_or_default(),
              "pageSize": size, "totalSize": total}))
}

/// A push config as a caller gives it.
struct NewPush {
    id: Option<String>,
    url: String,
    token: Option<String>,
    auth: Option<(String, Option<String>)>,
}

impl NewPush {
    fn parse(v: Version, c: &Value) -> Result<NewPush, A2aError> {
        let bad = |why: &str| A2aError::InvalidParams(format!("push notification config: {why}"));
        let url = c.get("url").and_then(Value::as_str).ok_or_else(|| bad("url is required"))?;
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && url.len() <= 2_000 => {}
            _ => return Err(bad("url must be an http(s) URL of at most 2000 characters")),
        }
        let opt = |name: &str| -> Result<Option<String>, A2aError> {
            match c.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) if s.len() <= 500 && !s.chars().any(char::is_control) => Ok(Some(s.clone())),
                Some(_) => Err(bad(&format!("{name} must be a string of at most 500 characters"))),
            }
        };
        let (id, token) = (opt("id")?, opt("token")?);
        if id.as_deref().is_some_and(|id| !crate::messaging::model::valid_id(id)) {
            return Err(bad("id must be 1 to 100 letters, digits, -, _, . or :"));
        }
        let auth = c.get("authentication").filter(|a| !a.is_null());
        let auth = match auth {
            None => None,
            Some(a) => {
                let scheme = match v {
                    Version::V1 => a.get("scheme").and_then(Value::as_str),
                    Version::V03 => a.get("schemes").and_then(|s| s.get(0)).and_then(Value::as_str),
                };
                let scheme = scheme.filter(|s| {
                    !s.is_empty() && s.len() <= 50 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
                let scheme = scheme.ok_or_else(|| bad("authentication needs a scheme such as Bearer"))?;
                let credentials = a.get("credentials").and_then(Value::as_str).map(str::to_string);
                if credentials.as_deref().is_some_and(|c| c.len() > 4_000 || c.chars().any(char::is_control)) {
                    return Err(bad("credentials must be at most 4000 characters"));
                }
                Some((scheme.to_string(), credentials))
            }
        };
        Ok(NewPush { id, url: url.to_string(), token, auth })
    }
}

const MAX_PUSH_CONFIGS: usize = 10;

async fn keep_push(app: &App, task_id: &str, push: NewPush) -> Result<PushRow, A2aError> {
    let id = push.id.unwrap_or_else(new_id);
    let (scheme, credentials) = push.auth.map_or((None, None), |(s, c)| (Some(s), c));
    let sealed = credentials.map(|c| app.sealer.seal(c.as_bytes(), &push::sealing_context(task_id, &id)));
    let row = PushRow {
        task_id: task_id.to_string(),
        id,
        url: push.url,
        token: push.token,
        auth_scheme: scheme,
        sealed_credentials: sealed,
        created_at: now_ms(),
    };
    let r = &row;
    transaction!(app.db, |c| async move {
        let others = store::pushes_in(&mut *c, &r.task_id).await?;
        if others.len() >= MAX_PUSH_CONFIGS && !others.iter().any(|o| o.id == r.id) {
            return Err(A2aError::InvalidParams(format!("a task takes at most {MAX_PUSH_CONFIGS} push configs")));
        }
        store::put_push_in(&mut *c, r).await?;
        // A task that ended before its config came gets its notification now.
        let task = store::task_in(&mut *c, &r.task_id).await?;
        if task.is_some_and(|t| wire::is_final(&t.state)) {
            push::queue_in(c, &r.task_id).await?;
        }
        Ok(())
    })?;
    app.jobs_due.notify_one();
    Ok(row)
}

fn push_out(v: Version, p: &PushRow) -> Value {
    match v {
        Version::V1 => {
            let mut out = json!({"taskId": p.task_id, "id": p.id, "url": p.url});
            if let Some(token) = &p.token {
                out["token"] = json!(token);
            }
            if let Some(scheme) = &p.auth_scheme {
                out["authentication"] = json!({"scheme": scheme});
            }
            out
        }
        Version::V03 => {
            let mut config = json!({"id": p.id, "url": p.url});
            if let Some(token) = &p.token {
                config["token"] = json!(token);
            }
            if let Some(scheme) = &p.auth_scheme {
                config["authentication"] = json!({"schemes": [scheme]});
            }
            json!({"taskId": p.task_id, "pushNotificationConfig": config})
        }
    }
}

/// The task id a push-config method names: `taskId` in 1.0 and in 0.3's set, `id` in 0.3's others.
fn push_task(v: Version, p: &Value, setting: bool) -> Result<&str, A2aError> {
    match (v, setting) {
        (Version::V03, false) => text(p, "id"),
        _ => text(p, "taskId"),
    }
}

async fn set_push(call: &Call<'_>, v: Version, p: &Value) -> Result<Value, A2aError> {
    let task = service::get(call.app, call.agent, call.caller_id, push_task(v, p, true)?).await?;
    let config = match v {
        Version::V1 => p,
        Version::V03 => p
            .get("pushNotificationConfig")
            .ok_or_else(|| A2aError::InvalidParams("pushNotificationConfig is required".into()))?,
    };
    let row = keep_push(call.app, &task.id, NewPush::parse(v, config)?).await?;
    Ok(push_out(v, &row))
}

async fn get_push(call: &Call<'_>, v: Version, p: &Value) -> Result<Value, A2aError> {
    let task = service::get(call.app, call.agent, call.caller_id, push_task(v, p, false)?).await?;
    let wanted = match v {
        Version::V1 => Some(text(p, "id")?),
        Version::V03 => p.get("pushNotificationConfigId").and_then(Value::as_str),
    };
    let all = store::pushes(&call.app.db, &task.id).await?;
    let found = all.iter().find(|c| wanted.is_none_or(|w| w == c.id));
    let found = found.ok_or_else(|| A2aError::InvalidParams("the task has no such push notification config".into()))?;
    Ok(push_out(v, found))
}

async fn list_push(call: &Call<'_>, v: Version, p: &Value) -> Result<Value, A2aError> {
    let task = service::get(call.app, call.agent, call.caller_id, push_task(v, p, false)?).await?;
    let all: Vec<Value> = store::pushes(&call.app.db, &task.id).await?.iter().map(|c| push_out(v, c)).collect();
    Ok(match v {
        Version::V1 => json!({"configs": all, "nextPageToken": ""}),
        Version::V03 => json!(all),
    })
}

async fn delete_push(call: &Call<'_>, v: Version, p: &Value) -> Result<Value, A2aError> {
    let task = service::get(call.app, call.agent, call.caller_id, push_task(v, p, false)?).await?;
    let id = match v {
        Version::V1 => text(p, "id")?,
        Version::V03 => text(p, "pushNotificationConfigId")?,
    };
    let (t, id) = (&task.id, id);
    let gone = transaction!(call.app.db, |c| async move { store::delete_push_in(c, t, id).await })?;
    if !gone {
        return Err(A2aError::InvalidParams("the task has no such push notification config".into()));
    }
    Ok(match v {
        Version::V1 => json!({}),
        Version::V03 => Value::Null,
    })
}
