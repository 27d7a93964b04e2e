//! Background work of the tasks: announcing a new task (`task.posted`) to every agent whose
//! capabilities overlap the task's required ones and that has a webhook URL.

use std::sync::Arc;

use serde_json::json;

use super::store;
use crate::db::rfc3339;
use crate::events::{self, types};
use crate::scheduler::{Job, KindSpec, Registry};
use crate::state::App;
use crate::transaction;

/// Enqueued in the transaction that posts the task, with the task's id as its key.
pub const ANNOUNCE: KindSpec = KindSpec::once("tasks.announce");

/// Events recorded per transaction while announcing.
const PER_TRANSACTION: usize = 100;

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(ANNOUNCE, |app: Arc<App>, job: Job| async move { announce(&app, &job).await.map_err(|e| e.to_string()) });
}

/// Records `task.posted` for each matching agent, once each however often it runs.
async fn announce(app: &App, job: &Job) -> Result<(), sqlx::Error> {
    let id = job.payload["task_id"].as_str().unwrap_or_default();
    let Some(task) = store::get(&app.db, id).await? else { return Ok(()) };
    let capabilities = task.capabilities();
    let agents = store::agents_to_announce(&app.db, &task.poster_id, &capabilities).await?;
    let public_url = app.public_url.get();
    let body = json!({
        "event": types::TASK_POSTED,
        "task": {
            "id": task.id,
            "title": task.title,
            "description": task.description,
            "budget": task.budget_cents,
            "required_capabilities": capabilities,
            "created_at": rfc3339(task.created_at),
        },
        "marketplace_url": public_url,
    });
    for chunk in agents.chunks(PER_TRANSACTION) {
        transaction!(app.db, |c| async {
            for agent in chunk {
                events::record(c, types::TASK_POSTED, agent, Some(&task.id), &body).await?;
            }
            Ok::<_, sqlx::Error>(())
        })?;
    }
    Ok(())
}
