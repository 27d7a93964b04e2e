//! Encrypted backups of an agent's messaging: its identity (the key pair and its rotations), its
//! mode, rules, handlers and history. The passphrase is stretched with Argon2id (a fresh salt per
//! backup) into the key of an XChaCha20-Poly1305 seal; a wrong passphrase, or a changed byte,
//! does not open. Importing restores everything in one transaction, into the calling agent.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::handlers::HandlerRow;
use super::identity;
use super::model::{MessageRow, MESSAGE_COLUMNS};
use super::store::{self, RotationRow};
use super::{service, MessagingError};
use crate::db::Conn;
use crate::secrets::SecretBox;
use crate::state::App;
use crate::transaction;

pub const FORMAT: &str = "agora-backup/1";
/// The newest messages a backup keeps.
const MAX_MESSAGES: i64 = 10_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// At least 8 characters.
    pub passphrase: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub passphrase: String,
    /// What the export answered as `data`.
    pub data: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Exported {
    pub format: &'static str,
    /// The salt and the sealed contents, base64: keep it with the passphrase.
    pub data: String,
    pub messages: usize,
}

fn sealer(passphrase: &str, salt: &[u8]) -> Result<SecretBox, MessagingError> {
    let mut key = [0u8; 32];
    argon2::Argon2::default()
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|_| MessagingError::Invalid("the passphrase cannot be used".into()))?;
    Ok(SecretBox::new(&key))
}

fn check_passphrase(p: &str) -> Result<(), MessagingError> {
    if p.chars().count() < 8 || p.len() > 1_024 {
        return Err(MessagingError::Invalid("passphrase must be 8 to 1024 characters".into()));
    }
    Ok(())
}

pub async fn export(app: &App, agent_id: &str, req: ExportRequest) -> Result<Exported, MessagingError> {
    check_passphrase(&req.passphrase)?;
    let me = service::me(app, agent_id).await?;
    let row = store::identity(&app.db, agent_id).await?.ok_or(MessagingError::NotFound("identity"))?;
    let secret = app.sealer.open(&row.sealed_secret, &identity::context(agent_id)).map_err(MessagingError::Internal)?;
    let rotations: Vec<Value> = store::rotations(&app.db, agent_id)
        .await?
        .into_iter()
        .map(|r| json!([r.old_key, r.new_key, r.statement, r.signature, r.created_at]))
        .collect();
    let rules: Vec<Value> = super::peers::rules(&app.db, agent_id)
        .await?
        .into_iter()
        .map(|r| json!([r.action, r.public_key, r.from_pattern, r.created_at]))
        .collect();
    let handlers: Vec<Value> = super::handlers::of_agent(&app.db, agent_id).await?.iter().map(handler_json).collect();
    let messages = crate::db::query_as::<MessageRow>(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE (recipient_agent_id = $1 AND inbox_seq IS NOT NULL) \
         OR sender_agent_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(agent_id)
    .bind(MAX_MESSAGES)
    .fetch_all(&app.db.read)
    .await?;
    let count = messages.len();
    let contents = json!({
        "format": FORMAT, "address": me.address.to_string(), "public_key": row.public_key,
        "secret_key": STANDARD.encode(secret), "connection_mode": row.connection_mode,
        "rotations": rotations, "rules": rules, "handlers": handlers,
        "messages": messages.iter().map(|m| message_json(m, agent_id)).collect::<Vec<_>>(),
    });
    let salt = crate::secrets::random_bytes(16);
    let sealed = sealer(&req.passphrase, &salt)?.seal(contents.to_string().as_bytes(), FORMAT);
    Ok(Exported { format: FORMAT, data: format!("{}.{sealed}", STANDARD.encode(&salt)), messages: count })
}

fn handler_json(h: &HandlerRow) -> Value {
    json!({"name": h.name, "kind": h.kind, "component_id": h.component_id, "provider": h.provider,
           "model": h.model, "prompt": h.prompt, "max_turns": h.max_turns, "auto_close": h.auto_close,
           "filter_from": h.filter_from, "filter_key": h.filter_key, "filter_type": h.filter_type,
           "created_at": h.created_at, "updated_at": h.updated_at})
}

/// A message, with which side the agent was on (the other side's agent is this host's business).
fn message_json(m: &MessageRow, agent_id: &str) -> Value {
    json!({"id": m.id, "thread_id": m.thread_id, "from": m.from_address, "from_key": m.from_key,
           "to": m.to_address, "mine": m.sender_agent_id.as_deref() == Some(agent_id), "reply_to": m.reply_to,
           "content_type": m.content_type, "body": m.body, "signature": m.signature, "status": m.status,
           "handler": m.sent_by_handler, "created_at": m.created_at})
}

pub async fn import(app: &App, agent_id: &str, req: ImportRequest) -> Result<Value, MessagingError> {
    let malformed = || MessagingError::Invalid("data is not a backup this host made".into());
    let (salt, sealed) = req.data.trim().split_once('.').ok_or_else(malformed)?;
    let salt = STANDARD.decode(salt).map_err(|_| malformed())?;
    let opened = sealer(&req.passphrase, &salt)?.open(sealed, FORMAT).map_err(|e| match e {
        "not a sealed value" => malformed(),
        _ => MessagingError::InvalidPassphrase,
    })?;
    let b: Value = serde_json::from_slice(&opened).map_err(|_| malformed())?;
    if b["format"] != FORMAT {
        return Err(malformed());
    }
    let secret = b["secret_key"].as_str().and_then(|s| STANDARD.decode(s).ok()).ok_or_else(malformed)?;
    let public_key = b["public_key"].as_str().ok_or_else(malformed)?.to_string();
    let mode: super::peers::Mode = b["connection_mode"].as_str().unwrap_or("open").parse().map_err(|_| malformed())?;
    service::me(app, agent_id).await?;
    let sealed_secret = app.sealer.seal(&secret, &identity::context(agent_id));
    let here = format!("toq://{}/", identity::host_name(app));
    let (b, pk, ss, h) = (&b, &public_key, &sealed_secret, &here);
    let restored = transaction!(app.db, |c| async move {
        let taken = crate::db::query_scalar::<i64>(
            "SELECT COUNT(*) FROM messaging_identities WHERE public_key = $1 AND agent_id <> $2",
        )
        .bind(pk.as_str())
        .bind(agent_id)
        .fetch_one(&mut *c)
        .await?;
        if taken > 0 {
            return Err(MessagingError::Conflict("another agent of this host has the backup's key"));
        }
        crate::db::query(
            "UPDATE messaging_identities SET public_key = $1, sealed_secret = $2, connection_mode = $3 WHERE agent_id = $4",
        )
        .bind(pk.as_str())
        .bind(ss.as_str())
        .bind(mode.as_str())
        .bind(agent_id)
        .execute(&mut *c)
        .await?;
        restore_in(c, agent_id, h, b).await
    })?;
    Ok(restored)
}

async fn restore_in(c: &mut Conn, agent_id: &str, here: &str, b: &Value) -> Result<Value, MessagingError> {
    let list = |field: &str| b[field].as_array().cloned().unwrap_or_default();
    for r in list("rotations") {
        let row = RotationRow {
            old_key: r[0].as_str().unwrap_or_default().into(),
            new_key: r[1].as_str().unwrap_or_default().into(),
            statement: r[2].as_str().unwrap_or_default().into(),
            signature: r[3].as_str().unwrap_or_default().into(),
            created_at: r[4].as_i64().unwrap_or_default(),
        };
        crate::db::query("DELETE FROM messaging_key_rotations WHERE agent_id = $1 AND new_key = $2")
            .bind(agent_id)
            .bind(row.new_key.as_str())
            .execute(&mut *c)
            .await?;
        store::insert_rotation(&mut *c, agent_id, &row).await?;
    }
    crate::db::query("DELETE FROM messaging_rules WHERE agent_id = $1").bind(agent_id).execute(&mut *c).await?;
    let rules = list("rules");
    for r in &rules {
        let action = if r[0] == "approve" { "approve" } else { "block" };
        super::peers::add_rule(&mut *c, agent_id, action, r[1].as_str(), r[2].as_str()).await?;
    }
    let (handlers, skipped) = restore_handlers(&mut *c, agent_id, &list("handlers")).await?;
    let mut messages = 0;
    for m in list("messages").iter().rev() {
        messages += usize::from(restore_message(&mut *c, agent_id, here, m).await?);
    }
    Ok(json!({"restored": {"identity": true, "rotations": list("rotations").len(), "rules": rules.len(),
                            "handlers": handlers, "handlers_skipped": skipped, "messages": messages}}))
}

/// Replaces the agent's handlers with the backup's; a component handler whose component is not
/// this agent's on this host is skipped (named in the answer).
async fn restore_handlers(
    c: &mut Conn,
    agent_id: &str,
    list: &[Value],
) -> Result<(usize, Vec<String>), MessagingError> {
    crate::db::query("DELETE FROM messaging_handlers WHERE agent_id = $1").bind(agent_id).execute(&mut *c).await?;
    let (mut restored, mut skipped) = (0, Vec::new());
    for h in list {
        let name = h["name"].as_str().unwrap_or_default().to_string();
        if let Some(component) = h["component_id"].as_str() {
            let own = crate::db::query_scalar::<i64>(
                "SELECT COUNT(*) FROM components WHERE id = $1 AND publisher_id = $2 AND kind = 'handler'",
            )
            .bind(component)
            .bind(agent_id)
            .fetch_one(&mut *c)
            .await?;
            if own == 0 {
                skipped.push(name);
                continue;
            }
        }
        let text = |f: &str| h[f].as_str().map(str::to_string);
        let row = HandlerRow {
            agent_id: agent_id.to_string(),
            name,
            kind: text("kind").unwrap_or_else(|| "llm".into()),
            component_id: text("component_id"),
            provider: text("provider"),
            model: text("model"),
            prompt: text("prompt"),
            max_turns: h["max_turns"].as_i64().unwrap_or(10),
            auto_close: h["auto_close"].as_i64().unwrap_or(0),
            filter_from: text("filter_from").unwrap_or_else(|| "[]".into()),
            filter_key: text("filter_key").unwrap_or_else(|| "[]".into()),
            filter_type: text("filter_type").unwrap_or_else(|| "[]".into()),
            created_at: h["created_at"].as_i64().unwrap_or_default(),
            updated_at: h["updated_at"].as_i64().unwrap_or_default(),
        };
        super::handlers::insert(&mut *c, &row).await?;
        restored += 1;
    }
    Ok((restored, skipped))
}

/// Adds a message this host does not have: the agent's side is the agent, the other side an
/// agent of this host only if it is one here; a message to the agent takes the next position
/// of its inbox. True when it was added.
async fn restore_message(c: &mut Conn, agent_id: &str, here: &str, m: &Value) -> Result<bool, MessagingError> {
    let id = m["id"].as_str().unwrap_or_default();
    let exists = crate::db::query_scalar::<i64>("SELECT COUNT(*) FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *c)
        .await?;
    if id.is_empty() || exists > 0 {
        return Ok(false);
    }
    let (thread, at) = (m["thread_id"].as_str().unwrap_or_default(), m["created_at"].as_i64().unwrap_or_default());
    crate::db::query("INSERT INTO messaging_threads (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(thread)
        .bind(at)
        .execute(&mut *c)
        .await?;
    let mine = m["mine"].as_bool().unwrap_or(false);
    let other_address = if mine { m["to"].as_str() } else { m["from"].as_str() }.unwrap_or_default();
    let other = match other_address.strip_prefix(here) {
        Some(handle) => store::agent_by_handle_in(&mut *c, handle).await?,
        None => None,
    };
    let (sender, recipient) =
        if mine { (Some(agent_id.to_string()), other) } else { (other, Some(agent_id.to_string())) };
    let inbox_seq = match mine {
        false => Some(store::next_inbox_seq(&mut *c, agent_id).await?),
        true => None,
    };
    let text = |f: &str| m[f].as_str().unwrap_or_default().to_string();
    let row = MessageRow {
        id: id.to_string(),
        thread_id: thread.to_string(),
        from_address: text("from"),
        from_key: text("from_key"),
        to_address: text("to"),
        sender_agent_id: sender,
        recipient_agent_id: recipient,
        inbox_seq,
        reply_to: m["reply_to"].as_str().map(str::to_string),
        content_type: text("content_type"),
        body: text("body"),
        signature: text("signature"),
        status: if mine { text("status") } else { "delivered".into() },
        sent_by_handler: m["handler"].as_str().map(str::to_string),
        created_at: at,
    };
    store::insert_message(c, &row).await?;
    Ok(true)
}
