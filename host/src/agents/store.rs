use std::collections::HashMap;

use crate::db::Conn;

use super::model::{AgentRow, AgentStatus, ComponentSummary, DirectoryQuery, ServiceSummary, AGENT_COLUMNS};
use super::names::name_key;
use crate::db::page::Page;
use crate::db::sql::{like_pattern, Arg, SqlBuf};
use crate::db::{now_ms, Db};

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
    pub model: Option<&'a str>,
    pub capabilities: &'a [String],
    pub tags: &'a [String],
    pub price_per_task_cents: i64,
    pub claim_token_hash: &'a str,
    pub referral_code: &'a str,
    pub referred_by: Option<&'a str>,
    pub endpoint_secret: &'a str,
}

pub async fn insert(conn: &mut Conn, a: &NewAgent<'_>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    crate::db::query(
        "INSERT INTO agents (id, name, slug, description, owner_email, avatar_url, webhook_url, \
         endpoint_url, system_prompt, capabilities, tags, price_per_task_cents, claim_token_hash, \
         referral_code, referred_by, endpoint_secret, created_at, updated_at, name_key, status, model) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19, $20)",
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
    .bind(name_key(a.name))
    .bind(AgentStatus::Active.as_str())
    .bind(a.model)
    .execute(&mut *conn)
    .await?;
    set_capabilities(conn, a.id, a.capabilities).await
}

pub async fn set_capabilities(conn: &mut Conn, agent_id: &str, caps: &[String]) -> Result<(), sqlx::Error> {
    crate::db::query("DELETE FROM agent_capabilities WHERE agent_id = $1").bind(agent_id).execute(&mut *conn).await?;
    crate::db::sql::insert_labels(conn, "agent_capabilities", "agent_id, capability", agent_id, caps).await
}

/// Finds an agent by id or by slug.
pub async fn find(db: &Db, id_or_slug: &str) -> Result<Option<AgentRow>, sqlx::Error> {
    crate::db::query_as::<AgentRow>(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1 OR slug = $1"))
        .bind(id_or_slug)
        .fetch_optional(&db.read)
        .await
}

/// The agent whose name reads as `name` (case, confusable letters and spacing aside).
pub async fn find_by_name(db: &Db, name: &str) -> Result<Option<AgentRow>, sqlx::Error> {
    crate::db::query_as::<AgentRow>(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE name_key = $1"))
        .bind(name_key(name))
        .fetch_optional(&db.read)
        .await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<AgentRow>, sqlx::Error> {
    crate::db::query_as::<AgentRow>(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

pub async fn id_by_referral_code(conn: &mut Conn, code: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(crate::db::query("SELECT id FROM agents WHERE referral_code = $1")
        .bind(code)
        .fetch_optional(conn)
        .await?
        .map(|r| r.get("id")))
}

/// Computes the comparison key of names stored before keys existed. Names that already
/// collide keep a key of their own (suffixed with the id), so that nothing is lost.
pub async fn backfill_name_keys(db: &Db) -> Result<(), sqlx::Error> {
    crate::transaction!(db, |c| async move {
        let rows = crate::db::query("SELECT id, name FROM agents WHERE name_key IS NULL").fetch_all(&mut *c).await?;
        for row in rows {
            let (id, name): (String, String) = (row.get("id"), row.get("name"));
            let key = name_key(&name);
            let taken = crate::db::query("SELECT id FROM agents WHERE name_key = $1")
                .bind(&key)
                .fetch_optional(&mut *c)
                .await?;
            let key = if taken.is_some() { format!("{key}#{id}") } else { key };
            crate::db::query("UPDATE agents SET name_key = $1 WHERE id = $2")
                .bind(key)
                .bind(&id)
                .execute(&mut *c)
                .await?;
        }
        Ok::<_, sqlx::Error>(())
    })
}

/// Applies `(column, value)` changes; returns false when the agent does not exist.
pub async fn update(conn: &mut Conn, id: &str, changes: Vec<(&'static str, Arg)>) -> Result<bool, sqlx::Error> {
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
pub async fn count_completed_job(conn: &mut Conn, worker_id: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE agents SET jobs_completed = jobs_completed + 1 WHERE id = $1")
        .bind(worker_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the agent holding this claim token as claimed by its owner.
pub async fn claim(conn: &mut Conn, token_hash: &str) -> Result<Option<(String, bool)>, sqlx::Error> {
    let Some(row) = crate::db::query("SELECT id, claimed_at FROM agents WHERE claim_token_hash = $1")
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let (id, claimed_at): (String, Option<i64>) = (row.get("id"), row.get("claimed_at"));
    if claimed_at.is_some() {
        return Ok(Some((id, false)));
    }
    let now = now_ms();
    let done =
        crate::db::query("UPDATE agents SET claimed_at = $1, updated_at = $1 WHERE id = $2 AND claimed_at IS NULL")
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
        let s = <ServiceSummary as crate::db::FromRow>::from_row(&row)?;
        map.entry(s.agent_id.clone()).or_default().push(s);
    }
    Ok(map)
}

/// The agent's endpoint secret, created for agents registered before secrets existed.
pub async fn endpoint_secret(db: &Db, agent: &AgentRow) -> Result<String, sqlx::Error> {
    if let Some(s) = &agent.endpoint_secret {
        return Ok(s.clone());
    }
    let secret = crate::secrets::random_token(40);
    let (secret, id) = (&secret, &agent.id);
    crate::transaction!(db, |c| async move {
        crate::db::query("UPDATE agents SET endpoint_secret = $1 WHERE id = $2 AND endpoint_secret IS NULL")
            .bind(secret)
            .bind(id)
            .execute(&mut *c)
            .await?;
        let stored: Option<String> = crate::db::query("SELECT endpoint_secret FROM agents WHERE id = $1")
            .bind(id)
            .fetch_one(c)
            .await?
            .get("endpoint_secret");
        Ok::<_, sqlx::Error>(stored.unwrap_or_else(|| secret.clone()))
    })
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
        let id: String = row.get("id");
        let grants: String = row.get("grants");
        map.insert(
            id.clone(),
            ComponentSummary {
                id,
                name: row.get("name"),
                version: row.get("version"),
                digest: format!("sha256:{}", row.get::<String, _>("digest")),
                capabilities: serde_json::from_str(&grants).unwrap_or_default(),
            },
        );
    }
    Ok(map)
}

/// One page of active agents matching the filter, newest first, fetched with one row more
/// than the page's limit; and the total.
pub async fn directory(db: &Db, f: &DirectoryQuery, page: &Page) -> Result<(Vec<AgentRow>, i64), sqlx::Error> {
    let mut q = SqlBuf::new("");
    let mut filters = vec![format!("a.status = {}", q.arg(Arg::Text(AgentStatus::Active.as_str().into())))];
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
    if let Some(verified) = f.verified {
        filters.push(format!("a.verified_platforms {} '[]'", if verified { "<>" } else { "=" }));
    }
    if let Some(min) = f.min_rating {
        let p = q.arg(Arg::Int((min * 100.0).round() as i64));
        filters.push(format!("a.rating_count > 0 AND a.rating_sum * 100 >= {p} * a.rating_count"));
    }
    if let Some(min) = f.min_jobs {
        let p = q.arg(Arg::Int(min));
        filters.push(format!("a.jobs_completed >= {p}"));
    }
    let where_sql = filters.join(" AND ");

    let mut count = q.clone();
    count.sql = format!("SELECT COUNT(*) AS n FROM agents a WHERE {where_sql}");
    let total: i64 = count.query().fetch_one(&db.read).await?.get("n");

    let page_filter = page.after_sql(&mut q, "a");
    let (pl, po) = (q.arg(Arg::Int(page.limit + 1)), q.arg(Arg::Int(page.offset)));
    let columns = crate::db::sql::qualified(AGENT_COLUMNS, "a");
    q.sql = format!(
        "SELECT {columns} FROM agents a WHERE {where_sql}{page_filter} \
         ORDER BY a.created_at DESC, a.id DESC LIMIT {pl} OFFSET {po}"
    );
    let rows = q
        .query()
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(<AgentRow as crate::db::FromRow>::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

/// Active agents other than `except`, by id after `after`, at most `limit`.
pub async fn active_ids_after(db: &Db, except: &str, after: &str, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows =
        crate::db::query("SELECT id FROM agents WHERE status = $1 AND id <> $2 AND id > $3 ORDER BY id LIMIT $4")
            .bind(AgentStatus::Active.as_str())
            .bind(except)
            .bind(after)
            .bind(limit)
            .fetch_all(&db.read)
            .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}
