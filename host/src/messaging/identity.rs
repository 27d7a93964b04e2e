//! Every agent's messaging identity: an Ed25519 key pair held by the host (the private key
//! sealed with the host's secrets key), made the first time the agent needs it, and its address
//! `toq://<host>/<handle>` (the handle is the agent's slug). Rotating the key publishes a
//! statement, signed by the old key, that names the new one: whoever knew the old key can follow
//! the chain to the current one without asking anyone.

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::model::Address;
use super::store::{self, IdentityRow, RotationRow};
use super::MessagingError;
use crate::db::{now_ms, rfc3339};
use crate::state::App;
use crate::transaction;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A public key as toq writes it: `ed25519:<base64>`.
pub fn key_text(key: &VerifyingKey) -> String {
    format!("ed25519:{}", B64.encode(key.as_bytes()))
}

pub fn parse_key(text: &str) -> Option<VerifyingKey> {
    let raw = B64.decode(text.strip_prefix("ed25519:")?).ok()?;
    VerifyingKey::from_bytes(&raw.try_into().ok()?).ok()
}

/// Whether `signature` (base64) is `key`'s over `bytes`.
pub fn verify(key: &str, bytes: &[u8], signature: &str) -> bool {
    let (Some(key), Ok(raw)) = (parse_key(key), B64.decode(signature)) else { return false };
    let Ok(signature) = ed25519_dalek::Signature::from_slice(&raw) else { return false };
    key.verify(bytes, &signature).is_ok()
}

/// What a sealed secret key is bound to: the agent, so that it opens for no other row.
pub(super) fn context(agent_id: &str) -> String {
    format!("messaging_identity:{agent_id}")
}

/// An agent's identity, ready to sign.
pub struct Identity {
    pub agent_id: String,
    pub address: Address,
    pub public_key: String,
    pub connection_mode: String,
    signing: SigningKey,
}

impl Identity {
    /// The signature (base64) over `bytes`.
    pub fn sign(&self, bytes: &[u8]) -> String {
        B64.encode(self.signing.sign(bytes).to_bytes())
    }
}

/// The host part of this host's addresses.
pub fn host_name(app: &App) -> String {
    let configured = &app.config.messaging.messaging_host;
    if !configured.is_empty() {
        return configured.to_ascii_lowercase();
    }
    let url = url::Url::parse(app.public_url.get()).ok();
    let host = url.as_ref().and_then(|u| u.host_str()).unwrap_or("localhost").to_ascii_lowercase();
    match url.and_then(|u| u.port()) {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// The agent's identity, made now if it has none. `handle` is its slug.
pub async fn ensure(app: &App, agent_id: &str, handle: &str) -> Result<Identity, MessagingError> {
    let row = match store::identity(&app.db, agent_id).await? {
        Some(row) => row,
        None => {
            let signing = SigningKey::generate(&mut rand::rngs::OsRng);
            let row = IdentityRow {
                agent_id: agent_id.to_string(),
                public_key: key_text(&signing.verifying_key()),
                sealed_secret: app.sealer.seal(signing.as_bytes(), &context(agent_id)),
                connection_mode: "open".into(),
                created_at: now_ms(),
                rotated_at: None,
            };
            let r = &row;
            transaction!(app.db, |c| async move { store::insert_identity(c, r).await })?;
            // Another request may have made it first: the stored one is the identity.
            store::identity(&app.db, agent_id).await?.ok_or(MessagingError::NotFound("identity"))?
        }
    };
    open(app, row, handle)
}

fn open(app: &App, row: IdentityRow, handle: &str) -> Result<Identity, MessagingError> {
    let secret = app.sealer.open(&row.sealed_secret, &context(&row.agent_id)).map_err(|e| {
        tracing::error!(agent = %row.agent_id, "a messaging key does not open: {e}");
        MessagingError::Internal("the agent's messaging key cannot be opened with this host's secrets key")
    })?;
    let secret: [u8; 32] = secret.try_into().map_err(|_| MessagingError::Internal("a messaging key is damaged"))?;
    Ok(Identity {
        address: Address::agent(&host_name(app), handle),
        agent_id: row.agent_id,
        public_key: row.public_key,
        connection_mode: row.connection_mode,
        signing: SigningKey::from_bytes(&secret),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotationView {
    pub old_key: String,
    pub new_key: String,
    /// The statement, as signed: `{"type":"key_rotation","address":...,"old_key":...,"new_key":...,"at":...}`.
    pub statement: String,
    /// The old key's signature over `statement`, base64.
    pub signature: String,
    pub created_at: String,
}

impl From<RotationRow> for RotationView {
    fn from(r: RotationRow) -> Self {
        RotationView {
            old_key: r.old_key,
            new_key: r.new_key,
            statement: r.statement,
            signature: r.signature,
            created_at: rfc3339(r.created_at),
        }
    }
}

/// The agent's card: who it is and how to reach it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Card {
    pub address: String,
    pub handle: String,
    pub name: String,
    pub description: String,
    pub public_key: String,
    /// `open`, `approval`, `allowlist` or `closed`.
    pub connection_mode: String,
    pub protocol: &'static str,
    /// Every key the agent had before, each naming its successor, oldest first.
    pub rotations: Vec<RotationView>,
}

pub const PROTOCOL: &str = "agora-messaging/1";

pub async fn card(app: &App, agent_id: &str) -> Result<Card, MessagingError> {
    let agent = crate::agents::store::get(&app.db, agent_id).await?.ok_or(MessagingError::NotFound("agent"))?;
    let me = ensure(app, agent_id, &agent.slug).await?;
    let rotations = store::rotations(&app.db, agent_id).await?.into_iter().map(RotationView::from).collect();
    Ok(Card {
        address: me.address.to_string(),
        handle: agent.slug,
        name: agent.name,
        description: agent.description,
        public_key: me.public_key,
        connection_mode: me.connection_mode,
        protocol: PROTOCOL,
        rotations,
    })
}

/// Replaces the agent's key pair; the old key signs the statement naming the new one.
pub async fn rotate(app: &App, agent_id: &str) -> Result<RotationView, MessagingError> {
    let agent = crate::agents::store::get(&app.db, agent_id).await?.ok_or(MessagingError::NotFound("agent"))?;
    let old = ensure(app, agent_id, &agent.slug).await?;
    let next = SigningKey::generate(&mut rand::rngs::OsRng);
    let new_key = key_text(&next.verifying_key());
    let at = now_ms();
    let statement = json!({
        "type": "key_rotation", "address": old.address.to_string(), "old_key": old.public_key,
        "new_key": new_key, "at": at,
    })
    .to_string();
    let rotation = RotationRow {
        old_key: old.public_key.clone(),
        new_key: new_key.clone(),
        signature: old.sign(statement.as_bytes()),
        statement,
        created_at: at,
    };
    let sealed = app.sealer.seal(next.as_bytes(), &context(agent_id));
    let (r, s, k) = (&rotation, &sealed, &new_key);
    transaction!(app.db, |c| async move {
        if !store::replace_key(&mut *c, agent_id, &r.old_key, k, s, at).await? {
            return Err(MessagingError::Conflict("the key was rotated by another request at the same time"));
        }
        store::insert_rotation(&mut *c, agent_id, r).await?;
        follow_rotation(c, &r.old_key, k).await?;
        Ok::<_, MessagingError>(())
    })?;
    Ok(rotation.into())
}

/// Moves every local agent's rules and peer records about `old` to `new`: the key rotated (its
/// statement was verified, or made here), and a block or approval stays with its owner.
pub async fn follow_rotation(c: &mut crate::db::Conn, old: &str, new: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE messaging_rules SET public_key = $1 WHERE public_key = $2")
        .bind(new)
        .bind(old)
        .execute(&mut *c)
        .await?;
    crate::db::query(
        "UPDATE messaging_peers SET public_key = $1 WHERE public_key = $2 AND NOT EXISTS \
         (SELECT 1 FROM messaging_peers p WHERE p.agent_id = messaging_peers.agent_id AND p.public_key = $1)",
    )
    .bind(new)
    .bind(old)
    .execute(&mut *c)
    .await?;
    // What is left under the old key is an agent that already knew the new one too.
    crate::db::query("DELETE FROM messaging_peers WHERE public_key = $1").bind(old).execute(c).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_as_toq_does_and_signatures_verify() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let text = key_text(&key.verifying_key());
        assert!(text.starts_with("ed25519:"));
        assert_eq!(parse_key(&text), Some(key.verifying_key()));
        let signature = B64.encode(key.sign(b"hello").to_bytes());
        assert!(verify(&text, b"hello", &signature));
        assert!(!verify(&text, b"hellO", &signature));
        assert!(!verify("ed25519:nope", b"hello", &signature));
        assert_eq!(parse_key("rsa:abc"), None);
    }
}
