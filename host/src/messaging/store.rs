//! Messaging's SQL.

use super::model::{MessageRow, MESSAGE_COLUMNS};
use crate::db::sql::{qualified, Arg, SqlBuf};
use crate::db::{Conn, Db};

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct IdentityRow {
        pub agent_id: String,
        pub public_key: String,
        pub sealed_secret: String,
        pub connection_mode: String,
        pub created_at: i64,
        pub rotated_at: Option<i64>,
    }
}

const IDENTITY_COLUMNS: &str = "agent_id, public_key, sealed_secret, connection_mode, created_at, rotated_at";

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct RotationRow {
        pub old_key: String,
        pub new_key: String,
        pub statement: String,
        pub signature: String,
        pub created_at: i64,
    }
}

pub async fn identity(db: &Db, agent_id: &str) -> Result<Option<IdentityRow>, sqlx::Error> {
    crate::db::query_as::<IdentityRow>(&format!(
        "SELECT {IDENTITY_COLUMNS} FROM messaging_identities WHERE agent_id = $1"
    ))
    .bind(agent_id)
    .fetch_optional(&db.read)
    .await
}

/// Adds the identity unless the agent has one already; false when it had.
pub async fn insert_identity(c: &mut Conn, row: &IdentityRow) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "INSERT INTO messaging_identities (agent_id, public_key, sealed_secret, connection_mode, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agent_id) DO NOTHING",
    )
    .bind(&row.agent_id)
    .bind(&row.public_key)
    .bind(&row.sealed_secret)
    .bind(&row.connection_mode)
    .bind(row.created_at)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the key pair `old_key` with a new one; false when the key was no longer `old_key`.
pub async fn replace_key(
    c: &mut Conn,
    agent_id: &str,
    old_key: &str,
    new_key: &str,
    sealed: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "UPDATE messaging_identities SET public_key = $1, sealed_secret = $2, rotated_at = $3 \
         WHERE agent_id = $4 AND public_key = $5",
    )
    .bind(new_key)
    .bind(sealed)
    .bind(at)
    .bind(agent_id)
    .bind(old_key)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_rotation(c: &mut Conn, agent_id: &str, r: &RotationRow) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO messaging_key_rotations (agent_id, old_key, new_key, statement, signature, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(agent_id)
    .bind(&r.old_key)
    .bind(&r.new_key)
    .bind(&r.statement)
    .bind(&r.signature)
    .bind(r.created_at)
    .execute(c)
    .await?;
    Ok(())
}

/// The agent's rotation statements, oldest first.
pub async fn rotations(db: &Db, agent_id: &str) -> Result<Vec<RotationRow>, sqlx::Error> {
    crate::db::query_as::<RotationRow>(
        "SELECT old_key, new_key, statement, signature, created_at FROM messaging_key_rotations \
         WHERE agent_id = $1 ORDER BY created_at, new_key",
    )
    .bind(agent_id)
    .fetch_all(&db.read)
    .await
}

/// The agent (active) whose handle is `handle`.
pub async fn agent_by_handle(db: &Db, handle: &str) -> Result<Option<String>, sqlx::Error> {
    crate::db::query_scalar::<String>(AGENT_BY_HANDLE).bind(handle).fetch_optional(&db.read).await
}

const AGENT_BY_HANDLE: &str = "SELECT id FROM agents WHERE slug = $1 AND status = 'active'";

/// `agent_by_handle`, in the caller's transaction.
pub async fn agent_by_handle_in(c: &mut Conn, handle: &str) -> Result<Option<String>, sqlx::Error> {
    crate::db::query_scalar::<String>(AGENT_BY_HANDLE).bind(handle).fetch_optional(c).await
}

/// Takes the next position in the agent's inbox, holding its identity row until commit.
pub async fn next_inbox_seq(c: &mut Conn, agent_id: &str) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar::<i64>(
        "UPDATE messaging_identities SET last_seq = last_seq + 1 WHERE agent_id = $1 RETURNING last_seq",
    )
    .bind(agent_id)
    .fetch_one(c)
    .await
}

pub struct ThreadState {
    pub exists: bool,
    pub closed: bool,
    /// Whether `address` sent or received a message in it.
    pub participant: bool,
}

pub async fn thread_state(c: &mut Conn, thread_id: &str, address: &str) -> Result<ThreadState, sqlx::Error> {
    let closed: Option<Option<i64>> =
        crate::db::query_scalar::<Option<i64>>("SELECT closed_at FROM messaging_threads WHERE id = $1")
            .bind(thread_id)
            .fetch_optional(&mut *c)
            .await?;
    let participant = match closed {
        None => false,
        // A participant wrote or was written to in the thread, by message or stream.
        Some(_) => {
            crate::db::query_scalar::<i64>(
                "SELECT (SELECT COUNT(*) FROM messages WHERE thread_id = $1 AND (from_address = $2 OR to_address = $2)) \
                 + (SELECT COUNT(*) FROM messaging_streams WHERE thread_id = $1 AND (from_address = $2 OR to_address = $2)) \
                 + (SELECT COUNT(*) FROM messaging_outbound_streams WHERE thread_id = $1 \
                    AND (from_address = $2 OR to_address = $2))",
            )
            .bind(thread_id)
            .bind(address)
            .fetch_one(c)
            .await?
                > 0
        }
    };
    Ok(ThreadState { exists: closed.is_some(), closed: closed.flatten().is_some(), participant })
}

pub async fn insert_thread(c: &mut Conn, id: &str, at: i64) -> Result<(), sqlx::Error> {
    crate::db::query("INSERT INTO messaging_threads (id, created_at) VALUES ($1, $2)")
        .bind(id)
        .bind(at)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn close_thread(c: &mut Conn, id: &str, by: &str, at: i64) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE messaging_threads SET closed_at = $1, closed_by = $2 WHERE id = $3 AND closed_at IS NULL")
        .bind(at)
        .bind(by)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn insert_message(c: &mut Conn, m: &MessageRow) -> Result<(), sqlx::Error> {
    crate::db::query(&format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(&m.id)
    .bind(&m.thread_id)
    .bind(&m.from_address)
    .bind(&m.from_key)
    .bind(&m.to_address)
    .bind(&m.sender_agent_id)
    .bind(&m.recipient_agent_id)
    .bind(m.inbox_seq)
    .bind(&m.reply_to)
    .bind(&m.content_type)
    .bind(&m.body)
    .bind(&m.signature)
    .bind(&m.status)
    .bind(&m.sent_by_handler)
    .bind(m.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn message(db: &Db, id: &str) -> Result<Option<MessageRow>, sqlx::Error> {
    crate::db::query_as::<MessageRow>(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

/// A message's status now.
pub async fn status(db: &Db, id: &str) -> Result<String, sqlx::Error> {
    crate::db::query_scalar::<String>("SELECT status FROM messages WHERE id = $1").bind(id).fetch_one(&db.read).await
}

/// The agent's incoming messages after inbox position `after`, oldest first.
pub async fn inbox_after(db: &Db, agent_id: &str, after: i64, limit: i64) -> Result<Vec<MessageRow>, sqlx::Error> {
    crate::db::query_as::<MessageRow>(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE recipient_agent_id = $1 AND inbox_seq > $2 \
         ORDER BY inbox_seq LIMIT $3"
    ))
    .bind(agent_id)
    .bind(after)
    .bind(limit)
    .fetch_all(&db.read)
    .await
}

/// The chunks of streams to the agent after inbox position `after`, oldest first.
pub async fn chunks_after(
    db: &Db,
    agent_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<super::streams::ChunkRow>, sqlx::Error> {
    crate::db::query_as::<super::streams::ChunkRow>(
        "SELECT * FROM (\
         SELECT c.stream_id, c.idx, c.inbox_seq, c.text, s.from_address, s.thread_id, c.created_at \
         FROM messaging_stream_chunks c JOIN messaging_streams s ON s.id = c.stream_id \
         WHERE c.recipient_agent_id = $1 AND c.inbox_seq > $2 \
         UNION ALL \
         SELECT stream_id, idx, inbox_seq, text, from_address, thread_id, created_at FROM messaging_inbound_chunks \
         WHERE recipient_agent_id = $1 AND inbox_seq > $2) AS chunks ORDER BY inbox_seq LIMIT $3",
    )
    .bind(agent_id)
    .bind(after)
    .bind(limit)
    .fetch_all(&db.read)
    .await
}

/// The agent's last inbox position.
pub async fn last_seq(db: &Db, agent_id: &str) -> Result<i64, sqlx::Error> {
    let seq = crate::db::query_scalar::<i64>("SELECT last_seq FROM messaging_identities WHERE agent_id = $1")
        .bind(agent_id)
        .fetch_optional(&db.read)
        .await?;
    Ok(seq.unwrap_or(0))
}

pub struct HistoryFilter<'a> {
    pub from: Option<&'a str>,
    pub thread_id: Option<&'a str>,
    pub since: Option<i64>,
    /// The page after this `(created_at, id)`, newest first.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// Messages the agent sent or was delivered, newest first.
pub async fn history(db: &Db, agent_id: &str, f: &HistoryFilter<'_>) -> Result<Vec<MessageRow>, sqlx::Error> {
    let mut q = SqlBuf::new("");
    let me = q.arg(Arg::Text(agent_id.to_string()));
    // A recipient sees what was delivered to it; messages held for its approval are not yet.
    let mut filters =
        vec![format!("((m.recipient_agent_id = {me} AND m.inbox_seq IS NOT NULL) OR m.sender_agent_id = {me})")];
    if let Some(from) = f.from {
        filters.push(format!("m.from_address = {}", q.arg(Arg::Text(from.to_string()))));
    }
    if let Some(thread) = f.thread_id {
        filters.push(format!("m.thread_id = {}", q.arg(Arg::Text(thread.to_string()))));
    }
    if let Some(since) = f.since {
        filters.push(format!("m.created_at >= {}", q.arg(Arg::Int(since))));
    }
    if let Some((at, id)) = &f.after {
        let (pt, pi) = (q.arg(Arg::Int(*at)), q.arg(Arg::Text(id.clone())));
        filters.push(format!("(m.created_at < {pt} OR (m.created_at = {pt} AND m.id < {pi}))"));
    }
    let limit = q.arg(Arg::Int(f.limit));
    q.sql = format!(
        "SELECT {} FROM messages m WHERE {} ORDER BY m.created_at DESC, m.id DESC LIMIT {limit}",
        qualified(MESSAGE_COLUMNS, "m"),
        filters.join(" AND ")
    );
    let rows = q.query().fetch_all(&db.read).await?;
    rows.iter().map(<MessageRow as crate::db::FromRow>::from_row).collect()
}
