use super::model::{well_formed, KeyKind, NewKey, Principal, RuntimeKey};
use super::store;
use super::KeyCache;
use crate::agents::model::AgentStatus;
use crate::db::Db;
use crate::secrets::{hash_secret, same_secret};
use crate::transaction;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid API key")]
    Invalid,
    #[error("this agent is suspended")]
    Suspended,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Who `key` belongs to: from `cache` if it verified recently, else from the database.
pub async fn authenticate(db: &Db, cache: &KeyCache<Principal>, key: &str) -> Result<Principal, AuthError> {
    let kind = well_formed(key).ok_or(AuthError::Invalid)?;
    let presented = hash_secret(key);
    if let Some(principal) = cache.get(&presented) {
        return Ok(principal);
    }
    let prefix = &key[..kind.prefix_len()];
    let record = match kind {
        KeyKind::Runtime => store::runtime_by_prefix(db, prefix).await?,
        KeyKind::Agent | KeyKind::Operator => store::by_prefix(db, prefix).await?,
    };
    let record = record.ok_or(AuthError::Invalid)?;
    if !same_secret(&record.key_hash, &presented) {
        return Err(AuthError::Invalid);
    }
    let principal = if record.principal == KeyKind::Operator.as_str() {
        Principal::Operator { key_id: record.id }
    } else if record.agent_status.as_deref().and_then(|s| s.parse().ok()) != Some(AgentStatus::Active) {
        // A status that is not exactly `active` (suspended, or anything unknown) refuses.
        return Err(AuthError::Suspended);
    } else {
        let agent_id = record.agent_id.ok_or(AuthError::Invalid)?;
        match record.runtime {
            Some(scope) => Principal::Runtime(RuntimeKey {
                key_id: record.id,
                agent_id,
                workspace_id: scope.workspace_id,
                rate_limit_per_minute: scope.rate_limit_per_minute,
            }),
            None => Principal::Agent { agent_id },
        }
    };
    cache.insert(presented, principal.clone());
    Ok(principal)
}

/// A new operator key, stored; the key is in the result and nowhere else.
pub async fn create_operator_key(db: &Db, name: &str) -> Result<NewKey, sqlx::Error> {
    let key = NewKey::generate(KeyKind::Operator);
    transaction!(db, |c| store::insert(c, &key, None, name))?;
    Ok(key)
}

/// Makes sure an operator key exists: the configured bootstrap key is stored (hashed) if new;
/// with none configured and none stored, one is generated and returned to be shown once.
pub async fn ensure_operator_key(db: &Db, configured: &str) -> anyhow::Result<Option<String>> {
    if !configured.is_empty() {
        let Some(key) = NewKey::from_configured(KeyKind::Operator, configured) else {
            anyhow::bail!(
                "AGORA_OPERATOR_KEY must be op_ followed by 48 letters and digits (see `agora admin create-operator-key`)"
            );
        };
        let key = &key;
        let stored = transaction!(db, |c| async move {
            let stored = store::hash_by_prefix(&mut *c, &key.prefix).await?;
            if stored.is_none() {
                store::insert(c, key, None, "bootstrap (AGORA_OPERATOR_KEY)").await?;
            }
            Ok::<_, sqlx::Error>(stored)
        })?;
        if stored.is_some_and(|hash| !same_secret(&hash, &hash_secret(&key.key))) {
            anyhow::bail!("AGORA_OPERATOR_KEY collides with a different stored key prefix");
        }
        return Ok(None);
    }
    let generated = transaction!(db, |c| async move {
        if store::active_operator_keys(&mut *c).await? > 0 {
            return Ok::<_, sqlx::Error>(None);
        }
        let key = NewKey::generate(KeyKind::Operator);
        store::insert(c, &key, None, "bootstrap (generated)").await?;
        Ok(Some(key.key))
    })?;
    Ok(generated)
}
