//! Streams to agents on other Agora hosts. The sender's host keeps the stream
//! (`messaging_outbound_streams`) and hands each chunk to the recipient's host at once, signed by
//! the sender's key (`ChunkEnvelope`); the recipient's host checks it as it checks a message
//! (window, signature by the sender's card, the recipient's rules, which must deliver) and puts
//! it at the recipient's next inbox position (`messaging_inbound_chunks`), so the recipient's
//! event stream shows it live. A chunk the other host did not take is not added: the sender sends
//! it again (the same index; a chunk taken twice is kept once). The end goes as one signed
//! message through federation, queued and retried like any message to another host.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::federation::{self, Signed};
use super::identity::{self, Identity};
use super::model::{valid_id, Address, MessageRow, MessageView};
use super::peers::{self, Admission};
use super::service::{self, Envelope};
use super::streams::{Chunk, EndStream, StreamStarted};
use super::{store, MessagingError};
use crate::db::{new_id, now_ms};
use crate::state::App;
use crate::transaction;

/// A chunk as it travels between hosts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunkEnvelope {
    pub stream_id: String,
    /// 0, 1, ...: the chunk's place in its stream.
    pub index: i64,
    pub thread_id: String,
    pub from: String,
    pub from_key: String,
    pub to: String,
    pub text: String,
    pub created_ms: i64,
    /// The sender's Ed25519 signature (base64) over the JSON array `["agora-chunk/1",
    /// stream_id, index, thread_id, from, from_key, to, text, created_ms]`.
    pub signature: String,
}

impl ChunkEnvelope {
    fn signed_bytes(&self) -> Vec<u8> {
        json!([
            "agora-chunk/1",
            self.stream_id,
            self.index,
            self.thread_id,
            self.from,
            self.from_key,
            self.to,
            self.text,
            self.created_ms
        ])
        .to_string()
        .into_bytes()
    }
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    struct OutboundRow {
        id: String,
        to_address: String,
        thread_id: String,
        content_type: String,
        text: String,
        chunks: i64,
        status: String,
    }
}

/// Starts a stream from `me` to an agent on another host.
pub(super) async fn start(
    app: &App,
    me: &Identity,
    to: &Address,
    thread_id: String,
    content_type: &str,
) -> Result<StreamStarted, MessagingError> {
    service::allowed(app, &me.agent_id, to, content_type).await?;
    let (id, at, from, to_text) = (new_id(), now_ms(), me.address.to_string(), to.to_string());
    let (i, t, f, a) = (&id, &thread_id, &from, &to_text);
    transaction!(app.db, |c| async move {
        service::enter_thread(&mut *c, t, f, at).await?;
        crate::db::query(
            "INSERT INTO messaging_outbound_streams (id, sender_agent_id, from_address, to_address, thread_id, \
             content_type, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $7)",
        )
        .bind(i)
        .bind(me.agent_id.as_str())
        .bind(f)
        .bind(a)
        .bind(t)
        .bind(content_type)
        .bind(at)
        .execute(c)
        .await?;
        Ok::<_, MessagingError>(())
    })?;
    Ok(StreamStarted { stream_id: id, thread_id, to: to_text })
}

async fn outbound(app: &App, agent_id: &str, id: &str) -> Result<Option<OutboundRow>, MessagingError> {
    let row = crate::db::query_as::<OutboundRow>(
        "SELECT id, to_address, thread_id, content_type, text, chunks, status FROM messaging_outbound_streams \
         WHERE id = $1 AND sender_agent_id = $2",
    )
    .bind(id)
    .bind(agent_id)
    .fetch_optional(&app.db.read)
    .await?;
    if row.as_ref().is_some_and(|r| r.status != "open") {
        return Err(MessagingError::Conflict("the stream has ended"));
    }
    Ok(row)
}

/// Sends a chunk of the agent's stream to another host; `None` when the stream is not one.
pub(super) async fn chunk(app: &App, agent_id: &str, req: &Chunk) -> Result<Option<serde_json::Value>, MessagingError> {
    let Some(s) = outbound(app, agent_id, &req.stream_id).await? else { return Ok(None) };
    let limit = app.config.messaging.messaging_max_message_bytes;
    let size = s.text.len() + req.text.len();
    if size as u64 > limit {
        return Err(MessagingError::TooLarge(size, limit));
    }
    let me = service::me(app, agent_id).await?;
    let mut e = ChunkEnvelope {
        stream_id: s.id.clone(),
        index: s.chunks,
        thread_id: s.thread_id.clone(),
        from: me.address.to_string(),
        from_key: me.public_key.clone(),
        to: s.to_address.clone(),
        text: req.text.clone(),
        created_ms: now_ms(),
        signature: String::new(),
    };
    e.signature = me.sign(&e.signed_bytes());
    hand_over(app, &e).await?;
    let (text, at) = (format!("{}{}", s.text, req.text), now_ms());
    let (t, id, index) = (&text, &s.id, s.chunks);
    let moved = transaction!(app.db, |c| async move {
        crate::db::query(
            "UPDATE messaging_outbound_streams SET text = $1, chunks = chunks + 1, updated_at = $2 \
             WHERE id = $3 AND chunks = $4 AND status = 'open'",
        )
        .bind(t)
        .bind(at)
        .bind(id)
        .bind(index)
        .execute(c)
        .await
    })?;
    if moved.rows_affected() == 0 {
        return Err(MessagingError::Conflict("another chunk of this stream was sent at the same time; send again"));
    }
    Ok(Some(json!({"stream_id": s.id, "index": index})))
}

/// Posts the chunk to the recipient's host; its refusal or silence is the sender's error.
async fn hand_over(app: &App, e: &ChunkEnvelope) -> Result<(), MessagingError> {
    let Ok(Address::Agent { host, .. }) = Address::parse(&e.to) else {
        return Err(MessagingError::InvalidAddress(format!("{} is not an agent's address", e.to)));
    };
    let unreachable = |why: String| MessagingError::Unreachable(format!("{}: {why}", e.to));
    let url = url::Url::parse(&format!("{}/federation/v1/stream-chunks", federation::base_url(app, &host)))
        .map_err(|err| unreachable(err.to_string()))?;
    let client = app.outbound.client(&url).await.map_err(|err| unreachable(format!("{err:?}")))?;
    let resp = client.post(url).timeout(Duration::from_secs(15)).json(e).send().await;
    let resp = resp.map_err(|err| unreachable(err.to_string()))?;
    if !resp.status().is_success() {
        let status = resp.status();
        return Err(unreachable(format!("its host answered {status}: {}", resp.text().await.unwrap_or_default())));
    }
    Ok(())
}

/// Ends the agent's stream to another host: the assembled message goes through federation.
pub(super) async fn end(app: &App, agent_id: &str, req: &EndStream) -> Result<Option<MessageView>, MessagingError> {
    let Some(s) = outbound(app, agent_id, &req.stream_id).await? else { return Ok(None) };
    let me = service::me(app, agent_id).await?;
    let to = Address::parse(&s.to_address)?;
    let (m, r, st, t, at) = (&me, req, &s, &to, now_ms());
    let row = transaction!(app.db, |c| async move {
        let from = m.address.to_string();
        service::enter_thread(&mut *c, &st.thread_id, &from, at).await?;
        let envelope =
            Envelope { thread_id: &st.thread_id, reply_to: None, content_type: &st.content_type, handler: None, at };
        let body = json!({"text": st.text, "stream_id": st.id, "chunks": st.chunks}).to_string();
        let row = federation::queue_in(&mut *c, m, t, &envelope, body, None).await?;
        let ended = crate::db::query(
            "UPDATE messaging_outbound_streams SET status = 'ended', message_id = $1, updated_at = $2 \
             WHERE id = $3 AND status = 'open'",
        )
        .bind(row.id.as_str())
        .bind(at)
        .bind(st.id.as_str())
        .execute(&mut *c)
        .await?;
        if ended.rows_affected() == 0 {
            return Err(MessagingError::Conflict("the stream has ended"));
        }
        if r.close_thread {
            store::close_thread(c, &st.thread_id, &from, at).await?;
        }
        Ok::<_, MessagingError>(row)
    })?;
    app.jobs_due.notify_one();
    Ok(Some(row.view()))
}

/// Takes a chunk from another host: `delivered` or `duplicate`.
pub async fn receive_chunk(app: &App, e: ChunkEnvelope) -> Result<&'static str, MessagingError> {
    let window = app.config.messaging.messaging_federation_window_ms;
    if now_ms().abs_diff(e.created_ms) > window {
        return Err(MessagingError::StaleEnvelope(window as i64));
    }
    if !valid_id(&e.stream_id) || !valid_id(&e.thread_id) || !(0..1_000_000).contains(&e.index) {
        return Err(MessagingError::Invalid("stream_id, thread_id and index must be valid".into()));
    }
    if e.text.is_empty()
        || e.text.len() as u64 > app.config.messaging.messaging_max_message_bytes
        || e.signature.len() > 200
    {
        return Err(MessagingError::Invalid(
            "text must be 1 byte to the message size limit, the signature short".into(),
        ));
    }
    let handle = federation::arriving(app, &e.to, &e.from)?;
    let recipient = store::agent_by_handle(&app.db, &handle).await?.ok_or(MessagingError::NoSuchAgent(e.to.clone()))?;
    let taken = crate::db::query_scalar::<i64>(
        "SELECT COUNT(*) FROM messaging_inbound_chunks WHERE from_address = $1 AND stream_id = $2 AND idx = $3",
    )
    .bind(e.from.as_str())
    .bind(e.stream_id.as_str())
    .bind(e.index)
    .fetch_one(&app.db.read)
    .await?;
    if taken > 0 {
        return Ok("duplicate");
    }
    let bytes = e.signed_bytes();
    let signed = Signed { from: &e.from, from_key: &e.from_key, bytes: &bytes, signature: &e.signature };
    federation::verify_sender(app, signed).await?;
    let me = identity::ensure(app, &recipient, &handle).await?;
    let (r, en, key, at) = (&recipient, &e, &me.public_key, now_ms());
    let status = transaction!(app.db, |c| async move {
        let probe = MessageRow {
            id: String::new(),
            thread_id: en.thread_id.clone(),
            from_address: en.from.clone(),
            from_key: en.from_key.clone(),
            to_address: en.to.clone(),
            sender_agent_id: None,
            recipient_agent_id: Some(r.clone()),
            inbox_seq: None,
            reply_to: None,
            content_type: String::new(),
            body: String::new(),
            signature: String::new(),
            status: String::new(),
            sent_by_handler: None,
            created_at: at,
        };
        if let Admission::Hold(_) = peers::admit(&mut *c, &probe, key).await? {
            return Err(MessagingError::NotAccepted(format!("{} has not approved {} yet", en.to, en.from)));
        }
        let seq = store::next_inbox_seq(&mut *c, r).await?;
        let added = crate::db::query(
            "INSERT INTO messaging_inbound_chunks (from_address, stream_id, idx, recipient_agent_id, inbox_seq, \
             thread_id, text, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(en.from.as_str())
        .bind(en.stream_id.as_str())
        .bind(en.index)
        .bind(r.as_str())
        .bind(seq)
        .bind(en.thread_id.as_str())
        .bind(en.text.as_str())
        .bind(at)
        .execute(c)
        .await?;
        Ok::<_, MessagingError>(if added.rows_affected() == 1 { "delivered" } else { "duplicate" })
    })?;
    if status == "delivered" {
        app.inboxes.wake(&recipient);
    }
    Ok(status)
}
