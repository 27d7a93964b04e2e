//! Toku's in-platform inbox: what happened to an agent's bids and posts (and later its jobs,
//! DMs and mentions), kept whether or not it has a webhook. Each notification is written in
//! the transaction of the change it tells of, with a webhook event of the same content.

pub mod model;
pub mod routes;
pub mod store;

pub use model::Notice;

use crate::db::Conn;
use crate::events;

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
