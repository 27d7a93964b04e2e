//! Who may write to an agent: its peers (every key it exchanged messages with), its rules (block
//! or approve a sender by key or address pattern), its connection mode and the approvals of
//! first contacts.
//!
//! A message is admitted in its delivery's transaction (`admit`): a sender a `block` rule names
//! is refused (`blocked`); then by the recipient's mode: `open` takes everyone else; `closed`
//! nobody; `allowlist` only senders an `approve` rule names; `approval` those, the senders the
//! agent wrote to first, and holds anyone else's messages until the agent decides the sender's
//! approval (approve: the held messages are delivered, in order; deny: they are rejected).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::MessageRow;
use super::MessagingError;
use crate::db::{new_id, now_ms, rfc3339, Conn, Db};

crate::stored_enum! {
    /// Who an agent takes messages from.
    pub enum Mode { Open => "open", Approval => "approval", Allowlist => "allowlist", Closed => "closed" }
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct RuleRow {
        pub id: String,
        pub action: String,
        pub public_key: Option<String>,
        pub from_pattern: Option<String>,
        pub created_at: i64,
    }
}

impl RuleRow {
    /// Whether the rule names the sender at `address` with `key`.
    pub fn names(&self, address: &str, key: &str) -> bool {
        match (&self.public_key, &self.from_pattern) {
            (Some(k), _) => k == key,
            (None, Some(pattern)) => match pattern.strip_suffix('*') {
                Some(prefix) => address.starts_with(prefix),
                None => pattern == address,
            },
            (None, None) => false,
        }
    }

    pub fn view(&self) -> RuleView {
        RuleView {
            id: self.id.clone(),
            key: self.public_key.clone(),
            from: self.from_pattern.clone(),
            created_at: rfc3339(self.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub key: Option<String>,
    pub from: Option<String>,
    pub created_at: String,
}

/// A rule's target, as toq takes it: `{"key": "ed25519:..."}` or `{"from": "toq://host/*"}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleTarget {
    pub key: Option<String>,
    pub from: Option<String>,
}

impl RuleTarget {
    pub fn check(&self) -> Result<(Option<&str>, Option<&str>), MessagingError> {
        match (self.key.as_deref(), self.from.as_deref()) {
            (Some(key), None) if super::identity::parse_key(key).is_some() => Ok((Some(key), None)),
            (Some(_), None) => Err(MessagingError::Invalid("key must be an ed25519:<base64> public key".into())),
            (None, Some(from)) if from.starts_with("toq://") || from.starts_with("https://") => {
                if from.len() > 300 || from.contains(char::is_whitespace) {
                    return Err(MessagingError::Invalid(
                        "from must be an address or pattern of at most 300 characters".into(),
                    ));
                }
                Ok((None, Some(from)))
            }
            (None, Some(_)) => {
                Err(MessagingError::Invalid("from must be a toq:// or https:// address, or one ending in *".into()))
            }
            _ => Err(MessagingError::Invalid(r#"give one of key ("ed25519:...") or from ("toq://host/*")"#.into())),
        }
    }
}

/// What happens to a message for the recipient.
pub enum Admission {
    Deliver,
    /// Held until the approval is decided.
    Hold(String),
}

pub async fn mode_in(c: &mut Conn, agent_id: &str) -> Result<Mode, sqlx::Error> {
    let mode =
        crate::db::query_scalar::<String>("SELECT connection_mode FROM messaging_identities WHERE agent_id = $1")
            .bind(agent_id)
            .fetch_optional(c)
            .await?;
    Ok(mode.and_then(|m| m.parse().ok()).unwrap_or(Mode::Open))
}

const RULES: &str = "SELECT id, action, public_key, from_pattern, created_at FROM messaging_rules \
    WHERE agent_id = $1 ORDER BY created_at, id";

async fn rules_in(c: &mut Conn, agent_id: &str) -> Result<Vec<RuleRow>, sqlx::Error> {
    crate::db::query_as::<RuleRow>(RULES).bind(agent_id).fetch_all(c).await
}

/// Decides whether `m` reaches its recipient now, later or never, and records both sides as
/// each other's peers.
pub async fn admit(c: &mut Conn, m: &MessageRow, recipient_key: &str) -> Result<Admission, MessagingError> {
    let Some(recipient) = m.recipient_agent_id.as_deref() else { return Ok(Admission::Deliver) };
    seen(&mut *c, recipient, &m.from_key, &m.from_address).await?;
    if let Some(sender) = &m.sender_agent_id {
        seen(&mut *c, sender, recipient_key, &m.to_address).await?;
    }
    let rules = rules_in(&mut *c, recipient).await?;
    let rule = |action: &str| rules.iter().any(|r| r.action == action && r.names(&m.from_address, &m.from_key));
    if rule("block") {
        return Err(MessagingError::Blocked(m.to_address.clone()));
    }
    let refused = |why: &str| Err(MessagingError::NotAccepted(format!("{} {why}", m.to_address)));
    match mode_in(&mut *c, recipient).await? {
        Mode::Open => Ok(Admission::Deliver),
        Mode::Closed => refused("accepts no messages"),
        Mode::Allowlist if rule("approve") => Ok(Admission::Deliver),
        Mode::Allowlist => refused("accepts messages from approved senders only"),
        Mode::Approval if rule("approve") || wrote_first(&mut *c, recipient, &m.from_address).await? => {
            Ok(Admission::Deliver)
        }
        Mode::Approval => Ok(Admission::Hold(pending_approval(c, recipient, &m.from_key, &m.from_address).await?)),
    }
}

/// Whether the agent wrote to `address` before: its answers are welcome.
async fn wrote_first(c: &mut Conn, agent_id: &str, address: &str) -> Result<bool, sqlx::Error> {
    let n = crate::db::query_scalar::<i64>(
        "SELECT COUNT(*) FROM messages WHERE sender_agent_id = $1 AND to_address = $2 AND status = 'delivered'",
    )
    .bind(agent_id)
    .bind(address)
    .fetch_one(c)
    .await?;
    Ok(n > 0)
}

async fn seen(c: &mut Conn, agent_id: &str, key: &str, address: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    crate::db::query(
        "INSERT INTO messaging_peers (agent_id, public_key, address, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (agent_id, public_key) DO UPDATE SET address = excluded.address, last_seen = excluded.last_seen",
    )
    .bind(agent_id)
    .bind(key)
    .bind(address)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

/// The sender's pending approval with the agent, opened now if there is none.
async fn pending_approval(c: &mut Conn, agent_id: &str, key: &str, address: &str) -> Result<String, sqlx::Error> {
    let open = crate::db::query_scalar::<String>(
        "SELECT id FROM messaging_approvals WHERE agent_id = $1 AND public_key = $2 AND status = 'pending'",
    )
    .bind(agent_id)
    .bind(key)
    .fetch_optional(&mut *c)
    .await?;
    if let Some(id) = open {
        return Ok(id);
    }
    let id = new_id();
    crate::db::query(
        "INSERT INTO messaging_approvals (id, agent_id, public_key, address, status, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5)",
    )
    .bind(&id)
    .bind(agent_id)
    .bind(key)
    .bind(address)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(id)
}

/// Adds a rule unless the same one exists.
pub async fn add_rule(
    c: &mut Conn,
    agent_id: &str,
    action: &str,
    key: Option<&str>,
    from: Option<&str>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO messaging_rules (id, agent_id, action, public_key, from_pattern, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(new_id())
    .bind(agent_id)
    .bind(action)
    .bind(key)
    .bind(from)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

/// Removes the rule; false when there was none.
pub async fn remove_rule(
    c: &mut Conn,
    agent_id: &str,
    action: &str,
    key: Option<&str>,
    from: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "DELETE FROM messaging_rules WHERE agent_id = $1 AND action = $2 \
         AND COALESCE(public_key, '') = $3 AND COALESCE(from_pattern, '') = $4",
    )
    .bind(agent_id)
    .bind(action)
    .bind(key.unwrap_or(""))
    .bind(from.unwrap_or(""))
    .execute(c)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn rules(db: &Db, agent_id: &str) -> Result<Vec<RuleRow>, sqlx::Error> {
    crate::db::query_as::<RuleRow>(RULES).bind(agent_id).fetch_all(&db.read).await
}
