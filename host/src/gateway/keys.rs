//! Runtime keys (`tok_...`): made by an account for its apps, shown once, stored as a hash,
//! optionally bound to a workspace, revoked at once (this host forgets it immediately; other
//! hosts within `auth_cache_ms`).

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::errors::GatewayError;
use super::workspaces::{self, check_metadata};
use crate::db::{now_ms, rfc3339};
use crate::identity::{KeyKind, NewKey};
use crate::secrets::hash_secret;
use crate::state::App;
use crate::transaction;

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub id: String,
    /// The key: shown this once only.
    pub key: String,
    pub name: String,
    pub prefix: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    pub rate_limit_per_minute: i64,
}

#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    pub keyPrefix: String,
    pub lastUsedAt: Option<String>,
    pub createdAt: String,
    pub rate_limit_per_minute: i64,
}

pub async fn create(app: &App, agent_id: &str, body: &Map<String, Value>) -> Result<CreatedKey, GatewayError> {
    let name = match body.get("name") {
        None | Some(Value::Null) => "default".to_string(),
        Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= 200 => n.trim().to_string(),
        Some(_) => return Err(GatewayError::Invalid("name must be 1-200 characters".into())),
    };
    let metadata = check_metadata(body.get("metadata"))?;
    let workspace = body.get("workspace_id").filter(|v| !v.is_null());
    let workspace = match workspace {
        None => None,
        Some(Value::String(slug)) => Some(slug.as_str()),
        Some(_) => return Err(GatewayError::Invalid("workspace_id must be a string".into())),
    };
    let workspace_name = body.get("workspace_name").and_then(Value::as_str);
    let rate_limit = match body.get("rate_limit_per_minute").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| GatewayError::Invalid("rate_limit_per_minute must be 1 to 1000000".into()))?,
        ),
    };
    let key = NewKey::generate(KeyKind::Runtime);
    let (k, n, m) = (&key, &name, &metadata);
    let bound = transaction!(app.db, |c| async move {
        let bound = match workspace {
            Some(slug) => Some(workspaces::ensure_in(&mut *c, agent_id, slug, workspace_name).await?),
            None => None,
        };
        crate::db::query(
            "INSERT INTO gateway_keys (id, agent_id, workspace_id, name, prefix, key_hash, metadata, \
             rate_limit_per_minute, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&k.id)
        .bind(agent_id)
        .bind(bound.as_ref().map(|w| w.id.as_str()))
        .bind(n)
        .bind(&k.prefix)
        .bind(hash_secret(&k.key))
        .bind(m)
        .bind(rate_limit)
        .bind(now_ms())
        .execute(c)
        .await?;
        Ok::<_, GatewayError>(bound)
    })?;
    Ok(CreatedKey {
        id: key.id,
        key: key.key,
        name,
        prefix: key.prefix,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        workspace_id: bound.as_ref().map(|w| w.slug.clone()),
        workspace_name: bound.map(|w| w.name),
        rate_limit_per_minute: rate_limit.unwrap_or(i64::from(app.config.gateway.gateway_key_rate_limit_per_minute)),
    })
}

pub async fn list(app: &App, agent_id: &str) -> Result<Vec<KeyView>, GatewayError> {
    let rows = crate::db::query(
        "SELECT k.id, k.name, k.metadata, k.prefix, k.last_used_at, k.created_at, k.rate_limit_per_minute, \
         w.slug, w.name AS workspace_name FROM gateway_keys k LEFT JOIN gateway_workspaces w ON w.id = k.workspace_id \
         WHERE k.agent_id = $1 AND k.revoked_at IS NULL ORDER BY k.created_at, k.id LIMIT 1000",
    )
    .bind(agent_id)
    .fetch_all(&app.db.read)
    .await?;
    let default_limit = i64::from(app.config.gateway.gateway_key_rate_limit_per_minute);
    Ok(rows
        .iter()
        .map(|r| {
            let metadata: String = r.get("metadata");
            let last_used: Option<i64> = r.get("last_used_at");
            let limit: Option<i64> = r.get("rate_limit_per_minute");
            KeyView {
                id: r.get("id"),
                name: r.get("name"),
                metadata: serde_json::from_str(&metadata).unwrap_or_default(),
                workspace_id: r.get("slug"),
                workspace_name: r.get("workspace_name"),
                keyPrefix: r.get("prefix"),
                lastUsedAt: last_used.map(rfc3339),
                createdAt: rfc3339(r.get("created_at")),
                rate_limit_per_minute: limit.unwrap_or(default_limit),
            }
        })
        .collect())
}

/// Revokes one of the account's keys; another account's key is not found.
pub async fn revoke(app: &App, agent_id: &str, id: &str) -> Result<(), GatewayError> {
    let revoked = transaction!(app.db, |c| async move {
        crate::db::query(
            "UPDATE gateway_keys SET revoked_at = $1 WHERE id = $2 AND agent_id = $3 AND revoked_at IS NULL \
             RETURNING key_hash",
        )
        .bind(now_ms())
        .bind(id)
        .bind(agent_id)
        .fetch_optional(c)
        .await
    })?;
    let row = revoked.ok_or(GatewayError::NotFound("API key"))?;
    app.keys.remove(&row.get::<String, _>("key_hash"));
    Ok(())
}

/// How many live runtime keys the account has (its billing activation's `key_count`).
pub async fn live_count(app: &App, agent_id: &str) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar("SELECT COUNT(*) FROM gateway_keys WHERE agent_id = $1 AND revoked_at IS NULL")
        .bind(agent_id)
        .fetch_one(&app.db.read)
        .await
}
