//! Push notifications: when a task ends, each of its push configs gets the task (an A2A v1.0
//! `StreamResponse` holding it) POSTed to its URL by a scheduler job queued in the transaction
//! that ended it (so a crash loses none, and retries come with backoff). The request carries the
//! config's `token` as `X-A2A-Notification-Token` and its credentials as `Authorization`; it goes
//! through the outbound guard like every URL an agent gives.

use std::time::Duration;

use serde_json::{json, Value};

use super::store;
use super::wire::{self, Version};
use crate::db::Conn;
use crate::scheduler::{Backoff, KindSpec, Registry};
use crate::state::App;

pub const PUSH: KindSpec = KindSpec::once("a2a.push")
    .timeout(Duration::from_secs(60))
    .attempts(8, Backoff::exponential(Duration::from_secs(1), 4, Duration::from_secs(600)));

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(PUSH, |app, job| async move { send(&app, &job.payload).await });
}

/// Queues a notification to each of the task's push configs.
pub async fn queue_in(c: &mut Conn, task_id: &str) -> Result<(), sqlx::Error> {
    for p in store::pushes_in(&mut *c, task_id).await? {
        let key = format!("{task_id}:{}", p.id);
        let payload = json!({"task_id": task_id, "config_id": p.id});
        crate::scheduler::enqueue(&mut *c, PUSH, Some(&key), &payload, None).await?;
    }
    Ok(())
}

/// The context the config's credentials are sealed under.
pub fn sealing_context(task_id: &str, config_id: &str) -> String {
    format!("a2a-push:{task_id}:{config_id}")
}

async fn send(app: &App, payload: &Value) -> Result<(), String> {
    let (task_id, config_id) = (payload["task_id"].as_str().unwrap_or_default(), payload["config_id"].as_str());
    let Some(task) = store::task(&app.db, task_id).await.map_err(|e| e.to_string())? else { return Ok(()) };
    let configs = store::pushes(&app.db, task_id).await.map_err(|e| e.to_string())?;
    let Some(p) = configs.into_iter().find(|p| Some(p.id.as_str()) == config_id) else {
        return Ok(()); // deleted since
    };
    let url = url::Url::parse(&p.url).map_err(|e| format!("push URL: {e}"))?;
    let client = app.outbound.client(&url).await.map_err(|e| format!("push URL refused: {e:?}"))?;
    let mut req = client.post(url).timeout(Duration::from_secs(15)).json(&wire::task_event(Version::V1, &task));
    if let Some(token) = &p.token {
        req = req.header("X-A2A-Notification-Token", token);
    }
    if let (Some(scheme), Some(sealed)) = (&p.auth_scheme, &p.sealed_credentials) {
        let credentials = app.sealer.open(sealed, &sealing_context(task_id, &p.id)).map_err(str::to_string)?;
        req = req.header("Authorization", format!("{scheme} {}", String::from_utf8_lossy(&credentials)));
    }
    let resp = req.send().await.map_err(|e| format!("push to {}: {e}", p.url))?;
    if !resp.status().is_success() {
        return Err(format!("push to {} answered {}", p.url, resp.status()));
    }
    Ok(())
}
