//! A2A tasks: a caller's message becomes a task of the agent. An agent with something to run
//! (a component, an `endpoint_url`, a `system_prompt`) runs it as `/api/execute` does, the
//! caller paying; any other agent gets the message in its inbox, in the thread named by the
//! task's context, where its handlers (or the agent itself) answer it, and the first answer to
//! the caller in that thread completes the task (`answered_in`). A task's change wakes its
//! waiters on this host and queues its push notifications in the same transaction.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::store::{self, TaskFilter, TaskRow};
use super::wire::{self, Incoming};
use super::{push, A2aError};
use crate::agents::model::{AgentRow, AgentStatus};
use crate::db::page::Page;
use crate::db::{new_id, now_ms, Conn};
use crate::executions::model::ExecuteRequest;
use crate::idempotency::Answer;
use crate::messaging::model::{MessageRow, NewMessage, Recipients};
use crate::messaging::MessagingError;
use crate::state::App;
use crate::transaction;

/// An agent of this host that answers A2A callers, by handle.
pub async fn agent(app: &App, handle: &str) -> Result<AgentRow, A2aError> {
    let agent = crate::agents::store::find(&app.db, handle).await?;
    let agent = agent.filter(|a| a.slug == handle && a.standing() == AgentStatus::Active).ok_or(A2aError::NoAgent)?;
    if !store::enabled(&app.db, &agent.id).await? {
        return Err(A2aError::NoAgent);
    }
    Ok(agent)
}

fn runs_itself(agent: &AgentRow) -> bool {
    agent.component_id.is_some() || agent.endpoint_url.is_some() || agent.system_prompt.is_some()
}

/// Makes the task and sets it going.
pub async fn send(app: &Arc<App>, agent: &AgentRow, caller_id: &str, incoming: Incoming) -> Result<TaskRow, A2aError> {
    if let Some(id) = &incoming.task_id {
        let task = store::task_of(&app.db, &agent.id, caller_id, id).await?;
        let task = task.ok_or_else(|| A2aError::TaskNotFound(id.clone()))?;
        return Err(A2aError::Unsupported(format!(
            "task {} is {} and takes no more messages: send a new message without taskId",
            task.id, task.state
        )));
    }
    if caller_id == agent.id {
        return Err(A2aError::InvalidParams("an agent cannot send a task to itself".into()));
    }
    let at = now_ms();
    let task = TaskRow {
        id: new_id(),
        agent_id: agent.id.clone(),
        caller_id: caller_id.to_string(),
        context_id: incoming.context_id.clone().unwrap_or_else(new_id),
        state: if runs_itself(agent) { "working" } else { "submitted" }.into(),
        request: incoming.message.to_string(),
        reply: None,
        note: None,
        message_id: None,
        execution_id: None,
        created_at: at,
        updated_at: at,
    };
    let t = &task;
    transaction!(app.db, |c| async move { store::insert_in(c, t).await })?;
    if runs_itself(agent) {
        let (app, agent, task, text) = (app.clone(), agent.clone(), task.clone(), incoming.text.clone());
        let metadata = incoming.message.get("metadata").cloned();
        tokio::spawn(async move { execute(&app, &agent, &task, text, metadata).await });
    } else {
        deliver(app, agent, &task, &incoming).await?;
    }
    Ok(task)
}

/// The task once it is done, or as it is when `timeout` has passed.
pub async fn wait_done(app: &App, id: &str, timeout: Duration) -> Result<TaskRow, A2aError> {
    let mut woken = app.a2a_tasks.watch(id);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        woken.borrow_and_update();
        let task = store::task(&app.db, id).await?.ok_or_else(|| A2aError::TaskNotFound(id.into()))?;
        if wire::is_final(&task.state) {
            return Ok(task);
        }
        let poll = Duration::from_millis(app.config.messaging.messaging_poll_ms);
        let until = deadline.min(tokio::time::Instant::now() + poll);
        if tokio::time::Instant::now() >= deadline {
            return Ok(task);
        }
        let _ = tokio::time::timeout_at(until, woken.changed()).await;
    }
}

/// Runs the agent for the task, paid by the caller (the agent's price, plus compute up to the
/// message's `agora_budget_cents` or the host's handler budget).
async fn execute(app: &App, agent: &AgentRow, task: &TaskRow, text: String, metadata: Option<Value>) {
    let allowance = metadata
        .as_ref()
        .and_then(|m| m.get("agora_budget_cents"))
        .and_then(Value::as_i64)
        .unwrap_or(app.config.messaging.messaging_handler_budget_cents as i64);
    let req = ExecuteRequest {
        agent_id: agent.id.clone(),
        task_description: text,
        budget: agent.price_per_task_cents + allowance.max(0),
        params: metadata.and_then(|m| m.get("agora_params").cloned()),
        approval_id: None,
    };
    let (state, reply, note, execution) =
        match crate::executions::service::execute(app, &task.caller_id, &req, Answer::none()).await {
            Ok(done) => match done.result {
                Ok(output) => ("completed", Some(output), None, Some(done.execution_id)),
                Err(e) => ("failed", None, Some(format!("{}: {}", e.code, e.message)), Some(done.execution_id)),
            },
            Err(e) => ("rejected", None, Some(e.to_string()), None),
        };
    let reply = reply.map(|text| wire::agent_message(task, &new_id(), &text).to_string());
    let (reply, note, execution) = (reply.as_deref(), note.as_deref(), execution.as_deref());
    let done = transaction!(app.db, |c| async move {
        if let Some(execution) = execution {
            store::set_execution_in(&mut *c, &task.id, execution).await?;
        }
        finish_in(c, &task.id, state, reply, note).await
    });
    match done {
        Ok(_) => changed(app, &task.id),
        Err(e) => tracing::error!(task = %task.id, "an A2A task's outcome was not recorded: {e}"),
    }
}

/// Hands the task's message to the agent's inbox, from the caller, in the task's context.
async fn deliver(app: &App, agent: &AgentRow, task: &TaskRow, incoming: &Incoming) -> Result<(), A2aError> {
    let me = crate::messaging::identity::ensure(app, &agent.id, &agent.slug).await;
    let address = me.map_err(|e| A2aError::Internal(e.to_string()))?.address.to_string();
    let mut body = json!({"text": incoming.text, "a2a_task_id": task.id});
    let data: Vec<&Value> =
        incoming.message["parts"].as_array().into_iter().flatten().filter_map(|p| p.get("data")).collect();
    if !data.is_empty() {
        body["data"] = json!(data);
    }
    let message = NewMessage {
        to: Recipients::One(address),
        body,
        thread_id: Some(task.context_id.clone()),
        reply_to: None,
        content_type: Some("text/plain".into()),
        close_thread: false,
        a2a_auth: None,
    };
    let refused = |e: MessagingError| e.to_string();
    let (state, note, message_id) = match crate::messaging::service::send(app, &task.caller_id, message).await {
        Ok(sent) if sent.status == "delivered" => ("working", None, Some(sent.id)),
        Ok(sent) => ("submitted", Some("the agent has not yet accepted messages from you".to_string()), Some(sent.id)),
        Err(e) => ("rejected", Some(refused(e)), None),
    };
    let (id, note, message_id) = (&task.id, note.as_deref(), message_id.as_deref());
    transaction!(app.db, |c| async move {
        crate::db::query("UPDATE a2a_tasks SET message_id = $1, note = $2 WHERE id = $3")
            .bind(message_id)
            .bind(note)
            .bind(id)
            .execute(&mut *c)
            .await?;
        if state == "working" {
            crate::db::query("UPDATE a2a_tasks SET state = 'working' WHERE id = $1 AND state = 'submitted'")
                .bind(id)
                .execute(&mut *c)
                .await?;
        } else if state == "rejected" {
            finish_in(c, id, state, None, note).await?;
        }
        Ok::<_, sqlx::Error>(())
    })?;
    changed(app, id);
    Ok(())
}

/// After a commit that changed the task: its waiters look again, and its pushes go now.
fn changed(app: &App, id: &str) {
    app.a2a_tasks.wake(id);
    app.jobs_due.notify_one();
}

/// Ends an open task and queues its push notifications; false if it was no longer open.
async fn finish_in(
    c: &mut Conn,
    id: &str,
    state: &str,
    reply: Option<&str>,
    note: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let moved = store::finish_in(&mut *c, id, state, reply, note, now_ms()).await?;
    if moved {
        push::queue_in(c, id).await?;
    }
    Ok(moved)
}

/// In the transaction that delivers `m`: completes the open task that `m` answers (a message
/// from the task's agent to its caller in the task's context), and names it to be woken after
/// the commit.
pub async fn answered_in(c: &mut Conn, m: &MessageRow) -> Result<Option<String>, sqlx::Error> {
    let (Some(agent), Some(caller)) = (&m.sender_agent_id, &m.recipient_agent_id) else { return Ok(None) };
    let Some(task_id) = store::open_task_in(&mut *c, &m.thread_id, agent, caller).await? else { return Ok(None) };
    let body: Value = serde_json::from_str(&m.body).unwrap_or_default();
    let parts = match body.get("text").and_then(Value::as_str) {
        Some(text) => json!([{"text": text}]),
        None => json!([{"data": body}]),
    };
    let reply = json!({"messageId": m.id, "role": "ROLE_AGENT", "parts": parts,
                       "contextId": m.thread_id, "taskId": task_id});
    finish_in(c, &task_id, "completed", Some(&reply.to_string()), None).await?;
    Ok(Some(task_id))
}

/// The caller's task with the agent.
pub async fn get(app: &App, agent: &AgentRow, caller_id: &str, id: &str) -> Result<TaskRow, A2aError> {
    let task = store::task_of(&app.db, &agent.id, caller_id, id).await?;
    task.ok_or_else(|| A2aError::TaskNotFound(id.to_string()))
}

pub async fn list(
    app: &App,
    agent: &AgentRow,
    caller_id: &str,
    filter: &TaskFilter<'_>,
    page: &Page,
) -> Result<(Vec<TaskRow>, i64), A2aError> {
    Ok(store::tasks_of(&app.db, &agent.id, caller_id, filter, page).await?)
}

/// Cancels an open task. An agent already running it finishes its run (and is paid for it);
/// the task stays canceled.
pub async fn cancel(app: &App, agent: &AgentRow, caller_id: &str, id: &str) -> Result<TaskRow, A2aError> {
    let task = get(app, agent, caller_id, id).await?;
    let note = "canceled by the caller";
    let moved = transaction!(app.db, |c| async move { finish_in(c, id, "canceled", None, Some(note)).await })?;
    if !moved {
        let now = store::task(&app.db, id).await?.map_or(task.state, |t| t.state);
        return Err(A2aError::NotCancelable(id.to_string(), now));
    }
    changed(app, id);
    get(app, agent, caller_id, id).await
}
