//! The agent's side of `peers`: its peers, rules, approvals and connection mode, as toq's
//! routes manage them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::model::{Address, MessageRow, MESSAGE_COLUMNS};
use super::peers::{self, Mode, RuleTarget, RuleView};
use super::{dispatch, service, store, MessagingError};
use crate::db::{now_ms, rfc3339};
use crate::state::App;
use crate::transaction;

#[derive(Debug, Serialize, ToSchema)]
pub struct PeerView {
    pub public_key: String,
    pub address: String,
    /// `blocked`, `approved`, `pending` (waiting for approval) or `known`.
    pub status: String,
    pub first_seen: String,
    pub last_seen: String,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    struct PeerRow {
        public_key: String,
        address: String,
        first_seen: i64,
        last_seen: i64,
    }
}

pub async fn peers(app: &App, agent_id: &str) -> Result<Vec<PeerView>, MessagingError> {
    let rows = crate::db::query_as::<PeerRow>(
        "SELECT public_key, address, first_seen, last_seen FROM messaging_peers WHERE agent_id = $1 \
         ORDER BY last_seen DESC, public_key LIMIT 1000",
    )
    .bind(agent_id)
    .fetch_all(&app.db.read)
    .await?;
    let rules = peers::rules(&app.db, agent_id).await?;
    let pending: Vec<String> = crate::db::query_scalar::<String>(
        "SELECT public_key FROM messaging_approvals WHERE agent_id = $1 AND status = 'pending'",
    )
    .bind(agent_id)
    .fetch_all(&app.db.read)
    .await?;
    let names =
        |action: &str, p: &PeerRow| rules.iter().any(|r| r.action == action && r.names(&p.address, &p.public_key));
    Ok(rows
        .into_iter()
        .map(|p| {
            let status = if names("block", &p) {
                "blocked"
            } else if names("approve", &p) {
                "approved"
            } else if pending.contains(&p.public_key) {
                "pending"
            } else {
                "known"
            };
            PeerView {
                status: status.into(),
                first_seen: rfc3339(p.first_seen),
                last_seen: rfc3339(p.last_seen),
                public_key: p.public_key,
                address: p.address,
            }
        })
        .collect())
}

/// Adds (`on`) or removes a `block` or `approve` rule; removing one that does not exist is
/// `not_found`.
pub async fn rule(
    app: &App,
    agent_id: &str,
    action: &str,
    target: &RuleTarget,
    on: bool,
) -> Result<Value, MessagingError> {
    let (key, from) = target.check()?;
    service::me(app, agent_id).await?; // the identity (and its row) exists
    let removed = transaction!(app.db, |c| async move {
        if on {
            peers::add_rule(c, agent_id, action, key, from).await.map(|_| true)
        } else {
            peers::remove_rule(c, agent_id, action, key, from).await
        }
    })?;
    if !removed {
        return Err(MessagingError::NotFound("rule"));
    }
    Ok(json!({"action": action, "key": key, "from": from, "active": on}))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Permissions {
    pub approved: Vec<RuleView>,
    pub blocked: Vec<RuleView>,
}

pub async fn permissions(app: &App, agent_id: &str) -> Result<Permissions, MessagingError> {
    let rules = peers::rules(&app.db, agent_id).await?;
    let of = |action: &str| rules.iter().filter(|r| r.action == action).map(|r| r.view()).collect();
    Ok(Permissions { approved: of("approve"), blocked: of("block") })
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct ApprovalRow {
        pub id: String,
        pub public_key: String,
        pub address: String,
        pub status: String,
        pub created_at: i64,
        pub decided_at: Option<i64>,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    pub id: String,
    pub public_key: String,
    pub address: String,
    /// `pending`, `approved`, `denied` or `revoked`.
    pub status: String,
    /// Messages held for the decision.
    pub held: i64,
    pub created_at: String,
    pub decided_at: Option<String>,
}

const APPROVAL_COLUMNS: &str = "id, public_key, address, status, created_at, decided_at";

pub async fn approvals(app: &App, agent_id: &str, status: Option<&str>) -> Result<Vec<ApprovalView>, MessagingError> {
    let status = status.unwrap_or("pending");
    if !["pending", "approved", "denied", "revoked"].contains(&status) {
        return Err(MessagingError::Invalid("status must be pending, approved, denied or revoked".into()));
    }
    let rows = crate::db::query_as::<ApprovalRow>(&format!(
        "SELECT {APPROVAL_COLUMNS} FROM messaging_approvals WHERE agent_id = $1 AND status = $2 \
         ORDER BY created_at DESC, id DESC LIMIT 500"
    ))
    .bind(agent_id)
    .bind(status)
    .fetch_all(&app.db.read)
    .await?;
    let mut views = Vec::new();
    for r in rows {
        let held = crate::db::query_scalar::<i64>(
            "SELECT COUNT(*) FROM messages WHERE recipient_agent_id = $1 AND from_key = $2 AND status = 'held'",
        )
        .bind(agent_id)
        .bind(r.public_key.as_str())
        .fetch_one(&app.db.read)
        .await?;
        views.push(ApprovalView {
            held,
            created_at: rfc3339(r.created_at),
            decided_at: r.decided_at.map(rfc3339),
            id: r.id,
            public_key: r.public_key,
            address: r.address,
            status: r.status,
        });
    }
    Ok(views)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// `approve` or `deny`.
    pub decision: String,
}

/// Approves (the sender's held messages are delivered, in order, and its key approved) or denies
/// (they are rejected) a pending first contact.
pub async fn decide(app: &App, agent_id: &str, id: &str, decision: &str) -> Result<Value, MessagingError> {
    let approve = match decision {
        "approve" => true,
        "deny" => false,
        _ => return Err(MessagingError::Invalid("decision must be approve or deny".into())),
    };
    let delivered = transaction!(app.db, |c| async move {
        let row = approval_in(&mut *c, agent_id, id).await?;
        if row.status != "pending" {
            return Err(MessagingError::AlreadyDecided(row.status));
        }
        let to = if approve { "approved" } else { "denied" };
        move_approval(&mut *c, id, "pending", to).await?;
        let held = crate::db::query_as::<MessageRow>(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE recipient_agent_id = $1 AND from_key = $2 \
             AND status = 'held' ORDER BY created_at, id"
        ))
        .bind(agent_id)
        .bind(row.public_key.as_str())
        .fetch_all(&mut *c)
        .await?;
        if !approve {
            crate::db::query(
                "UPDATE messages SET status = 'rejected' WHERE recipient_agent_id = $1 AND from_key = $2 AND status = 'held'",
            )
            .bind(agent_id)
            .bind(row.public_key.as_str())
            .execute(&mut *c)
            .await?;
            return Ok((0, false));
        }
        peers::add_rule(&mut *c, agent_id, "approve", Some(&row.public_key), None).await?;
        let mut handled = false;
        for mut m in held.iter().cloned() {
            let seq = store::next_inbox_seq(&mut *c, agent_id).await?;
            crate::db::query("UPDATE messages SET status = 'delivered', inbox_seq = $1 WHERE id = $2")
                .bind(seq)
                .bind(m.id.as_str())
                .execute(&mut *c)
                .await?;
            (m.inbox_seq, m.status) = (Some(seq), "delivered".into());
            handled |= dispatch::enqueue_in(&mut *c, &m).await?;
        }
        Ok::<_, MessagingError>((held.len(), handled))
    })?;
    let (count, handled) = delivered;
    if count > 0 {
        app.inboxes.wake(agent_id);
    }
    if handled {
        app.jobs_due.notify_one();
    }
    Ok(json!({"id": id, "status": if approve { "approved" } else { "denied" }, "delivered": count}))
}

/// Takes back an approval: the sender's key is no longer approved.
pub async fn revoke(app: &App, agent_id: &str, id: &str) -> Result<Value, MessagingError> {
    transaction!(app.db, |c| async move {
        let row = approval_in(&mut *c, agent_id, id).await?;
        if row.status != "approved" {
            return Err(MessagingError::AlreadyDecided(row.status));
        }
        move_approval(&mut *c, id, "approved", "revoked").await?;
        peers::remove_rule(c, agent_id, "approve", Some(&row.public_key), None).await?;
        Ok::<_, MessagingError>(())
    })?;
    Ok(json!({"id": id, "status": "revoked"}))
}

async fn approval_in(c: &mut crate::db::Conn, agent_id: &str, id: &str) -> Result<ApprovalRow, MessagingError> {
    let row = crate::db::query_as::<ApprovalRow>(&format!(
        "SELECT {APPROVAL_COLUMNS} FROM messaging_approvals WHERE id = $1 AND agent_id = $2"
    ))
    .bind(id)
    .bind(agent_id)
    .fetch_optional(c)
    .await?;
    row.ok_or(MessagingError::NotFound("approval"))
}

async fn move_approval(c: &mut crate::db::Conn, id: &str, from: &str, to: &str) -> Result<(), MessagingError> {
    let done =
        crate::db::query("UPDATE messaging_approvals SET status = $1, decided_at = $2 WHERE id = $3 AND status = $4")
            .bind(to)
            .bind(now_ms())
            .bind(id)
            .bind(from)
            .execute(c)
            .await?;
    if done.rows_affected() == 0 {
        return Err(MessagingError::Conflict("the approval was decided by another request at the same time"));
    }
    Ok(())
}

/// The agent's messaging settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagingConfig {
    pub address: String,
    pub public_key: String,
    /// `open`, `approval`, `allowlist` or `closed`.
    pub connection_mode: String,
    /// The host's limit on a message body, in bytes.
    pub max_message_size: u64,
    /// Whether agents on other stacks reach this agent over A2A.
    pub a2a_enabled: bool,
    /// Its A2A card, when A2A is on.
    pub a2a_card_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigChange {
    pub connection_mode: Option<String>,
    /// Turns the agent's A2A card and endpoint on or off.
    pub a2a_enabled: Option<bool>,
}

pub async fn config(app: &App, agent_id: &str) -> Result<MessagingConfig, MessagingError> {
    let me = service::me(app, agent_id).await?;
    let a2a_enabled = crate::a2a::store::enabled(&app.db, agent_id).await?;
    let handle = match &me.address {
        Address::Agent { handle, .. } => handle.as_str(),
        Address::A2a(_) => "",
    };
    let card = format!("{}/a2a/{handle}/.well-known/agent-card.json", app.public_url.get().trim_end_matches('/'));
    Ok(MessagingConfig {
        address: me.address.to_string(),
        public_key: me.public_key,
        connection_mode: me.connection_mode,
        max_message_size: app.config.messaging.messaging_max_message_bytes,
        a2a_enabled,
        a2a_card_url: a2a_enabled.then_some(card),
    })
}

pub async fn change_config(app: &App, agent_id: &str, change: ConfigChange) -> Result<MessagingConfig, MessagingError> {
    if let Some(mode) = &change.connection_mode {
        let mode: Mode = mode.parse().map_err(|_| {
            MessagingError::InvalidConfig("connection_mode must be open, approval, allowlist or closed".into())
        })?;
        service::me(app, agent_id).await?;
        transaction!(app.db, |c| async move {
            crate::db::query("UPDATE messaging_identities SET connection_mode = $1 WHERE agent_id = $2")
                .bind(mode.as_str())
                .bind(agent_id)
                .execute(c)
                .await
        })?;
    }
    if let Some(on) = change.a2a_enabled {
        service::me(app, agent_id).await?;
        transaction!(app.db, |c| async move { crate::a2a::store::set_enabled_in(c, agent_id, on, now_ms()).await })?;
    }
    config(app, agent_id).await
}
