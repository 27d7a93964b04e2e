//! Streams: a message sent in pieces (toq's `/v1/stream/*`). Starting one checks what a send
//! checks (the address, the sender's policies, the thread, the recipient's rules, which must
//! deliver: a first contact waiting for approval cannot stream). Each chunk takes the next
//! position in the recipient's inbox, so its event stream shows the chunks live (and resumes
//! over them); ending the stream delivers the assembled text as one message. A stream to an
//! agent on another host is `remote_streams`'.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::model::{check_content_type, Address, MessageRow, MessageView};
use super::peers::{self, Admission};
use super::service::{self, Envelope, Local};
use super::{dispatch, store, MessagingError};
use crate::db::{new_id, now_ms, Conn};
use crate::state::App;
use crate::transaction;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartStream {
    /// One `toq://host/handle` address.
    pub to: String,
    pub thread_id: Option<String>,
    /// The assembled message's MIME type; `text/plain` when left out.
    pub content_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StreamStarted {
    pub stream_id: String,
    pub thread_id: String,
    pub to: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Chunk {
    pub stream_id: String,
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndStream {
    pub stream_id: String,
    #[serde(default)]
    pub close_thread: bool,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct StreamRow {
        pub id: String,
        pub sender_agent_id: String,
        pub recipient_agent_id: String,
        pub to_address: String,
        pub thread_id: String,
        pub content_type: String,
        pub text: String,
        pub chunks: i64,
        pub status: String,
    }
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct ChunkRow {
        pub stream_id: String,
        pub idx: i64,
        pub inbox_seq: i64,
        pub text: String,
        pub from_address: String,
        pub thread_id: String,
        pub created_at: i64,
    }
}

/// A chunk as its recipient's event stream shows it (`event: stream.chunk`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkView {
    pub stream_id: String,
    /// 0, 1, ...: the chunk's place in its stream.
    pub index: i64,
    pub text: String,
    pub from: String,
    pub thread_id: String,
    pub timestamp: String,
}

impl ChunkRow {
    pub fn view(&self) -> ChunkView {
        ChunkView {
            stream_id: self.stream_id.clone(),
            index: self.idx,
            text: self.text.clone(),
            from: self.from_address.clone(),
            thread_id: self.thread_id.clone(),
            timestamp: crate::db::rfc3339(self.created_at),
        }
    }
}

pub async fn start(app: &App, agent_id: &str, req: StartStream) -> Result<StreamStarted, MessagingError> {
    let address = Address::parse(req.to.trim())?;
    let content_type = req.content_type.unwrap_or_else(|| "text/plain".into());
    check_content_type(&content_type)?;
    if req.thread_id.as_deref().is_some_and(|t| t.is_empty() || t.len() > 100) {
        return Err(MessagingError::Invalid("thread_id must be 1 to 100 characters".into()));
    }
    let me = service::me(app, agent_id).await?;
    if matches!(&address, Address::Agent { host, .. } if *host != super::identity::host_name(app)) {
        let thread_id = req.thread_id.unwrap_or_else(new_id);
        return super::remote_streams::start(app, &me, &address, thread_id, &content_type).await;
    }
    let to = service::resolve(app, vec![address], false).await?.0.remove(0);
    service::allowed(app, agent_id, &to.address, &content_type).await?;
    let thread_id = req.thread_id.unwrap_or_else(new_id);
    let (id, at, from) = (new_id(), now_ms(), me.address.to_string());
    let (i, t, f, ct, m, to_ref) = (&id, &thread_id, &from, &content_type, &me, &to);
    transaction!(app.db, |c| async move {
        service::enter_thread(&mut *c, t, f, at).await?;
        admitted(&mut *c, m, to_ref, t).await?;
        crate::db::query(
            "INSERT INTO messaging_streams (id, sender_agent_id, recipient_agent_id, from_address, to_address, \
             thread_id, content_type, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8)",
        )
        .bind(i)
        .bind(agent_id)
        .bind(to_ref.agent_id.as_str())
        .bind(f)
        .bind(to_ref.address.to_string())
        .bind(t)
        .bind(ct)
        .bind(at)
        .execute(c)
        .await?;
        Ok::<_, MessagingError>(())
    })?;
    Ok(StreamStarted { stream_id: id, thread_id, to: to.address.to_string() })
}

/// Refuses a stream the recipient would not take now (blocked, not accepted, or held).
async fn admitted(
    c: &mut Conn,
    me: &super::identity::Identity,
    to: &Local,
    thread: &str,
) -> Result<(), MessagingError> {
    let probe = MessageRow {
        id: String::new(),
        thread_id: thread.to_string(),
        from_address: me.address.to_string(),
        from_key: me.public_key.clone(),
        to_address: to.address.to_string(),
        sender_agent_id: Some(me.agent_id.clone()),
        recipient_agent_id: Some(to.agent_id.clone()),
        inbox_seq: None,
        reply_to: None,
        content_type: String::new(),
        body: String::new(),
        signature: String::new(),
        status: String::new(),
        sent_by_handler: None,
        created_at: now_ms(),
    };
    match peers::admit(c, &probe, &to.public_key).await? {
        Admission::Deliver => Ok(()),
        Admission::Hold(_) => Err(MessagingError::NotAccepted(format!(
            "{} has not approved you yet: send a message, and stream once it is approved",
            to.address
        ))),
    }
}

/// The sender's open stream.
async fn open_stream(c: &mut Conn, agent_id: &str, id: &str) -> Result<StreamRow, MessagingError> {
    let row = crate::db::query_as::<StreamRow>(
        "SELECT id, sender_agent_id, recipient_agent_id, to_address, thread_id, content_type, text, chunks, status \
         FROM messaging_streams WHERE id = $1 AND sender_agent_id = $2",
    )
    .bind(id)
    .bind(agent_id)
    .fetch_optional(c)
    .await?;
    let row = row.ok_or(MessagingError::NotFound("stream"))?;
    if row.status != "open" {
        return Err(MessagingError::Conflict("the stream has ended"));
    }
    Ok(row)
}

pub async fn chunk(app: &App, agent_id: &str, req: Chunk) -> Result<serde_json::Value, MessagingError> {
    if req.text.is_empty() {
        return Err(MessagingError::Invalid("text must not be empty".into()));
    }
    if let Some(sent) = super::remote_streams::chunk(app, agent_id, &req).await? {
        return Ok(sent);
    }
    let limit = app.config.messaging.messaging_max_message_bytes;
    let (r, at) = (&req, now_ms());
    let (recipient, index) = transaction!(app.db, |c| async move {
        let s = open_stream(&mut *c, agent_id, &r.stream_id).await?;
        let size = s.text.len() + r.text.len();
        if size as u64 > limit {
            return Err(MessagingError::TooLarge(size, limit));
        }
        let seq = store::next_inbox_seq(&mut *c, &s.recipient_agent_id).await?;
        crate::db::query(
            "INSERT INTO messaging_stream_chunks (stream_id, idx, recipient_agent_id, inbox_seq, text, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id.as_str())
        .bind(s.chunks)
        .bind(s.recipient_agent_id.as_str())
        .bind(seq)
        .bind(r.text.as_str())
        .bind(at)
        .execute(&mut *c)
        .await?;
        crate::db::query("UPDATE messaging_streams SET text = $1, chunks = chunks + 1, updated_at = $2 WHERE id = $3")
            .bind(format!("{}{}", s.text, r.text))
            .bind(at)
            .bind(s.id.as_str())
            .execute(c)
            .await?;
        Ok::<_, MessagingError>((s.recipient_agent_id, s.chunks))
    })?;
    app.inboxes.wake(&recipient);
    Ok(json!({"stream_id": req.stream_id, "index": index}))
}

pub async fn end(app: &App, agent_id: &str, req: EndStream) -> Result<MessageView, MessagingError> {
    if let Some(sent) = super::remote_streams::end(app, agent_id, &req).await? {
        return Ok(sent);
    }
    let me = service::me(app, agent_id).await?;
    let (r, m, at) = (&req, &me, now_ms());
    let (row, handled) = transaction!(app.db, |c| async move {
        let s = open_stream(&mut *c, agent_id, &r.stream_id).await?;
        let to = Local {
            address: Address::parse(&s.to_address)?,
            agent_id: s.recipient_agent_id.clone(),
            public_key: crate::db::query_scalar::<String>(
                "SELECT public_key FROM messaging_identities WHERE agent_id = $1",
            )
            .bind(s.recipient_agent_id.as_str())
            .fetch_one(&mut *c)
            .await?,
        };
        service::enter_thread(&mut *c, &s.thread_id, &m.address.to_string(), at).await?;
        let envelope =
            Envelope { thread_id: &s.thread_id, reply_to: None, content_type: &s.content_type, handler: None, at };
        let body = json!({"text": s.text, "stream_id": s.id, "chunks": s.chunks}).to_string();
        let row = service::deliver_in(&mut *c, m, &to, &envelope, body).await?;
        crate::db::query(
            "UPDATE messaging_streams SET status = 'ended', message_id = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(row.id.as_str())
        .bind(at)
        .bind(s.id.as_str())
        .execute(&mut *c)
        .await?;
        let handled = row.inbox_seq.is_some() && dispatch::enqueue_in(&mut *c, &row).await?;
        if r.close_thread {
            store::close_thread(c, &s.thread_id, &m.address.to_string(), at).await?;
        }
        Ok::<_, MessagingError>((row, handled))
    })?;
    if let Some(recipient) = row.recipient_agent_id.as_deref().filter(|_| row.inbox_seq.is_some()) {
        app.inboxes.wake(recipient);
    }
    if handled {
        app.jobs_due.notify_one();
    }
    Ok(row.view())
}
