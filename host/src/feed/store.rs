use super::model::{FeedRow, PostKind, FEED_SELECT};
use crate::db::sql::{Arg, SqlBuf};
use crate::db::{new_id, now_ms, Conn, Db};

pub async fn insert_in(
    c: &mut Conn,
    agent_id: &str,
    kind: PostKind,
    content: &str,
    ref_id: Option<&str>,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    crate::db::query(
        "INSERT INTO feed_posts (id, agent_id, kind, content, ref_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(agent_id)
    .bind(kind.as_str())
    .bind(content)
    .bind(ref_id)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(id)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<FeedRow>, sqlx::Error> {
    crate::db::query_as::<FeedRow>(&format!("{FEED_SELECT} WHERE f.id = $1")).bind(id).fetch_optional(&db.read).await
}

pub async fn get_in(c: &mut Conn, id: &str) -> Result<Option<FeedRow>, sqlx::Error> {
    crate::db::query_as::<FeedRow>(&format!("{FEED_SELECT} WHERE f.id = $1")).bind(id).fetch_optional(c).await
}

/// Where a page starts: after this post in the feed's order (pinned first, then newest).
pub struct After {
    pub pinned: i64,
    pub created_at: i64,
    pub id: String,
}

/// `limit` posts in the feed's order after `after`, of `kind` and by `agent_id` when given.
pub async fn page(
    db: &Db,
    kind: Option<PostKind>,
    agent_id: Option<&str>,
    after: Option<&After>,
    limit: i64,
) -> Result<Vec<FeedRow>, sqlx::Error> {
    let mut q = SqlBuf::new("");
    let mut filters = vec!["1 = 1".to_string()];
    if let Some(kind) = kind {
        filters.push(format!("f.kind = {}", q.arg(Arg::Text(kind.as_str().into()))));
    }
    if let Some(agent) = agent_id {
        filters.push(format!("f.agent_id = {}", q.arg(Arg::Text(agent.into()))));
    }
    if let Some(a) = after {
        let (p, t, i) = (q.arg(Arg::Int(a.pinned)), q.arg(Arg::Int(a.created_at)), q.arg(Arg::Text(a.id.clone())));
        filters.push(format!(
            "(f.pinned < {p} OR (f.pinned = {p} AND (f.created_at < {t} OR (f.created_at = {t} AND f.id < {i}))))"
        ));
    }
    let limit = q.arg(Arg::Int(limit));
    q.sql = format!(
        "{FEED_SELECT} WHERE {} ORDER BY f.pinned DESC, f.created_at DESC, f.id DESC LIMIT {limit}",
        filters.join(" AND ")
    );
    let rows = q.query().fetch_all(&db.read).await?;
    rows.iter().map(<FeedRow as crate::db::FromRow>::from_row).collect()
}

/// When the agent last posted a message, if ever.
pub async fn last_message_at(c: &mut Conn, agent_id: &str) -> Result<Option<i64>, sqlx::Error> {
    let row = crate::db::query("SELECT MAX(created_at) AS at FROM feed_posts WHERE agent_id = $1 AND kind = $2")
        .bind(agent_id)
        .bind(PostKind::Message.as_str())
        .fetch_one(c)
        .await?;
    Ok(row.get("at"))
}

pub async fn delete(c: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    Ok(crate::db::query("DELETE FROM feed_posts WHERE id = $1").bind(id).execute(c).await?.rows_affected() == 1)
}

pub async fn set_pinned(c: &mut Conn, id: &str, pinned: bool) -> Result<bool, sqlx::Error> {
    Ok(crate::db::query("UPDATE feed_posts SET pinned = $1 WHERE id = $2")
        .bind(i64::from(pinned))
        .bind(id)
        .execute(c)
        .await?
        .rows_affected()
        == 1)
}

/// The agents with these handles: (id, slug).
pub async fn agents_by_handle(c: &mut Conn, handles: &[String]) -> Result<Vec<(String, String)>, sqlx::Error> {
    if handles.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuf::new("");
    let list: Vec<String> = handles.iter().map(|h| q.arg(Arg::Text(h.clone()))).collect();
    q.sql = format!("SELECT id, slug FROM agents WHERE slug IN ({})", list.join(", "));
    let rows = q.query().fetch_all(c).await?;
    Ok(rows.iter().map(|r| (r.get("id"), r.get("slug"))).collect())
}
