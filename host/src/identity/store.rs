use crate::db::Conn;

use super::model::{KeyKind, NewKey};
use crate::db::{now_ms, Db};
use crate::secrets::hash_secret;

/// Stores a key (hashed) for an agent, or for an operator when `agent_id` is `None`.
pub async fn insert(conn: &mut Conn, key: &NewKey, agent_id: Option<&str>, name: &str) -> Result<(), sqlx::Error> {
    let kind = if agent_id.is_some() { KeyKind::Agent } else { KeyKind::Operator };
    crate::db::query(
        "INSERT INTO api_keys (id, prefix, key_hash, principal, agent_id, name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.id)
    .bind(&key.prefix)
    .bind(hash_secret(&key.key))
    .bind(kind.as_str())
    .bind(agent_id)
    .bind(name)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored key found by its prefix, with its agent's status.
pub struct KeyRecord {
    pub id: String,
    pub key_hash: String,
    pub principal: String,
    pub agent_id: Option<String>,
    pub agent_status: Option<String>,
    /// A runtime key's scope.
    pub runtime: Option<RuntimeScope>,
}

pub struct RuntimeScope {
    pub workspace_id: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
}

pub async fn by_prefix(db: &Db, prefix: &str) -> Result<Option<KeyRecord>, sqlx::Error> {
    let row = crate::db::query(
        "SELECT k.id, k.key_hash, k.principal, k.agent_id, a.status AS agent_status FROM api_keys k \
         LEFT JOIN agents a ON a.id = k.agent_id WHERE k.prefix = $1 AND k.revoked_at IS NULL",
    )
    .bind(prefix)
    .fetch_optional(&db.read)
    .await?;
    Ok(row.map(|r| KeyRecord {
        id: r.get("id"),
        key_hash: r.get("key_hash"),
        principal: r.get("principal"),
        agent_id: r.get("agent_id"),
        agent_status: r.get("agent_status"),
        runtime: None,
    }))
}

/// A live runtime key (`gateway_keys`) found by its prefix, with its agent's status.
pub async fn runtime_by_prefix(db: &Db, prefix: &str) -> Result<Option<KeyRecord>, sqlx::Error> {
    let row = crate::db::query(
        "SELECT k.id, k.key_hash, k.agent_id, k.workspace_id, k.rate_limit_per_minute, a.status AS agent_status \
         FROM gateway_keys k JOIN agents a ON a.id = k.agent_id WHERE k.prefix = $1 AND k.revoked_at IS NULL",
    )
    .bind(prefix)
    .fetch_optional(&db.read)
    .await?;
    Ok(row.map(|r| {
        let limit: Option<i64> = r.get("rate_limit_per_minute");
        KeyRecord {
            id: r.get("id"),
            key_hash: r.get("key_hash"),
            principal: KeyKind::Runtime.as_str().to_string(),
            agent_id: r.get("agent_id"),
            agent_status: r.get("agent_status"),
            runtime: Some(RuntimeScope {
                workspace_id: r.get("workspace_id"),
                rate_limit_per_minute: limit.map(|n| n.clamp(0, u32::MAX.into()) as u32),
            }),
        }
    }))
}

pub async fn hash_by_prefix(conn: &mut Conn, prefix: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(crate::db::query("SELECT key_hash FROM api_keys WHERE prefix = $1")
        .bind(prefix)
        .fetch_optional(conn)
        .await?
        .map(|r| r.get("key_hash")))
}

pub async fn active_operator_keys(conn: &mut Conn) -> Result<i64, sqlx::Error> {
    Ok(crate::db::query("SELECT COUNT(*) AS n FROM api_keys WHERE principal = 'operator' AND revoked_at IS NULL")
        .fetch_one(conn)
        .await?
        .get("n"))
}
