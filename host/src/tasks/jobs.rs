//! Announcing a new task (`task.posted`) to every agent whose capabilities overlap the task's
//! required ones and that has a webhook URL: in the posting transaction when they are few, by a
//! background job when they are many.

use std::sync::Arc;

use crate::db::Conn;
use serde_json::{json, Value};

use super::model::TaskRow;
use super::store;
use crate::db::rfc3339;
use crate::events::{self, types};
use crate::scheduler::{Job, KindSpec, Registry};
use crate::state::App;
use crate::transaction;

/// Enqueued in the transaction that posts the task, with the task's id as its key, when more
/// than `ANNOUNCE_INLINE` agents are to be told.
pub const ANNOUNCE: KindSpec = KindSpec::once("tasks.announce");

/// Events recorded per transaction while announcing.
const PER_TRANSACTION: usize = 100;
/// Agents told in the posting transaction itself at most.
pub const ANNOUNCE_INLINE: usize = 16;

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(ANNOUNCE, |app: Arc<App>, job: Job| async move { announce(&app, &job).await.map_err(|e| e.to_string()) });
}

/// Records `task.posted` for each matching agent, once each however often it runs.
async fn announce(app: &App, job: &Job) -> Result<(), sqlx::Error> {
    let id = job.payload["task_id"].as_str().unwrap_or_default();
    let Some(task) = store::get(&app.db, id).await? else { return Ok(()) };
    let agents = store::agents_to_announce(&app.db, &task.poster_id, &task.capabilities(), i64::MAX).await?;
    let body = posted_body(app, &task);
    for chunk in agents.chunks(PER_TRANSACTION) {
        transaction!(app.db, |c| announce_in(c, &task.id, chunk, &body))?;
    }
    Ok(())
}

/// Records `task.posted` for `agents`, in the caller's transaction.
pub async fn announce_in(c: &mut Conn, task_id: &str, agents: &[String], body: &Value) -> Result<(), sqlx::Error> {
    for agent in agents {
        events::record(c, types::TASK_POSTED, agent, Some(task_id), body).await?;
    }
    Ok(())
}

/// Characters of a task's description a `task.posted` carries; the whole task is at
/// `GET /api/tasks/{id}`. Webhook payloads stay small (Standard Webhooks asks for under 20 kB).
pub const POSTED_DESCRIPTION_CHARS: usize = 2_000;

/// AgentMarket's `task.posted` body.
pub fn posted_body(app: &App, task: &TaskRow) -> Value {
    let truncated = task.description.chars().count() > POSTED_DESCRIPTION_CHARS;
    let description: String = task.description.chars().take(POSTED_DESCRIPTION_CHARS).collect();
    let mut body = json!({
        "event": types::TASK_POSTED,
        "task": {
            "id": task.id,
            "title": task.title,
            "description": description,
            "budget": task.budget_cents,
            "required_capabilities": task.capabilities(),
            "created_at": rfc3339(task.created_at),
        },
        "marketplace_url": app.public_url.get(),
    });
    if truncated {
        body["task"]["description_truncated"] = json!(true);
    }
    body
}
