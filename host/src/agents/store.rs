use std::collections::HashMap;

use base64::Engine as _;
use sqlx::{AnyConnection, Row};

use super::model::{AgentRow, ComponentSummary, DirectoryQuery, ServiceSummary, AGENT_COLUMNS};
use crate::db::{like_pattern, now_ms, Arg, Db, SqlBuf};
use crate::error::ApiError;

pub struct NewAgent<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub slug: &'a str,
    pub description: &'a str,
    pub owner_email: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    pub webhook_url: Option<&'a str>,
    pub endpoint_url: Option<&'a str>,
    pub system_prompt: Option<&'a str>,
    pub capabilities: &'a [String],
    pub tags: &'a [String],
    pub price_per_task_cents: i64,
    pub claim_token_hash: &'a str,
    pub referral_code: &'a str,
    pub referred_by: Option<&'a str>,
    pub endpoint_secret: &'a str,
}

pub async fn insert(conn: &mut AnyConnection, a: &NewAgent<'_>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO agents (id, name, slug, description, owner_email, avatar_url, webhook_url, \
         endpoint_url, system_prompt, capabilities, tags, price_per_task_cents, claim_token_hash, \
         referral_code, referred_by, endpoint_secret, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)",
    )
    .bind(a.id)
    .bind(a.name)
    .bind(a.slug)
    .bind(a.description)
    .bind(a.owner_email)
    .bind(a.avatar_url)
    .bind(a.webhook_url)
    .bind(a.endpoint_url)
    .bind(a.system_prompt)
    .bind(serde_json::to_string(a.capabilities).unwrap_or_default())
    .bind(serde_json::to_string(a.tags).unwrap_or_default())
    .bind(a.price_per_task_cents)
    .bind(a.claim_token_hash)
    .bind(a.referral_code)
    .bind(a.referred_by)
    .bind(a.endpoint_secret)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    set_capabilities(conn, a.id, a.capabilities).await
}

pub async fn set_capabilities(conn: &mut AnyConnection, agent_id: &str, caps: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM agent_capabilities WHERE agent_id = $1").bind(agent_id).execute(&mut *conn).await?;
    for cap in caps {
        sqlx::query("INSERT INTO agent_capabilities (agent_id, capability) VALUES ($1, $2)")
            .bind(agent_id)
            .bind(cap)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Finds an agent by id or by slug.
pub async fn find(db: &Db, id_or_slug: &str) -> Result<Option<AgentRow>, sqlx::Error> {
    sqlx::query_as::<_, AgentRow>(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1 OR slug = $1"))
        .bind(id_or_slug)
        .fetch_optional(&db.read)
        .await
}

pub async fn get(db: &Db, id: &str) -> Result<AgentRow, ApiError> {
    sqlx::query_as::<_, AgentRow>(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))
}

pub async fn id_by_referral_code(conn: &mut AnyConnection, code: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(sqlx::query("SELECT id FROM agents WHERE referral_code = $1")
        .bind(code)
        .fetch_optional(conn)
        .await?
        .map(|r| r.get(0)))
}

/// Applies `(column, value)` changes; returns false when the agent does not exist.
pub async fn update(
    conn: &mut AnyConnection,
    id: &str,
    changes: Vec<(&'static str, Arg)>,
) -> Result<bool, sqlx::Error> {
    let mut q = SqlBuf::new("UPDATE agents SET updated_at = ");
    let now = q.arg(Arg::Int(now_ms()));
    q.push(&now);
    for (column, value) in changes {
        let p = q.arg(value);
        q.push(&format!(", {column} = {p}"));
    }
    let p = q.arg(Arg::Text(id.to_string()));
    q.push(&format!(" WHERE id = {p}"));
    Ok(q.query().execute(conn).await?.rows_affected() == 1)
}

/// Counts a finished job for the worker, in the caller's transaction.
pub async fn count_completed_job(conn: &mut AnyConnection, worker_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agents SET jobs_completed = jobs_completed + 1 WHERE id = $1")
        .bind(worker_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the agent holding this claim token as claimed by its owner.
pub async fn claim(conn: &mut AnyConnection, token_hash: &str) -> Result<Option<(String, bool)>, sqlx::Error> {
    let Some(row) = sqlx::query("SELECT id, claimed_at FROM agents WHERE claim_token_hash = $1")
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let (id, claimed_at): (String, Option<i64>) = (row.get(0), row.get(1));
    if claimed_at.is_some() {
        return Ok(Some((id, false)));
    }
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE agents SET claimed_at = $1, status = 'ACTIVE', updated_at = $1 WHERE id = $2 AND claimed_at IS NULL",
    )
    .bind(now)
    .bind(&id)
    .execute(&mut *conn)
    .await?;
    Ok(Some((id, done.rows_affected() == 1)))
}

pub async fn services_of(db: &Db, agent_ids: &[&str]) -> Result<HashMap<String, Vec<ServiceSummary>>, sqlx::Error> {
    let mut map: HashMap<String, Vec<ServiceSummary>> = HashMap::new();
    if agent_ids.is_empty() {
        return Ok(map);
    }
    let mut q = SqlBuf::new(
        "SELECT id, agent_id, title, category, price_cents FROM services WHERE active = 1 AND agent_id IN (",
    );
    let placeholders: Vec<String> = agent_ids.iter().map(|id| q.arg(Arg::Text(id.to_string()))).collect();
    q.push(&placeholders.join(", ")).push(") ORDER BY created_at");
    for row in q.query().fetch_all(&db.read).await? {
        let s = <ServiceSummary as sqlx::FromRow<_>>::from_row(&row)?;
        map.entry(s.agent_id.clone()).or_default().push(s);
    }
    Ok(map)
}

/// The agent's endpoint secret, created for agents registered before secrets existed.
pub async fn endpoint_secret(db: &Db, agent: &AgentRow) -> Result<String, sqlx::Error> {
    if let Some(s) = &agent.endpoint_secret {
        return Ok(s.clone());
    }
    let secret = crate::http::auth::random_token(40);
    sqlx::query("UPDATE agents SET endpoint_secret = $1 WHERE id = $2 AND endpoint_secret IS NULL")
        .bind(&secret)
        .bind(&agent.id)
        .execute(&db.write)
        .await?;
    let stored: Option<String> = sqlx::query("SELECT endpoint_secret FROM agents WHERE id = $1")
        .bind(&agent.id)
        .fetch_one(&db.read)
        .await?
        .get(0);
    Ok(stored.unwrap_or(secret))
}

/// The agents' components, for their profiles.
pub async fn components_of(db: &Db, rows: &[&AgentRow]) -> Result<HashMap<String, ComponentSummary>, sqlx::Error> {
    let mut map = HashMap::new();
    let ids: Vec<&str> = rows.iter().filter_map(|r| r.component_id.as_deref()).collect();
    if ids.is_empty() {
        return Ok(map);
    }
    let mut q = SqlBuf::new("SELECT id, name, version, digest, grants FROM components WHERE id IN (");
    let placeholders: Vec<String> = ids.iter().map(|id| q.arg(Arg::Text(id.to_string()))).collect();
    q.push(&placeholders.join(", ")).push(")");
    for row in q.query().fetch_all(&db.read).await? {
        let id: String = row.get(0);
        let grants: String = row.get(4);
        map.insert(
            id.clone(),
            ComponentSummary {
                id,
                name: row.get(1),
                version: row.get(2),
                digest: format!("sha256:{}", row.get::<String, _>(3)),
                capabilities: serde_json::from_str(&grants).unwrap_or_default(),
            },
        );
    }
    Ok(map)
}

/// Cursor for keyset pagination over (created_at, id), newest first.
pub fn encode_cursor(created_at: i64, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_at}:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::bad_request("invalid_query", "cursor is not one this server issued");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (ts, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((ts.parse().map_err(|_| bad())?, id.to_string()))
}

pub struct Page {
    pub rows: Vec<AgentRow>,
    pub total: i64,
    pub has_more: bool,
}

pub async fn directory(db: &Db, f: &DirectoryQuery, limit: i64, offset: i64) -> Result<Page, ApiError> {
    let mut q = SqlBuf::new("");
    let mut filters = vec!["a.status = 'ACTIVE'".to_string()];
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let p = q.arg(Arg::Text(like_pattern(text)));
        filters.push(format!("(LOWER(a.name) LIKE {p} ESCAPE '\\' OR LOWER(a.description) LIKE {p} ESCAPE '\\')"));
    }
    if let Some(cap) = f.capability.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let p = q.arg(Arg::Text(cap.to_lowercase()));
        filters.push(format!(
            "EXISTS (SELECT 1 FROM agent_capabilities c WHERE c.agent_id = a.id AND c.capability = {p})"
        ));
    }
    if let Some(cat) = f.category.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let p = q.arg(Arg::Text(cat.to_lowercase()));
        filters.push(format!(
            "EXISTS (SELECT 1 FROM services s WHERE s.agent_id = a.id AND s.active = 1 AND LOWER(s.category) = {p})"
        ));
    }
    if let Some(has) = f.has_services {
        let not = if has { "" } else { "NOT " };
        filters.push(format!("{not}EXISTS (SELECT 1 FROM services s WHERE s.agent_id = a.id AND s.active = 1)"));
    }
    if let Some(min) = f.min_rating {
        if !(0.0..=5.0).contains(&min) {
            return Err(ApiError::bad_request("invalid_query", "minRating must be between 0 and 5"));
        }
        let p = q.arg(Arg::Int((min * 100.0).round() as i64));
        filters.push(format!("a.rating_count > 0 AND a.rating_sum * 100 >= {p} * a.rating_count"));
    }
    if let Some(min) = f.min_jobs {
        let p = q.arg(Arg::Int(min));
        filters.push(format!("a.jobs_completed >= {p}"));
    }
    let where_sql = filters.join(" AND ");

    let mut count = q.clone();
    count.sql = format!("SELECT COUNT(*) FROM agents a WHERE {where_sql}");
    let total: i64 = count.query().fetch_one(&db.read).await?.get(0);

    let mut page_filter = String::new();
    if let Some(cursor) = f.cursor.as_deref().filter(|c| !c.is_empty()) {
        let (ts, id) = decode_cursor(cursor)?;
        let (pt, pi) = (q.arg(Arg::Int(ts)), q.arg(Arg::Text(id)));
        page_filter = format!(" AND (a.created_at < {pt} OR (a.created_at = {pt} AND a.id < {pi}))");
    }
    let (pl, po) = (q.arg(Arg::Int(limit + 1)), q.arg(Arg::Int(offset)));
    let columns = AGENT_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
    q.sql = format!(
        "SELECT {columns} FROM agents a WHERE {where_sql}{page_filter} \
         ORDER BY a.created_at DESC, a.id DESC LIMIT {pl} OFFSET {po}"
    );
    let mut rows = q
        .query()
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(<AgentRow as sqlx::FromRow<_>>::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok(Page { rows, total, has_more })
}
