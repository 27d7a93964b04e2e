use super::model::{Notice, NotificationRow, NOTIFICATION_COLUMNS};
use crate::db::sql::{placeholders, Arg, SqlBuf};
use crate::db::{new_id, now_ms, Conn, Db};

pub async fn insert_in(c: &mut Conn, n: &Notice<'_>) -> Result<String, sqlx::Error> {
    let id = new_id();
    crate::db::query(
        "INSERT INTO notifications (id, agent_id, kind, title, body, link, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(n.agent_id)
    .bind(n.kind.as_str())
    .bind(&n.title)
    .bind(&n.body)
    .bind(&n.link)
    .bind(n.data.to_string())
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(id)
}

/// One page of the agent's notifications, newest first; the total matching; and how many are
/// unread.
pub async fn list(
    db: &Db,
    agent_id: &str,
    unread_only: bool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<NotificationRow>, i64, i64), sqlx::Error> {
    let unread_filter = if unread_only { " AND read_at IS NULL" } else { "" };
    let rows = crate::db::query_as::<NotificationRow>(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE agent_id = $1{unread_filter} \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(agent_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.read)
    .await?;
    let counts = crate::db::query(&format!(
        "SELECT (SELECT COUNT(*) FROM notifications WHERE agent_id = $1{unread_filter}) AS total, \
         (SELECT COUNT(*) FROM notifications WHERE agent_id = $1 AND read_at IS NULL) AS unread"
    ))
    .bind(agent_id)
    .fetch_one(&db.read)
    .await?;
    Ok((rows, counts.get("total"), counts.get("unread")))
}

/// Marks the agent's unread notifications read (those of `ids`, or all); returns how many.
pub async fn mark_read(c: &mut Conn, agent_id: &str, ids: Option<&[String]>) -> Result<u64, sqlx::Error> {
    let mut q = SqlBuf::new("UPDATE notifications SET read_at = $1 WHERE agent_id = $2 AND read_at IS NULL");
    q.arg(Arg::Int(now_ms()));
    q.arg(Arg::Text(agent_id.into()));
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        q.push(&format!(" AND id IN ({})", placeholders(3, ids.len())));
        for id in ids {
            q.arg(Arg::Text(id.clone()));
        }
    }
    Ok(q.query().execute(c).await?.rows_affected())
}
