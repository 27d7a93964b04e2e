//! Sending and reading messages. A send is checked whole before anything is delivered (every
//! address, the body's size, the thread, the sender's policies for each recipient), then written
//! for every recipient in one transaction, signed by the sender's key: a recipient on this host
//! gets it at its inbox's next position (or held for its approval, as its rules decide), one on
//! another host gets it queued for delivery (`federation`). A thread takes messages from its
//! participants only, and none once closed.

use serde_json::json;

use super::identity::{self, Identity};
use super::live::StreamFilter;
use super::model::{check_content_type, valid_id, Address, MessageRow, NewMessage, Sent};
use super::peers::{self, Admission};
use super::store::{self, HistoryFilter};
use super::{dispatch, MessagingError};
use crate::db::{new_id, now_ms, Conn};
use crate::guardrails::enforce::{clear, Cleared, HostAction};
use crate::state::App;
use crate::transaction;

/// What a message's sealed `a2a_auth` is sealed under.
pub(super) const A2A_AUTH_CONTEXT: &str = "messaging:a2a-auth";

/// A recipient on this host: its address, agent and key.
pub(super) struct Local {
    pub(super) address: Address,
    pub(super) agent_id: String,
    pub(super) public_key: String,
}

/// The checked parts of a send.
struct Checked {
    recipients: Vec<Address>,
    body: String,
    content_type: String,
    thread_id: Option<String>,
    reply_to: Option<String>,
}

fn check(app: &App, req: &NewMessage) -> Result<Checked, MessagingError> {
    let max = app.config.messaging.messaging_max_recipients as usize;
    let mut recipients = Vec::new();
    for text in req.to.list() {
        let address = Address::parse(text.trim())?;
        if !recipients.contains(&address) {
            recipients.push(address);
        }
    }
    if recipients.is_empty() || recipients.len() > max {
        return Err(MessagingError::Invalid(format!("to must name 1 to {max} addresses")));
    }
    if !req.body.is_object() {
        return Err(MessagingError::Invalid(r#"body must be a JSON object, such as {"text": "hello"}"#.into()));
    }
    let body = req.body.to_string();
    let limit = app.config.messaging.messaging_max_message_bytes;
    if body.len() as u64 > limit {
        return Err(MessagingError::TooLarge(body.len(), limit));
    }
    let content_type = req.content_type.as_deref().map(str::trim).unwrap_or("text/plain").to_string();
    check_content_type(&content_type)?;
    let id_like = |field: &str, v: &Option<String>| match v.as_deref() {
        Some(v) if !valid_id(v) => {
            Err(MessagingError::Invalid(format!("{field} must be 1 to 100 letters, digits, -, _, . or :")))
        }
        _ => Ok(v.clone()),
    };
    Ok(Checked {
        recipients,
        body,
        content_type,
        thread_id: id_like("thread_id", &req.thread_id)?,
        reply_to: id_like("reply_to", &req.reply_to)?,
    })
}

/// Finds the agents the addresses name on this host, and (when `remote` may be reached) the
/// addresses on other Agora hosts and of A2A agents.
pub(super) async fn resolve(
    app: &App,
    recipients: Vec<Address>,
    remote: bool,
) -> Result<(Vec<Local>, Vec<Address>), MessagingError> {
    let here = identity::host_name(app);
    let (mut local, mut others) = (Vec::new(), Vec::new());
    for address in recipients {
        let handle = match &address {
            Address::Agent { host, handle } if *host == here => handle.clone(),
            Address::Agent { .. } if remote => {
                others.push(address);
                continue;
            }
            Address::Agent { .. } => {
                return Err(MessagingError::Unreachable(format!(
                    "{address} is on another host: this needs a local agent"
                )))
            }
            Address::A2a(url) if url.starts_with("http://") && !app.config.access.allow_insecure_urls => {
                return Err(MessagingError::InvalidAddress(format!(
                    "{url}: A2A agents are reached over https:// (http:// only where the host allows insecure URLs)"
                )))
            }
            Address::A2a(_) if remote => {
                others.push(address);
                continue;
            }
            Address::A2a(url) => {
                return Err(MessagingError::A2aSendFailed(format!("{url} is an A2A agent: this needs a local agent")))
            }
        };
        let agent_id = store::agent_by_handle(&app.db, &handle).await?;
        let agent_id = agent_id.ok_or_else(|| MessagingError::NoSuchAgent(address.to_string()))?;
        let public_key = identity::ensure(app, &agent_id, &handle).await?.public_key;
        local.push(Local { address, agent_id, public_key });
    }
    Ok((local, others))
}

/// The sender's identity: the agent behind the key.
pub async fn me(app: &App, agent_id: &str) -> Result<Identity, MessagingError> {
    let agent = crate::agents::store::get(&app.db, agent_id).await?.ok_or(MessagingError::NotFound("agent"))?;
    identity::ensure(app, agent_id, &agent.slug).await
}

/// Sends a message from `sender_id` to every address of `req.to`.
pub async fn send(app: &App, sender_id: &str, req: NewMessage) -> Result<Sent, MessagingError> {
    send_from(app, sender_id, req, None).await
}

/// `send`, by one of the sender's handlers when `handler` names it.
pub async fn send_from(
    app: &App,
    sender_id: &str,
    req: NewMessage,
    handler: Option<&str>,
) -> Result<Sent, MessagingError> {
    let checked = check(app, &req)?;
    let me = me(app, sender_id).await?;
    let (recipients, remote) = resolve(app, checked.recipients.clone(), true).await?;
    let mut cleared_all = Vec::new();
    for to in recipients.iter().map(|r| &r.address).chain(&remote) {
        cleared_all.push(cleared(app, sender_id, to, &checked.content_type).await?);
    }
    let thread_id = checked.thread_id.clone().unwrap_or_else(new_id);
    let sealed_auth = req.a2a_auth.as_deref().map(|token| app.sealer.seal(token.as_bytes(), A2A_AUTH_CONTEXT));
    let auth = sealed_auth.as_deref();
    let from = me.address.to_string();
    let at = now_ms();
    let (t, f, m, c, r, far, audits) = (&thread_id, &from, &me, &checked, &recipients, &remote, &cleared_all);
    let close = req.close_thread;
    let delivered = transaction!(app.db, |tx| async move {
        for audit in audits {
            audit.record_in(&mut *tx);
        }
        enter_thread(&mut *tx, t, f, at).await?;
        let mut rows = Vec::new();
        let envelope =
            Envelope { thread_id: t, reply_to: c.reply_to.as_deref(), content_type: &c.content_type, handler, at };
        for to in r {
            rows.push(deliver_in(&mut *tx, m, to, &envelope, c.body.clone()).await?);
        }
        for to in far {
            rows.push(super::federation::queue_in(&mut *tx, m, to, &envelope, c.body.clone(), auth).await?);
        }
        let (mut handled, mut answered) = (false, Vec::new());
        for row in rows.iter().filter(|r| r.inbox_seq.is_some()) {
            handled |= dispatch::enqueue_in(&mut *tx, row).await?;
            answered.extend(crate::a2a::service::answered_in(&mut *tx, row).await?);
        }
        if close {
            store::close_thread(&mut *tx, t, f, at).await?;
        }
        Ok::<_, MessagingError>((rows, handled, answered))
    });
    let (rows, handled, answered) = match delivered {
        Ok(done) => done,
        Err(e) => {
            for audit in &cleared_all {
                audit.record_after_failure(app).await;
            }
            return Err(e);
        }
    };
    for row in rows.iter().filter(|r| r.inbox_seq.is_some()) {
        app.inboxes.wake(row.recipient_agent_id.as_deref().unwrap_or_default());
    }
    for task in &answered {
        app.a2a_tasks.wake(task);
    }
    if handled || !remote.is_empty() || !answered.is_empty() {
        app.jobs_due.notify_one();
    }
    let status = if rows.iter().any(|r| r.status == "held") {
        "pending_approval"
    } else if rows.iter().any(|r| r.status == "queued") {
        "queued"
    } else {
        "delivered"
    };
    Ok(Sent {
        id: rows[0].id.clone(),
        thread_id,
        status: status.into(),
        thread_closed: close,
        messages: rows.iter().map(MessageRow::view).collect(),
    })
}

/// `sent` with its messages as they are now (a remote delivery may have moved on).
pub async fn refresh(app: &App, mut sent: Sent) -> Result<Sent, MessagingError> {
    for m in sent.messages.iter_mut() {
        m.status = store::status(&app.db, &m.id).await?;
    }
    let all = |s: &str| sent.messages.iter().all(|m| m.status == s);
    if all("delivered") {
        sent.status = "delivered".into();
    } else if sent.messages.iter().any(|m| m.status == "failed") {
        sent.status = "failed".into();
    }
    Ok(sent)
}

/// The sender's policies on a message to `to`, the decision recorded now.
pub(super) async fn allowed(
    app: &App,
    sender_id: &str,
    to: &Address,
    content_type: &str,
) -> Result<(), MessagingError> {
    let cleared = cleared(app, sender_id, to, content_type).await?;
    Ok(cleared.record_alone(app).await?)
}

/// The sender's policies on a message to `to`; an allowed message's audit event is for the
/// caller to record in the transaction that delivers it.
async fn cleared(app: &App, sender_id: &str, to: &Address, content_type: &str) -> Result<Cleared, MessagingError> {
    let action = HostAction {
        tool_ref: "agora.message",
        action_type: "communication",
        access_level: None,
        operation: Some(to.to_string()),
        amount_cents: None,
        approval_id: None,
        metadata: Some(json!({"to": to.to_string(), "content_type": content_type})),
    };
    Ok(clear(app, sender_id, action).await?)
}

/// Checks that `from` may write in thread `t` (a participant, and open), making it when new.
pub(super) async fn enter_thread(tx: &mut Conn, t: &str, from: &str, at: i64) -> Result<(), MessagingError> {
    let state = store::thread_state(&mut *tx, t, from).await?;
    if state.exists && !state.participant {
        return Err(MessagingError::NotFound("thread"));
    }
    if state.closed {
        return Err(MessagingError::ThreadClosed(t.to_string()));
    }
    if !state.exists {
        store::insert_thread(tx, t, at).await?;
    }
    Ok(())
}

/// What every copy of a message shares.
pub(super) struct Envelope<'a> {
    pub(super) thread_id: &'a str,
    pub(super) reply_to: Option<&'a str>,
    pub(super) content_type: &'a str,
    pub(super) handler: Option<&'a str>,
    pub(super) at: i64,
}

impl Envelope<'_> {
    /// A copy of the message from `me` to `to` (an agent of this host when `recipient` names
    /// it), signed.
    pub(super) fn signed(&self, me: &Identity, to: &Address, recipient: Option<&str>, body: String) -> MessageRow {
        let mut row = MessageRow {
            id: new_id(),
            thread_id: self.thread_id.to_string(),
            from_address: me.address.to_string(),
            from_key: me.public_key.clone(),
            to_address: to.to_string(),
            sender_agent_id: Some(me.agent_id.clone()),
            recipient_agent_id: recipient.map(str::to_string),
            inbox_seq: None,
            reply_to: self.reply_to.map(str::to_string),
            content_type: self.content_type.to_string(),
            body,
            signature: String::new(),
            status: "delivered".into(),
            sent_by_handler: self.handler.map(str::to_string),
            created_at: self.at,
        };
        row.signature = me.sign(&row.signed_bytes());
        row
    }
}

/// Signs and stores `to`'s copy: at its next inbox position, or held, as its rules decide.
pub(super) async fn deliver_in(
    tx: &mut Conn,
    me: &Identity,
    to: &Local,
    e: &Envelope<'_>,
    body: String,
) -> Result<MessageRow, MessagingError> {
    let mut row = e.signed(me, &to.address, Some(&to.agent_id), body);
    admit_in(&mut *tx, &mut row, &to.public_key).await?;
    store::insert_message(tx, &row).await?;
    Ok(row)
}

/// Decides `row` for its local recipient by the recipient's rules: at its inbox's next position,
/// or held; logged for the recipient.
pub(super) async fn admit_in(tx: &mut Conn, row: &mut MessageRow, recipient_key: &str) -> Result<(), MessagingError> {
    let recipient = row.recipient_agent_id.clone().unwrap_or_default();
    match peers::admit(&mut *tx, row, recipient_key).await? {
        Admission::Deliver => {
            row.inbox_seq = Some(store::next_inbox_seq(&mut *tx, &recipient).await?);
            let line = format!("message {} from {}", row.id, row.from_address);
            super::logs::record_in(tx, &recipient, "info", "message.delivered", &line).await?;
        }
        Admission::Hold(approval) => {
            row.status = "held".into();
            let line = format!("message {} from {} held for approval {approval}", row.id, row.from_address);
            super::logs::record_in(tx, &recipient, "info", "message.held", &line).await?;
        }
    }
    Ok(())
}

/// Closes a thread the agent is in.
pub async fn close(app: &App, agent_id: &str, thread_id: &str) -> Result<(), MessagingError> {
    let me = me(app, agent_id).await?.address.to_string();
    let m = &me;
    transaction!(app.db, |c| async move {
        let state = store::thread_state(&mut *c, thread_id, m).await?;
        if !state.participant {
            return Err(MessagingError::NotFound("thread"));
        }
        store::close_thread(c, thread_id, m, now_ms()).await?;
        Ok::<_, MessagingError>(())
    })
}

/// What the history shows: messages the agent sent or received.
pub struct HistoryQuery {
    pub limit: i64,
    pub from: Option<String>,
    pub since: Option<i64>,
    pub thread_id: Option<String>,
    pub cursor: Option<String>,
}

pub async fn history(app: &App, agent_id: &str, q: HistoryQuery) -> Result<(Vec<MessageRow>, bool), MessagingError> {
    if !(1..=500).contains(&q.limit) {
        return Err(MessagingError::Invalid("limit must be 1 to 500".into()));
    }
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(crate::db::page::decode_cursor(c).map_err(|e| MessagingError::Invalid(e.to_string()))?),
        None => None,
    };
    let filter = HistoryFilter {
        from: q.from.as_deref(),
        thread_id: q.thread_id.as_deref(),
        since: q.since,
        after,
        limit: q.limit + 1,
    };
    let mut rows = store::history(&app.db, agent_id, &filter).await?;
    let more = rows.len() as i64 > q.limit;
    rows.truncate(q.limit as usize);
    Ok((rows, more))
}

/// Checks a stream's filters.
pub fn stream_filter(from: Option<String>, kind: Option<String>) -> Result<StreamFilter, MessagingError> {
    if let Some(from) = &from {
        Address::parse(from)?;
    }
    Ok(StreamFilter { from, kind })
}
