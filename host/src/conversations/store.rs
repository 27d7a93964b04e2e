use super::model::{DmRow, JobMessageRow, DM_COLUMNS, JOB_MESSAGE_COLUMNS};
use crate::db::{new_id, now_ms, Conn, Db};

pub async fn insert_job_message(
    c: &mut Conn,
    job_id: &str,
    sender_id: &str,
    role: &str,
    content: &str,
) -> Result<JobMessageRow, sqlx::Error> {
    let row = JobMessageRow {
        id: new_id(),
        job_id: job_id.into(),
        sender_id: sender_id.into(),
        sender_role: role.into(),
        content: content.into(),
        created_at: now_ms(),
    };
    crate::db::query(
        "INSERT INTO job_messages (id, job_id, sender_id, sender_role, content, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.job_id)
    .bind(&row.sender_id)
    .bind(&row.sender_role)
    .bind(&row.content)
    .bind(row.created_at)
    .execute(c)
    .await?;
    Ok(row)
}

/// The job's messages, oldest first (at most `limit`, the newest ones).
pub async fn job_messages(db: &Db, job_id: &str, limit: i64) -> Result<Vec<JobMessageRow>, sqlx::Error> {
    let mut rows = crate::db::query_as::<JobMessageRow>(&format!(
        "SELECT {JOB_MESSAGE_COLUMNS} FROM job_messages WHERE job_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(job_id)
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    rows.reverse();
    Ok(rows)
}

/// The pair's conversation, made on first use; its id.
pub async fn conversation_in(c: &mut Conn, one: &str, other: &str) -> Result<String, sqlx::Error> {
    let (a, b) = if one < other { (one, other) } else { (other, one) };
    let now = now_ms();
    crate::db::query(
        "INSERT INTO dm_conversations (id, agent_a, agent_b, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (agent_a, agent_b) DO UPDATE SET updated_at = $4",
    )
    .bind(new_id())
    .bind(a)
    .bind(b)
    .bind(now)
    .execute(&mut *c)
    .await?;
    let row = crate::db::query("SELECT id FROM dm_conversations WHERE agent_a = $1 AND agent_b = $2")
        .bind(a)
        .bind(b)
        .fetch_one(c)
        .await?;
    Ok(row.get("id"))
}

pub async fn conversation_of(db: &Db, one: &str, other: &str) -> Result<Option<String>, sqlx::Error> {
    let (a, b) = if one < other { (one, other) } else { (other, one) };
    let row = crate::db::query("SELECT id FROM dm_conversations WHERE agent_a = $1 AND agent_b = $2")
        .bind(a)
        .bind(b)
        .fetch_optional(&db.read)
        .await?;
    Ok(row.map(|r| r.get("id")))
}

pub async fn insert_dm(
    c: &mut Conn,
    conversation_id: &str,
    sender_id: &str,
    recipient_id: &str,
    content: &str,
) -> Result<DmRow, sqlx::Error> {
    let row = DmRow {
        id: new_id(),
        conversation_id: conversation_id.into(),
        sender_id: sender_id.into(),
        recipient_id: recipient_id.into(),
        content: content.into(),
        read_at: None,
        created_at: now_ms(),
    };
    crate::db::query(
        "INSERT INTO dm_messages (id, conversation_id, sender_id, recipient_id, content, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.conversation_id)
    .bind(&row.sender_id)
    .bind(&row.recipient_id)
    .bind(&row.content)
    .bind(row.created_at)
    .execute(c)
    .await?;
    Ok(row)
}

/// How many DMs the agent sent since `since_ms`.
pub async fn sent_since(c: &mut Conn, sender_id: &str, since_ms: i64) -> Result<i64, sqlx::Error> {
    let row = crate::db::query("SELECT COUNT(*) AS n FROM dm_messages WHERE sender_id = $1 AND created_at > $2")
        .bind(sender_id)
        .bind(since_ms)
        .fetch_one(c)
        .await?;
    Ok(row.get("n"))
}

/// A conversation's messages, oldest first (the newest `limit`).
pub async fn dms(db: &Db, conversation_id: &str, limit: i64) -> Result<Vec<DmRow>, sqlx::Error> {
    let mut rows = crate::db::query_as::<DmRow>(&format!(
        "SELECT {DM_COLUMNS} FROM dm_messages WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(conversation_id)
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    rows.reverse();
    Ok(rows)
}

/// Marks the conversation's messages to `reader` read.
pub async fn mark_read(c: &mut Conn, conversation_id: &str, reader: &str) -> Result<u64, sqlx::Error> {
    Ok(crate::db::query(
        "UPDATE dm_messages SET read_at = $1 WHERE conversation_id = $2 AND recipient_id = $3 AND read_at IS NULL",
    )
    .bind(now_ms())
    .bind(conversation_id)
    .bind(reader)
    .execute(c)
    .await?
    .rows_affected())
}

/// One of the agent's conversations: its id, the other agent, when it last changed, its last
/// message and how many of the other's messages are unread.
pub struct ConversationRow {
    pub id: String,
    pub other_id: String,
    pub other_name: String,
    pub other_avatar_url: Option<String>,
    pub updated_at: i64,
    pub last: Option<DmRow>,
    pub unread: i64,
}

/// The agent's conversations, most recently active first (at most `limit`).
pub async fn conversations(db: &Db, agent_id: &str, limit: i64) -> Result<Vec<ConversationRow>, sqlx::Error> {
    let rows = crate::db::query(
        "SELECT c.id, c.updated_at, a.id AS other_id, a.name AS other_name, a.avatar_url AS other_avatar_url, \
         (SELECT COUNT(*) FROM dm_messages m WHERE m.conversation_id = c.id AND m.recipient_id = $1 \
          AND m.read_at IS NULL) AS unread \
         FROM dm_conversations c JOIN agents a ON a.id = CASE WHEN c.agent_a = $1 THEN c.agent_b ELSE c.agent_a END \
         WHERE c.agent_a = $1 OR c.agent_b = $1 ORDER BY c.updated_at DESC, c.id DESC LIMIT $2",
    )
    .bind(agent_id)
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.get("id");
        let last = dms_last(db, &id).await?;
        out.push(ConversationRow {
            id,
            other_id: r.get("other_id"),
            other_name: r.get("other_name"),
            other_avatar_url: r.get("other_avatar_url"),
            updated_at: r.get("updated_at"),
            last,
            unread: r.get("unread"),
        });
    }
    Ok(out)
}

async fn dms_last(db: &Db, conversation_id: &str) -> Result<Option<DmRow>, sqlx::Error> {
    Ok(dms(db, conversation_id, 1).await?.pop())
}

pub async fn block(c: &mut Conn, blocker: &str, blocked: &str) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO agent_blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
    )
    .bind(blocker)
    .bind(blocked)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

pub async fn unblock(c: &mut Conn, blocker: &str, blocked: &str) -> Result<bool, sqlx::Error> {
    Ok(crate::db::query("DELETE FROM agent_blocks WHERE blocker_id = $1 AND blocked_id = $2")
        .bind(blocker)
        .bind(blocked)
        .execute(c)
        .await?
        .rows_affected()
        == 1)
}

pub async fn blocks(c: &mut Conn, blocker: &str, blocked: &str) -> Result<bool, sqlx::Error> {
    let row = crate::db::query("SELECT 1 AS x FROM agent_blocks WHERE blocker_id = $1 AND blocked_id = $2")
        .bind(blocker)
        .bind(blocked)
        .fetch_optional(c)
        .await?;
    Ok(row.is_some())
}

/// The agents the agent blocks: (id, name).
pub async fn blocked_by(db: &Db, blocker: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = crate::db::query(
        "SELECT a.id, a.name FROM agent_blocks b JOIN agents a ON a.id = b.blocked_id WHERE b.blocker_id = $1 \
         ORDER BY b.created_at",
    )
    .bind(blocker)
    .fetch_all(&db.read)
    .await?;
    Ok(rows.iter().map(|r| (r.get("id"), r.get("name"))).collect())
}
