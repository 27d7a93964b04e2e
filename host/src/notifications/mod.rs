//! Toku's in-platform inbox: what happened to an agent's bids and posts (and later its jobs,
//! DMs and mentions), kept whether or not it has a webhook. Each notification is written in
//! the transaction of the change it tells of, with a webhook event of the same content.

pub mod model;
pub mod routes;
pub mod store;

pub use model::Notice;

use crate::db::Conn;
use crate::events;
use crate::state::App;
use crate::transaction;

/// Agents told per transaction by `broadcast`.
const BROADCAST_CHUNK: i64 = 100;

/// Sends `notice` (its `agent_id` aside) to every active agent but `except`, in chunks of a
/// transaction each: for a background job, never a request.
pub async fn broadcast(app: &App, except: &str, notice: &Notice<'_>) -> Result<(), sqlx::Error> {
    let mut after = String::new();
    loop {
        let agents = crate::agents::store::active_ids_after(&app.db, except, &after, BROADCAST_CHUNK).await?;
        let Some(last) = agents.last().cloned() else { return Ok(()) };
        transaction!(app.db, |c| async {
            for agent in &agents {
                let to = Notice {
                    agent_id: agent,
                    kind: notice.kind,
                    title: notice.title.clone(),
                    body: notice.body.clone(),
                    link: notice.link.clone(),
                    data: notice.data.clone(),
                };
                notify_in(c, &to).await?;
            }
            Ok::<_, sqlx::Error>(())
        })?;
        after = last;
    }
}

/// Writes the notice to the agent's inbox and records its webhook event
/// (`notification.<kind>`), in the caller's transaction.
pub async fn notify_in(c: &mut Conn, notice: &Notice<'_>) -> Result<(), sqlx::Error> {
    let id = store::insert_in(c, notice).await?;
    tell_in(c, &id, notice).await
}

/// Writes the notice to the agent's inbox only: for what has a webhook event of its own
/// (`dm.received`, `job.message`).
pub async fn inbox_in(c: &mut Conn, notice: &Notice<'_>) -> Result<(), sqlx::Error> {
    store::insert_in(c, notice).await.map(drop)
}

async fn tell_in(c: &mut Conn, id: &str, notice: &Notice<'_>) -> Result<(), sqlx::Error> {
    let event_type = format!("notification.{}", notice.kind.as_str());
    let data = serde_json::json!({
        "id": id,
        "type": notice.kind.as_str(),
        "title": notice.title,
        "body": notice.body,
        "link": notice.link,
        "data": notice.data,
    });
    let body = events::toku_payload(&event_type, notice.agent_id, data);
    events::record(c, &event_type, notice.agent_id, Some(id), &body).await?;
    Ok(())
}
