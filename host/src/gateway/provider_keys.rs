//! Provider keys an account brings (BYOK). The secret is sealed at rest with the host's
//! secrets key and leaves the host only in calls to its provider; no answer or log shows it.
//! Requests of the account whose candidates include an upstream of that provider try it with
//! the account's key first (billed `gateway_byok_fee_bps` of the managed price), then with the
//! operator's. Use keeps the status current: a 429 rate-limits the key until its reset, a
//! 401/403 marks it invalid (skipped until replaced), other failures mark it failing.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::errors::GatewayError;
use super::providers::Failure;
use super::upstreams::BYOK_PROVIDERS;
use super::workspaces;
use crate::db::{new_id, now_ms, rfc3339, Db};
use crate::state::App;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProviderKey {
    /// `openai`, `anthropic`, `google` or `groq`.
    pub provider: String,
    pub label: Option<String>,
    /// Stored sealed; never returned.
    pub secret: String,
    /// A workspace of the account: the key serves that workspace's requests only.
    pub workspace_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderKeyView {
    pub id: String,
    pub provider: String,
    pub label: String,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    /// `active`, `rate_limited`, `invalid` or `failing`.
    pub status: String,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub last_failure_code: Option<String>,
    pub estimated_reset_at: Option<String>,
    pub created_at: String,
}

/// What `secret` is sealed with: the row's id, so a sealed secret moved to another row does not open.
fn context(id: &str) -> String {
    format!("provider_key:{id}")
}

pub async fn create(app: &App, agent_id: &str, new: NewProviderKey) -> Result<Value, GatewayError> {
    if !BYOK_PROVIDERS.contains(&new.provider.as_str()) {
        return Err(GatewayError::Invalid(format!("provider must be one of {}", BYOK_PROVIDERS.join(", "))));
    }
    let secret = new.secret.trim();
    if secret.is_empty() || secret.len() > 4_096 || secret.chars().any(char::is_control) {
        return Err(GatewayError::Invalid("secret must be 1-4096 printable characters".into()));
    }
    let label = match new.label.as_deref().map(str::trim) {
        None | Some("") => format!("{}-key", new.provider),
        Some(l) if l.chars().count() <= 100 => l.to_string(),
        Some(_) => return Err(GatewayError::Invalid("label must be at most 100 characters".into())),
    };
    let workspace = match &new.workspace_id {
        Some(slug) => {
            Some(workspaces::find(&app.db, agent_id, slug).await?.ok_or(GatewayError::NotFound("workspace"))?)
        }
        None => None,
    };
    let id = new_id();
    app.db.execute(crate::db::query(
        "INSERT INTO gateway_provider_keys (id, agent_id, workspace_id, provider, label, sealed_secret, status, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7)",
    )
    .bind(&id)
    .bind(agent_id)
    .bind(workspace.as_ref().map(|w| w.id.clone()))
    .bind(&new.provider)
    .bind(&label)
    .bind(app.sealer.seal(secret.as_bytes(), &context(&id)))
    .bind(now_ms()))
    .await?;
    Ok(json!({
        "created": true,
        "id": id,
        "provider": new.provider,
        "label": label,
        "workspace_id": workspace.map(|w| w.slug),
    }))
}

pub async fn list(app: &App, agent_id: &str, workspace: Option<&str>) -> Result<Vec<ProviderKeyView>, GatewayError> {
    let workspace_id = match workspace {
        Some(slug) => workspaces::find(&app.db, agent_id, slug).await?.ok_or(GatewayError::NotFound("workspace"))?.id,
        None => String::new(),
    };
    let rows = crate::db::query(
        "SELECT k.*, w.slug, w.name AS workspace_name FROM gateway_provider_keys k \
         LEFT JOIN gateway_workspaces w ON w.id = k.workspace_id \
         WHERE k.agent_id = $1 AND k.deleted_at IS NULL AND ($2 = '' OR k.workspace_id = $2) \
         ORDER BY k.created_at, k.id",
    )
    .bind(agent_id)
    .bind(workspace_id)
    .fetch_all(&app.db.read)
    .await?;
    let time = |r: &crate::db::Row, column: &str| r.get::<Option<i64>, _>(column).map(rfc3339);
    Ok(rows
        .iter()
        .map(|r| ProviderKeyView {
            id: r.get("id"),
            provider: r.get("provider"),
            label: r.get("label"),
            workspace_id: r.get("slug"),
            workspace_name: r.get("workspace_name"),
            status: r.get("status"),
            last_success_at: time(r, "last_success_at"),
            last_failure_at: time(r, "last_failure_at"),
            last_failure_code: r.get("last_failure_code"),
            estimated_reset_at: time(r, "estimated_reset_at"),
            created_at: rfc3339(r.get("created_at")),
        })
        .collect())
}

/// Deletes a key at once: no later request uses it. Another account's key is not found.
pub async fn delete(app: &App, agent_id: &str, id: &str) -> Result<(), GatewayError> {
    if !super::store::delete_owned(&app.db, "gateway_provider_keys", "sealed_secret = ''", agent_id, id).await? {
        return Err(GatewayError::NotFound("provider key"));
    }
    Ok(())
}

/// A key a request may use, opened.
#[derive(Clone)]
pub struct UsableKey {
    pub id: String,
    pub provider: String,
    pub secret: String,
}

/// The account's keys a request of `workspace` may use now: the workspace's own first, then the
/// account-wide ones; not invalid, and not rate-limited before their reset.
pub async fn usable(app: &App, agent_id: &str, workspace: Option<&str>) -> Result<Vec<UsableKey>, GatewayError> {
    let rows = crate::db::query(
        "SELECT id, provider, sealed_secret FROM gateway_provider_keys \
         WHERE agent_id = $1 AND deleted_at IS NULL AND (workspace_id IS NULL OR workspace_id = $2) \
         AND status <> 'invalid' AND (status <> 'rate_limited' OR estimated_reset_at <= $3) \
         ORDER BY CASE WHEN workspace_id IS NULL THEN 1 ELSE 0 END, created_at, id",
    )
    .bind(agent_id)
    .bind(workspace.unwrap_or(""))
    .bind(now_ms())
    .fetch_all(&app.db.read)
    .await?;
    let mut keys = Vec::new();
    for r in rows {
        let id: String = r.get("id");
        let sealed: String = r.get("sealed_secret");
        match app.sealer.open(&sealed, &context(&id)).map(String::from_utf8) {
            Ok(Ok(secret)) => keys.push(UsableKey { id, provider: r.get("provider"), secret }),
            _ => tracing::warn!(provider_key = %id, "a provider key does not open with this host's secrets key"),
        }
    }
    Ok(keys)
}

/// Keeps a key's status current after an attempt with it. A request the provider refused as
/// malformed (another 4xx) says nothing about the key.
pub async fn record(db: &Db, key_id: &str, outcome: Result<(), &Failure>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let (status, reset) = match outcome {
        Ok(()) => {
            db.execute(crate::db::query(
                "UPDATE gateway_provider_keys SET status = 'active', last_success_at = $1, estimated_reset_at = NULL \
                 WHERE id = $2",
            )
            .bind(now)
            .bind(key_id))
            .await?;
            return Ok(());
        }
        Err(f) => match f.status {
            Some(429) => ("rate_limited", Some(now + 1_000 * f.retry_after_secs.unwrap_or(60).min(86_400) as i64)),
            Some(401 | 403) => ("invalid", None),
            Some(s) if s < 500 && f.retryable() => ("failing", None),
            Some(s) if s < 500 => return Ok(()),
            _ => ("failing", None),
        },
    };
    let code = outcome.err().map(Failure::code);
    db.execute(
        crate::db::query(
            "UPDATE gateway_provider_keys SET status = $1, last_failure_at = $2, last_failure_code = $3, \
             estimated_reset_at = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(now)
        .bind(code)
        .bind(reset)
        .bind(key_id),
    )
    .await?;
    Ok(())
}
