//! What happened to an agent's messages (toq's daemon log, per agent): deliveries and holds
//! recorded in the delivery's transaction, handler runs and remote deliveries as they end.
//! An agent reads and clears its own; an operator reads every agent's.

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use super::MessagingError;
use crate::db::{new_id, now_ms, rfc3339, Conn};
use crate::state::App;
use crate::transaction;

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct LogRow {
        pub id: String,
        pub agent_id: String,
        pub level: String,
        pub event: String,
        pub message: String,
        pub created_at: i64,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntry {
    pub id: String,
    pub agent_id: String,
    /// `info` or `warn`.
    pub level: String,
    /// `message.delivered`, `message.held`, `handler.replied`, `handler.failed`,
    /// `remote.delivered`, `remote.failed`, ...
    pub event: String,
    pub message: String,
    pub timestamp: String,
}

impl LogRow {
    pub fn view(&self) -> LogEntry {
        LogEntry {
            id: self.id.clone(),
            agent_id: self.agent_id.clone(),
            level: self.level.clone(),
            event: self.event.clone(),
            message: self.message.clone(),
            timestamp: rfc3339(self.created_at),
        }
    }
}

/// Records an entry in the caller's transaction.
pub async fn record_in(
    c: &mut Conn,
    agent_id: &str,
    level: &str,
    event: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO messaging_logs (id, agent_id, level, event, message, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(agent_id)
    .bind(level)
    .bind(event)
    .bind(message.chars().take(1_000).collect::<String>())
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

/// Records an entry on its own; a failure to record is logged, not raised.
pub async fn record(app: &App, agent_id: &str, level: &str, event: &str, message: &str) {
    let done = transaction!(app.db, |c| async move { record_in(c, agent_id, level, event, message).await });
    if let Err(e) = done {
        tracing::warn!(error = %e, agent = %agent_id, "could not record a messaging log entry");
    }
}

/// Entries after `after` (an entry id), oldest first, of one agent or (none) of every agent.
pub async fn after(app: &App, agent_id: Option<&str>, after: &str, limit: i64) -> Result<Vec<LogRow>, MessagingError> {
    let rows = crate::db::query_as::<LogRow>(
        "SELECT id, agent_id, level, event, message, created_at FROM messaging_logs \
         WHERE ($1 = '' OR agent_id = $1) AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(agent_id.unwrap_or(""))
    .bind(after)
    .bind(limit)
    .fetch_all(&app.db.read)
    .await?;
    Ok(rows)
}

/// The newest `limit` entries, oldest first.
pub async fn latest(app: &App, agent_id: Option<&str>, limit: i64) -> Result<Vec<LogRow>, MessagingError> {
    let mut rows = crate::db::query_as::<LogRow>(
        "SELECT id, agent_id, level, event, message, created_at FROM messaging_logs \
         WHERE ($1 = '' OR agent_id = $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(agent_id.unwrap_or(""))
    .bind(limit)
    .fetch_all(&app.db.read)
    .await?;
    rows.reverse();
    Ok(rows)
}

/// `first`, then every new entry as it is recorded (looked for every `messaging_poll_ms`),
/// until the host stops.
pub fn follow(app: Arc<App>, agent: Option<String>, first: Vec<LogRow>) -> impl futures::Stream<Item = LogRow> {
    let cursor = first.last().map(|r| r.id.clone()).unwrap_or_default();
    let stopping = app.stopping.subscribe();
    let state = (app, agent, cursor, std::collections::VecDeque::from(first), stopping);
    futures::stream::unfold(state, |(app, agent, mut cursor, mut ready, mut stopping)| async move {
        loop {
            if *stopping.borrow() {
                return None;
            }
            if let Some(row) = ready.pop_front() {
                return Some((row, (app, agent, cursor, ready, stopping)));
            }
            match after(&app, agent.as_deref(), &cursor, 100).await {
                Ok(rows) if !rows.is_empty() => {
                    cursor = rows.last().map(|r| r.id.clone()).unwrap_or(cursor);
                    ready.extend(rows);
                }
                _ => {
                    let poll = std::time::Duration::from_millis(app.config.messaging.messaging_poll_ms);
                    tokio::select! {
                        () = tokio::time::sleep(poll) => {}
                        _ = stopping.changed() => {}
                    }
                }
            }
        }
    })
}

pub async fn clear(app: &App, agent_id: &str) -> Result<u64, MessagingError> {
    let removed = transaction!(app.db, |c| async move {
        crate::db::query("DELETE FROM messaging_logs WHERE agent_id = $1").bind(agent_id).execute(c).await
    })?;
    Ok(removed.rows_affected())
}
