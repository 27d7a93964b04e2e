//! API keys and the extractors that authenticate a request.
//!
//! A key is `ak_` (agent) or `op_` (operator) followed by 48 random base62 characters. The
//! first 11 characters are its visible prefix, used to find it; only a SHA-256 hash of the
//! whole key is stored, and hashes are compared in constant time. Keys are high-entropy, so a
//! fast hash is enough (no password-stretching needed).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use subtle::ConstantTimeEq;

use crate::app::App;
use crate::db::{new_id, now_ms};
use crate::error::ApiError;

const PREFIX_LEN: usize = 11;
const SECRET_LEN: usize = 48;
const KEY_LEN: usize = 3 + SECRET_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Agent,
    Operator,
}

impl KeyKind {
    fn tag(self) -> &'static str {
        match self {
            KeyKind::Agent => "ak_",
            KeyKind::Operator => "op_",
        }
    }
}

pub struct NewKey {
    pub id: String,
    pub key: String,
    pub prefix: String,
}

pub fn generate_key(kind: KeyKind) -> NewKey {
    let key = format!("{}{}", kind.tag(), Alphanumeric.sample_string(&mut rand::thread_rng(), SECRET_LEN));
    NewKey { id: new_id(), prefix: key[..PREFIX_LEN].to_string(), key }
}

pub fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Stores a key (hashed) for an agent, or for an operator when `agent_id` is `None`.
pub async fn store_key(
    conn: &mut AnyConnection,
    key: &NewKey,
    agent_id: Option<&str>,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_keys (id, prefix, key_hash, principal, agent_id, name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.id)
    .bind(&key.prefix)
    .bind(hash_secret(&key.key))
    .bind(if agent_id.is_some() { "agent" } else { "operator" })
    .bind(agent_id)
    .bind(name)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// The key presented with a request: `Authorization: Bearer <key>` or `X-API-Key: <key>`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    let auth = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Agent { agent_id: String },
    Operator { key_id: String },
}

pub async fn authenticate(app: &App, key: &str) -> Result<Principal, ApiError> {
    let invalid = || ApiError::unauthorized("invalid API key");
    if key.len() != KEY_LEN || !key.is_ascii() {
        return Err(invalid());
    }
    let row = sqlx::query(
        "SELECT k.id, k.key_hash, k.principal, k.agent_id, a.status FROM api_keys k \
         LEFT JOIN agents a ON a.id = k.agent_id WHERE k.prefix = $1 AND k.revoked_at IS NULL",
    )
    .bind(&key[..PREFIX_LEN])
    .fetch_optional(&app.db.read)
    .await?
    .ok_or_else(invalid)?;
    let stored: String = row.get(1);
    if !bool::from(stored.as_bytes().ct_eq(hash_secret(key).as_bytes())) {
        return Err(invalid());
    }
    let principal: String = row.get(2);
    if principal == "operator" {
        return Ok(Principal::Operator { key_id: row.get(0) });
    }
    let status: Option<String> = row.get(4);
    if status.as_deref() == Some("SUSPENDED") {
        return Err(ApiError::forbidden("this agent is suspended"));
    }
    Ok(Principal::Agent { agent_id: row.get::<Option<String>, _>(3).ok_or_else(invalid)? })
}

/// Any authenticated caller.
pub struct Auth(pub Principal);

/// An authenticated agent.
pub struct AgentAuth {
    pub agent_id: String,
}

/// An authenticated operator.
pub struct OperatorAuth {
    pub key_id: String,
}

/// An optional caller: anonymous requests pass, a bad key does not.
pub struct MaybeAuth(pub Option<Principal>);

impl FromRequestParts<Arc<App>> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let key = presented_key(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("missing API key: send Authorization: Bearer <key> or X-API-Key: <key>")
        })?;
        Ok(Auth(authenticate(app, key).await?))
    }
}

impl FromRequestParts<Arc<App>> for MaybeAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        match presented_key(&parts.headers) {
            None => Ok(MaybeAuth(None)),
            Some(key) => Ok(MaybeAuth(Some(authenticate(app, key).await?))),
        }
    }
}

impl FromRequestParts<Arc<App>> for AgentAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        match Auth::from_request_parts(parts, app).await?.0 {
            Principal::Agent { agent_id } => Ok(AgentAuth { agent_id }),
            Principal::Operator { .. } => Err(ApiError::forbidden("this endpoint needs an agent API key")),
        }
    }
}

impl FromRequestParts<Arc<App>> for OperatorAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        match Auth::from_request_parts(parts, app).await?.0 {
            Principal::Operator { key_id } => Ok(OperatorAuth { key_id }),
            Principal::Agent { .. } => Err(ApiError::forbidden("this endpoint needs an operator key")),
        }
    }
}

/// Makes sure an operator key exists: the configured bootstrap key is stored (hashed) if new;
/// with none configured and none stored, one is generated and returned to be shown once.
pub async fn ensure_operator_key(app: &App) -> anyhow::Result<Option<String>> {
    let mut conn = app.db.write.acquire().await?;
    if let Some(key) = &app.config.operator_key {
        if !key.starts_with(KeyKind::Operator.tag()) || key.len() != KEY_LEN {
            anyhow::bail!("AGORA_OPERATOR_KEY must be op_ followed by 48 letters and digits (see `agora admin create-operator-key`)");
        }
        let known = sqlx::query("SELECT key_hash FROM api_keys WHERE prefix = $1")
            .bind(&key[..PREFIX_LEN])
            .fetch_optional(&mut *conn)
            .await?;
        match known {
            Some(row) if row.get::<String, _>(0) == hash_secret(key) => {}
            Some(_) => anyhow::bail!("AGORA_OPERATOR_KEY collides with a different stored key prefix"),
            None => {
                let new = NewKey { id: new_id(), prefix: key[..PREFIX_LEN].to_string(), key: key.clone() };
                store_key(&mut conn, &new, None, "bootstrap (AGORA_OPERATOR_KEY)").await?;
            }
        }
        return Ok(None);
    }
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM api_keys WHERE principal = 'operator' AND revoked_at IS NULL")
        .fetch_one(&mut *conn)
        .await?
        .get(0);
    if count > 0 {
        return Ok(None);
    }
    let key = generate_key(KeyKind::Operator);
    store_key(&mut conn, &key, None, "bootstrap (generated)").await?;
    Ok(Some(key.key))
}
