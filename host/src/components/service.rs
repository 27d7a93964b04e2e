//! Publishing components, publishers' signing keys, and trial runs.

use std::sync::Arc;

use agora_runtime::{ComponentError, Kind};
use sha2::{Digest, Sha256};

use super::model::{Capabilities, ComponentRow, PublishRequest};
use super::{signing, store, ComponentsError};
use crate::db::{is_unique_violation, new_id};
use crate::executions::ExecutionError;
use crate::guardrails::enforce::{enforce, HostAction};
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

fn check_name(name: &str) -> Result<String, validate::Invalid> {
    let n = name.trim();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && n.starts_with(|c: char| c.is_ascii_alphanumeric());
    ok.then(|| n.to_string())
        .ok_or_else(|| fail("name", "1 to 64 lowercase letters, digits, - or _, starting with a letter or digit"))
}

fn check_capabilities(kind: Kind, caps: &Capabilities) -> Result<Capabilities, validate::Invalid> {
    if kind == Kind::Policy && (caps.kv || !caps.http.is_empty() || caps.skills || caps.marketplace) {
        return Err(fail("capabilities", "a policy is pure: it may only log"));
    }
    if caps.http.len() > 32 {
        return Err(fail("capabilities.http", "at most 32 hosts"));
    }
    let mut http = Vec::new();
    for host in &caps.http {
        let h = host.trim().to_ascii_lowercase();
        let bare = h.strip_prefix("*.").unwrap_or(&h);
        let ok = !bare.is_empty()
            && bare.len() <= 253
            && bare
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !ok {
            return Err(fail("capabilities.http", &format!("{host:?} is not a host name or *.domain")));
        }
        if !http.contains(&h) {
            http.push(h);
        }
    }
    Ok(Capabilities {
        kv: caps.kv,
        http,
        skills: caps.skills,
        marketplace: caps.marketplace,
        llm: caps.llm,
        messaging: caps.messaging,
    })
}

/// Refuses a publish that would take the publisher past its quotas (count and bytes).
fn check_quota(app: &App, used: (i64, i64), adding: i64) -> Result<(), ComponentsError> {
    let c = &app.config.components;
    let (count, bytes) = used;
    if count + 1 > c.agent_max_components as i64 {
        return Err(ComponentsError::QuotaExceeded(format!(
            "you have published {count} components, the most an agent may (AGORA_AGENT_MAX_COMPONENTS)"
        )));
    }
    if bytes + adding > c.agent_max_component_bytes as i64 {
        return Err(ComponentsError::QuotaExceeded(format!(
            "your components take {bytes} bytes; {adding} more would pass the limit of {} (AGORA_AGENT_MAX_COMPONENT_BYTES)",
            c.agent_max_component_bytes
        )));
    }
    Ok(())
}

/// Publishes a component: checked against its declared world and the memory limit, its
/// signature verified, stored content-addressed, compiled once; within the publisher's quotas.
pub async fn publish(app: &App, publisher_id: &str, req: &PublishRequest) -> Result<ComponentRow, ComponentsError> {
    use base64::Engine as _;
    let kind: Kind = req.kind.parse().map_err(|_| fail("kind", "must be agent, skill, handler or policy"))?;
    let name = check_name(&req.name)?;
    let version = req.version.trim().to_string();
    if !super::model::is_semver(&version) {
        return Err(fail("version", "must be a semantic version like 1.0.0").into());
    }
    let description = validate::optional_text("description", req.description.as_deref().unwrap_or(""), 2_000)?;
    let capabilities = check_capabilities(kind, &req.capabilities)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(req.component.trim())
        .map_err(|_| fail("component", "must be the component's bytes in base64"))?;
    let limit = app.config.components.max_component_bytes as usize;
    if bytes.len() > limit {
        return Err(ComponentError::TooLarge { size: bytes.len(), limit }.into());
    }
    check_quota(app, store::usage_of(&app.db.read, publisher_id).await?, bytes.len() as i64)?;
    let digest_bytes: [u8; 32] = Sha256::digest(&bytes).into();
    let digest = hex::encode(digest_bytes);
    let action = HostAction {
        tool_ref: "agora.publish",
        action_type: "code",
        access_level: None,
        operation: Some(format!("{name}@{version}")),
        amount_cents: None,
        approval_id: req.approval_id.clone(),
        metadata: None,
    };
    enforce(app, publisher_id, action).await.map_err(ExecutionError::from)?;

    let signing_key_id = match req.signature.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(sig) => {
            let sig = signing::parse_signature(sig).map_err(|m| fail("signature", &m))?;
            let keys = store::signing_keys(&app.db, publisher_id).await?;
            let found = keys.into_iter().find(|(_, public, _)| {
                signing::parse_public_key(public).is_ok_and(|k| signing::verifies(&k, &digest_bytes, &sig))
            });
            Some(found.map(|(id, _, _)| id).ok_or(ComponentsError::InvalidSignature)?)
        }
        None if app.config.components.allow_unsigned_components => None,
        None => return Err(ComponentsError::SignatureRequired),
    };

    let runtime = app.runtime.clone();
    let (shared, d) = (Arc::new(bytes), digest.clone());
    let checked = shared.clone();
    let info = tokio::task::spawn_blocking(move || {
        let info = runtime.inspect(&checked, kind)?;
        runtime.prepare(&d, &checked, kind)?;
        Ok::<_, ComponentError>(info)
    })
    .await
    .map_err(|e| ComponentsError::Internal(format!("compile task failed: {e}")))??;

    let id = new_id();
    let grants = serde_json::to_string(&capabilities).unwrap_or_default();
    let imports = serde_json::to_string(&info.imports).unwrap_or_default();
    let new = store::NewComponent {
        id: &id,
        publisher_id,
        kind: kind.as_str(),
        name: &name,
        version: &version,
        description: &description,
        digest: &digest,
        size_bytes: shared.len() as i64,
        grants: &grants,
        imports: &imports,
        signature: req.signature.as_deref().filter(|_| signing_key_id.is_some()),
        signing_key_id: signing_key_id.as_deref(),
    };
    let (new, lock) = (&new, format!("SELECT id FROM agents WHERE id = $1{}", app.db.for_update()));
    let (lock, digest, bytes, name, version) = (&lock, &digest, &shared, &name, &version);
    transaction!(app.db, |c| async move {
        // One publish per agent at a time, so that two cannot both squeeze under the quota.
        crate::db::query(lock).bind(publisher_id).execute(&mut *c).await?;
        check_quota(app, store::usage_of(&mut *c, publisher_id).await?, bytes.len() as i64)?;
        store::put_blob(&mut *c, digest, bytes).await?;
        match store::insert(c, new).await {
            Err(e) if is_unique_violation(&e) => Err(ComponentsError::VersionExists(name.clone(), version.clone())),
            other => Ok(other?),
        }
    })?;
    store::get(&app.db, &id).await?.ok_or(ComponentsError::NotFound)
}

/// Registers a public key for the agent to sign components with; false if it already had
/// it. A key belongs to one agent only.
pub async fn add_signing_key(app: &App, agent_id: &str, public_key: &str) -> Result<bool, ComponentsError> {
    let key = signing::parse_public_key(public_key).map_err(|m| fail("publicKey", &m))?;
    let (id, public) = (new_id(), hex::encode(key.to_bytes()));
    match transaction!(app.db, |c| store::add_signing_key(c, &id, agent_id, &public)) {
        Ok(added) => Ok(added),
        Err(e) if is_unique_violation(&e) => Err(ComponentsError::KeyTaken),
        Err(e) => Err(e.into()),
    }
}

/// A component of the caller's own, by id.
pub async fn own(app: &App, agent_id: &str, id: &str) -> Result<ComponentRow, ComponentsError> {
    store::get(&app.db, id).await?.filter(|c| c.publisher_id == agent_id).ok_or(ComponentsError::NotFound)
}
