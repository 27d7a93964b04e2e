//! Messages between Agora hosts. A message to `toq://<other host>/<handle>` is stored `queued`
//! and delivered by a scheduler job (`messaging.deliver`, retried with backoff) as a signed
//! envelope: `POST <scheme>://<host>/federation/v1/messages`. The receiving host takes it only
//! if the envelope is fresh (within `messaging_federation_window_ms`), its id is new (a repeat
//! is acknowledged again, not stored twice), and its signature verifies with the key the
//! sender's host publishes on the sender's card (`GET /federation/v1/agents/{handle}/card`,
//! fetched through the outbound guard and kept a few minutes). A sender whose key changed since
//! the receiver last saw it is accepted only if the card's rotation statements lead, each signed
//! by the key before, from the key it knew to the new one; its rules follow it to the new key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::identity::{self, Identity};
use super::model::{valid_id, Address, MessageRow};
use super::service::{Envelope as Shared, Local};
use super::{dispatch, store, MessagingError};
use crate::db::{now_ms, Conn};
use crate::scheduler::{Backoff, KindSpec, Registry};
use crate::state::App;
use crate::transaction;

pub const DELIVER: KindSpec = KindSpec::once("messaging.deliver")
    .timeout(Duration::from_secs(60))
    .attempts(10, Backoff::exponential(Duration::from_secs(1), 4, Duration::from_secs(600)));

/// How long a fetched card is trusted before it is fetched again.
const CARD_TTL: Duration = Duration::from_secs(300);

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(DELIVER, |app, job| async move { deliver(&app, &job.payload, job.attempts >= job.max_attempts).await });
}

/// A message as it travels between hosts: the signed fields and the signature.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub id: String,
    pub thread_id: String,
    pub from: String,
    pub from_key: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub content_type: String,
    /// The body's JSON text, as signed.
    pub body: String,
    pub created_ms: i64,
    pub signature: String,
}

impl Envelope {
    fn of(m: &MessageRow) -> Envelope {
        Envelope {
            id: m.id.clone(),
            thread_id: m.thread_id.clone(),
            from: m.from_address.clone(),
            from_key: m.from_key.clone(),
            to: m.to_address.clone(),
            reply_to: m.reply_to.clone(),
            content_type: m.content_type.clone(),
            body: m.body.clone(),
            created_ms: m.created_at,
            signature: m.signature.clone(),
        }
    }

    fn row(&self, recipient: &str) -> MessageRow {
        MessageRow {
            id: self.id.clone(),
            thread_id: self.thread_id.clone(),
            from_address: self.from.clone(),
            from_key: self.from_key.clone(),
            to_address: self.to.clone(),
            sender_agent_id: None,
            recipient_agent_id: Some(recipient.to_string()),
            inbox_seq: None,
            reply_to: self.reply_to.clone(),
            content_type: self.content_type.clone(),
            body: self.body.clone(),
            signature: self.signature.clone(),
            status: "delivered".into(),
            sent_by_handler: None,
            created_at: self.created_ms,
        }
    }
}

/// Stores a message to another host, `queued`, with its delivery job.
pub(super) async fn queue_in(
    tx: &mut Conn,
    me: &Identity,
    to: &Address,
    e: &Shared<'_>,
    body: String,
    sealed_auth: Option<&str>,
) -> Result<MessageRow, MessagingError> {
    let mut row = e.signed(me, to, None, body);
    row.status = "queued".into();
    store::insert_message(&mut *tx, &row).await?;
    let payload = json!({"message_id": row.id, "sealed_auth": sealed_auth});
    crate::scheduler::enqueue(tx, DELIVER, Some(&row.id), &payload, None).await?;
    Ok(row)
}

pub(super) fn base_url(app: &App, host: &str) -> String {
    format!("{}://{host}", app.config.messaging.messaging_federation_scheme)
}

async fn set_status(app: &App, id: &str, status: &str) -> Result<(), sqlx::Error> {
    transaction!(app.db, |c| async move {
        crate::db::query("UPDATE messages SET status = $1 WHERE id = $2 AND status = 'queued'")
            .bind(status)
            .bind(id)
            .execute(c)
            .await
            .map(drop)
    })
}

/// One attempt to hand a queued message to its host. A refusal (4xx) ends it `failed`; a host
/// that cannot be reached or fails (5xx) is tried again, until the last attempt.
async fn deliver(app: &App, payload: &Value, last: bool) -> Result<(), String> {
    let id = payload["message_id"].as_str().ok_or("no message_id in the job")?;
    let row = store::message(&app.db, id).await.map_err(|e| e.to_string())?;
    let Some(row) = row.filter(|r| r.status == "queued") else { return Ok(()) };
    let outcome = match Address::parse(&row.to_address) {
        Ok(Address::Agent { host, .. }) => post(app, &host, &Envelope::of(&row)).await,
        Ok(Address::A2a(_)) => send_a2a(app, &row, payload["sealed_auth"].as_str()).await,
        Err(_) => Err(Failure::Refused("the address does not parse".into())),
    };
    let status = match &outcome {
        Ok(()) => "delivered",
        Err(Failure::Refused(why)) => {
            tracing::info!(message = %id, "the receiving host refused the message: {why}");
            "failed"
        }
        Err(Failure::Retry(why)) if last => {
            tracing::warn!(message = %id, "giving up on the message: {why}");
            "failed"
        }
        Err(Failure::Retry(why)) => return Err(why.clone()),
    };
    set_status(app, id, status).await.map_err(|e| e.to_string())?;
    if let Some(sender) = &row.sender_agent_id {
        let (level, line) = match &outcome {
            Ok(()) => ("info", format!("message {id} delivered to {}", row.to_address)),
            Err(Failure::Refused(why) | Failure::Retry(why)) => {
                ("warn", format!("message {id} to {} failed: {why}", row.to_address))
            }
        };
        super::logs::record(app, sender, level, &format!("remote.{status}"), &line).await;
    }
    Ok(())
}

use crate::a2a::outbound::Failure;

/// Sends to an A2A agent; its answer comes back to the sender in the thread.
async fn send_a2a(app: &App, row: &MessageRow, sealed_auth: Option<&str>) -> Result<(), Failure> {
    let auth = match sealed_auth {
        Some(sealed) => {
            let opened = app.sealer.open(sealed, super::service::A2A_AUTH_CONTEXT);
            let token = opened.map_err(|e| Failure::Refused(format!("the a2a_auth token cannot be opened: {e}")))?;
            Some(String::from_utf8_lossy(&token).into_owned())
        }
        None => None,
    };
    let answer = crate::a2a::outbound::send(app, row, auth.as_deref()).await?;
    let Some(text) = answer.text else { return Ok(()) };
    let (Some(sender), at) = (row.sender_agent_id.clone(), now_ms()) else { return Ok(()) };
    let mut body = json!({"text": text});
    if let (Some(task), Some(state)) = (&answer.task_id, &answer.state) {
        body["a2a"] = json!({"task_id": task, "state": state});
    }
    let reply = MessageRow {
        id: crate::db::new_id(),
        thread_id: row.thread_id.clone(),
        from_address: row.to_address.clone(),
        from_key: String::new(),
        to_address: row.from_address.clone(),
        sender_agent_id: None,
        recipient_agent_id: Some(sender.clone()),
        inbox_seq: None,
        reply_to: Some(row.id.clone()),
        content_type: "text/plain".into(),
        body: body.to_string(),
        signature: String::new(),
        status: "delivered".into(),
        sent_by_handler: None,
        created_at: at,
    };
    let (r, s) = (&reply, &sender);
    let stored = transaction!(app.db, |c| async move {
        let mut row = r.clone();
        row.inbox_seq = Some(store::next_inbox_seq(&mut *c, s).await?);
        store::insert_message(&mut *c, &row).await?;
        dispatch::enqueue_in(&mut *c, &row).await
    });
    match stored {
        Ok(handled) => {
            app.inboxes.wake(&sender);
            if handled {
                app.jobs_due.notify_one();
            }
            Ok(())
        }
        // The agent took the message: sending it again would repeat it, so the answer is logged.
        Err(e) => {
            tracing::error!(message = %row.id, "an A2A agent's answer was not stored: {e}");
            Ok(())
        }
    }
}

async fn post(app: &App, host: &str, envelope: &Envelope) -> Result<(), Failure> {
    let url = url::Url::parse(&format!("{}/federation/v1/messages", base_url(app, host)))
        .map_err(|e| Failure::Refused(format!("no URL for host {host}: {e}")))?;
    let client = app.outbound.client(&url).await.map_err(|e| Failure::Refused(format!("{e:?}")))?;
    let resp = client
        .post(url)
        .timeout(Duration::from_secs(15))
        .json(envelope)
        .send()
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    match status.as_u16() {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(Failure::Retry(format!("{status}: {text}"))),
        _ => Err(Failure::Refused(format!("{status}: {text}"))),
    }
}

/// The cards of agents on other hosts, kept `CARD_TTL`.
#[derive(Default)]
pub struct Cards {
    known: DashMap<String, (Instant, Arc<Value>)>,
}

async fn fetch_card(app: &App, address: &str, fresh: bool) -> Result<Arc<Value>, MessagingError> {
    if !fresh {
        if let Some(entry) = app.cards.known.get(address).filter(|e| e.0.elapsed() < CARD_TTL) {
            return Ok(entry.1.clone());
        }
    }
    let Ok(Address::Agent { host, handle }) = Address::parse(address) else {
        return Err(MessagingError::InvalidAddress(format!("{address} is not an agent's address")));
    };
    let unreachable = |why: String| MessagingError::Unreachable(format!("the card of {address}: {why}"));
    let url = url::Url::parse(&format!("{}/federation/v1/agents/{handle}/card", base_url(app, &host)))
        .map_err(|e| unreachable(e.to_string()))?;
    let client = app.outbound.client(&url).await.map_err(|e| unreachable(format!("{e:?}")))?;
    let resp = client.get(url).timeout(Duration::from_secs(10)).send().await.map_err(|e| unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(unreachable(format!("its host answered {}", resp.status())));
    }
    let card: Value = resp.json().await.map_err(|e| unreachable(e.to_string()))?;
    if card["address"] != address {
        return Err(unreachable("the card is another agent's".into()));
    }
    let card = Arc::new(card);
    app.cards.known.insert(address.to_string(), (Instant::now(), card.clone()));
    Ok(card)
}

/// Whether the card's rotation statements lead from `known` to `current`, each signed by the key
/// before it.
fn chain_leads(card: &Value, known: &str, current: &str) -> bool {
    let mut key = known.to_string();
    for r in card["rotations"].as_array().into_iter().flatten() {
        let (old, new, statement, signature) = (
            r["old_key"].as_str().unwrap_or_default(),
            r["new_key"].as_str().unwrap_or_default(),
            r["statement"].as_str().unwrap_or_default(),
            r["signature"].as_str().unwrap_or_default(),
        );
        let said: Value = serde_json::from_str(statement).unwrap_or_default();
        let consistent = said["old_key"] == old && said["new_key"] == new && said["address"] == card["address"];
        if old == key && consistent && identity::verify(old, statement.as_bytes(), signature) {
            key = new.to_string();
        }
    }
    key == current
}

/// The handle an envelope from another host is for: `to` must be on this host, `from` not.
pub(super) fn arriving(app: &App, to: &str, from: &str) -> Result<String, MessagingError> {
    let here = identity::host_name(app);
    let (Address::Agent { host, handle }, Address::Agent { host: from_host, .. }) =
        (Address::parse(to)?, Address::parse(from)?)
    else {
        return Err(MessagingError::InvalidAddress("to and from must be toq:// addresses".into()));
    };
    if host != here || from_host == here {
        return Err(MessagingError::InvalidAddress(format!("{to} is not on this host, or {from} is")));
    }
    Ok(handle)
}

/// Takes an envelope from another host: `delivered`, `held` (waiting for the recipient's
/// approval) or `duplicate` (already taken).
pub async fn receive(app: &App, e: Envelope) -> Result<&'static str, MessagingError> {
    let window = app.config.messaging.messaging_federation_window_ms;
    if now_ms().abs_diff(e.created_ms) > window {
        return Err(MessagingError::StaleEnvelope(window as i64));
    }
    if !valid_id(&e.id) || !valid_id(&e.thread_id) || e.reply_to.as_deref().is_some_and(|r| !valid_id(r)) {
        return Err(MessagingError::Invalid(
            "id, thread_id and reply_to must be 1 to 100 letters, digits, -, _, . or :".into(),
        ));
    }
    if e.content_type.is_empty() || e.content_type.len() > 100 || e.signature.len() > 200 {
        return Err(MessagingError::Invalid("content_type and signature must be present and short".into()));
    }
    let handle = arriving(app, &e.to, &e.from)?;
    if e.body.len() as u64 > app.config.messaging.messaging_max_message_bytes
        || !serde_json::from_str::<Value>(&e.body).is_ok_and(|b| b.is_object())
    {
        return Err(MessagingError::Invalid("body must be a JSON object within the size limit".into()));
    }
    let recipient = store::agent_by_handle(&app.db, &handle).await?.ok_or(MessagingError::NoSuchAgent(e.to.clone()))?;
    let exists = crate::db::query_scalar::<i64>("SELECT COUNT(*) FROM messages WHERE id = $1")
        .bind(e.id.as_str())
        .fetch_one(&app.db.read)
        .await?;
    if exists > 0 {
        return Ok("duplicate");
    }
    let me = identity::ensure(app, &recipient, &handle).await?;
    let row = e.row(&recipient);
    let bytes = row.signed_bytes();
    let signed = Signed { from: &e.from, from_key: &e.from_key, bytes: &bytes, signature: &e.signature };
    verify_sender(app, signed).await?;
    let to = Local { address: Address::parse(&e.to)?, agent_id: recipient.clone(), public_key: me.public_key };
    let (r, t) = (&row, &to);
    let (status, handled) = transaction!(app.db, |c| async move {
        super::service::enter_thread(&mut *c, &r.thread_id, &r.from_address, now_ms()).await?;
        let mut row = r.clone();
        super::service::admit_in(&mut *c, &mut row, &t.public_key).await?;
        store::insert_message(&mut *c, &row).await?;
        let handled = row.inbox_seq.is_some() && dispatch::enqueue_in(&mut *c, &row).await?;
        Ok::<_, MessagingError>((if row.inbox_seq.is_some() { "delivered" } else { "held" }, handled))
    })?;
    if status == "delivered" {
        app.inboxes.wake(&recipient);
    }
    if handled {
        app.jobs_due.notify_one();
    }
    Ok(status)
}

/// What a sender signed, and who says it did: the parts an envelope of any kind is checked by.
pub(super) struct Signed<'a> {
    pub(super) from: &'a str,
    pub(super) from_key: &'a str,
    pub(super) bytes: &'a [u8],
    pub(super) signature: &'a str,
}

/// The envelope's signature, by the key the sender's card names now; a key that changed since
/// this host last saw the sender must descend from the old one.
pub(super) async fn verify_sender(app: &App, signed: Signed<'_>) -> Result<(), MessagingError> {
    let e = signed;
    let mut card = fetch_card(app, e.from, false).await?;
    if card["public_key"] != e.from_key {
        card = fetch_card(app, e.from, true).await?; // it may have rotated since
    }
    if card["public_key"] != e.from_key {
        return Err(MessagingError::InvalidSignature("the sender's card names another key".into()));
    }
    if !identity::verify(e.from_key, e.bytes, e.signature) {
        return Err(MessagingError::InvalidSignature("the signature does not verify".into()));
    }
    let known: Vec<String> = crate::db::query_scalar::<String>(
        "SELECT DISTINCT public_key FROM messaging_peers WHERE address = $1 AND public_key <> $2",
    )
    .bind(e.from)
    .bind(e.from_key)
    .fetch_all(&app.db.read)
    .await?;
    for old in known {
        if !chain_leads(&card, &old, e.from_key) {
            return Err(MessagingError::InvalidSignature(format!(
                "{} changed keys without a rotation statement signed by the key this host knew",
                e.from
            )));
        }
        let (o, n) = (&old, e.from_key);
        transaction!(app.db, |c| async move { identity::follow_rotation(c, o, n).await })?;
    }
    Ok(())
}

/// An agent's card for other hosts: its address, key and rotations (public).
pub async fn public_card(app: &App, handle: &str) -> Result<Value, MessagingError> {
    let agent = store::agent_by_handle(&app.db, handle).await?.ok_or(MessagingError::NotFound("agent"))?;
    let card = identity::card(app, &agent).await?;
    Ok(json!({"address": card.address, "handle": card.handle, "name": card.name, "public_key": card.public_key,
              "protocol": card.protocol, "rotations": card.rotations}))
}

/// Reaches an agent's card: on this host, or on its own host (fetched now); its public key.
pub async fn ping(app: &App, address: &str) -> Result<Value, MessagingError> {
    let started = Instant::now();
    let Address::Agent { host, handle } = Address::parse(address.trim())? else {
        return Err(MessagingError::InvalidAddress("ping takes a toq:// address".into()));
    };
    let card = if host == identity::host_name(app) {
        Arc::new(public_card(app, &handle).await.map_err(|_| MessagingError::NoSuchAgent(address.to_string()))?)
    } else {
        fetch_card(app, &format!("toq://{host}/{handle}"), true).await?
    };
    Ok(json!({"address": card["address"], "public_key": card["public_key"],
              "latency_ms": started.elapsed().as_millis() as u64}))
}

/// Waits until the queued messages are delivered or failed, within `timeout`: false if not.
pub async fn wait_for(app: &App, ids: &[String], timeout: Duration) -> Result<bool, MessagingError> {
    let until = Instant::now() + timeout;
    loop {
        let mut waiting = 0;
        for id in ids {
            waiting += usize::from(store::status(&app.db, id).await? == "queued");
        }
        if waiting == 0 {
            return Ok(true);
        }
        if Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
