//! Addresses, messages and their views.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::MessagingError;
use crate::db::rfc3339;

/// Where a message goes: an agent on an Agora host (`toq://<host>/<handle>`), or an A2A agent
/// by its `https://` URL (`http://` parses too, and is sent to only where the host allows
/// insecure URLs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Agent { host: String, handle: String },
    A2a(String),
}

impl Address {
    pub fn parse(text: &str) -> Result<Address, MessagingError> {
        let bad = |why: &str| MessagingError::InvalidAddress(format!("{text:?} {why}"));
        if let Some(rest) = text.strip_prefix("toq://") {
            let (host, handle) = rest.split_once('/').ok_or_else(|| bad("has no handle (toq://host/handle)"))?;
            let host = host.to_ascii_lowercase();
            let host_ok = !host.is_empty()
                && host.len() <= 253
                && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !host_ok {
                return Err(bad("has no valid host"));
            }
            if !valid_handle(handle) {
                return Err(bad("has no valid handle (lowercase letters, digits, - and _)"));
            }
            return Ok(Address::Agent { host, handle: handle.to_string() });
        }
        if text.starts_with("https://") || text.starts_with("http://") {
            let url = url::Url::parse(text).map_err(|e| bad(&format!("is not a URL: {e}")))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(bad("has no host"));
            }
            return Ok(Address::A2a(url.to_string()));
        }
        Err(bad("is neither a toq:// address nor an https:// A2A URL"))
    }

    pub fn agent(host: &str, handle: &str) -> Address {
        Address::Agent { host: host.to_string(), handle: handle.to_string() }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Agent { host, handle } => write!(f, "toq://{host}/{handle}"),
            Address::A2a(url) => f.write_str(url),
        }
    }
}

/// A message's or thread's id: 1 to 100 letters, digits, `-`, `_`, `.` or `:`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// A message's content type: a MIME type of at most 100 characters.
pub fn check_content_type(content_type: &str) -> Result<(), MessagingError> {
    if content_type.len() > 100 || !content_type.contains('/') || content_type.chars().any(char::is_control) {
        return Err(MessagingError::Invalid("content_type must be a MIME type such as text/plain".into()));
    }
    Ok(())
}

fn valid_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle.len() <= 100
        && handle.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

/// `to` as toq takes it: one address or several.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Recipients {
    One(String),
    Many(Vec<String>),
}

impl Recipients {
    pub fn list(&self) -> Vec<&str> {
        match self {
            Recipients::One(a) => vec![a.as_str()],
            Recipients::Many(all) => all.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// A `toq://host/handle` address or an `https://` A2A URL, or an array of them.
    #[schema(value_type = Object)]
    pub to: Recipients,
    /// The content, a JSON object (`{"text": "hello"}`).
    #[schema(value_type = Object)]
    pub body: Value,
    /// The conversation; a new one when left out. An existing thread takes messages from its
    /// participants only, and none once it is closed.
    pub thread_id: Option<String>,
    /// The id of the message this one answers.
    pub reply_to: Option<String>,
    /// A MIME type; `text/plain` when left out.
    pub content_type: Option<String>,
    /// Close the thread once this message is delivered.
    #[serde(default)]
    pub close_thread: bool,
    /// A bearer token for an A2A recipient.
    pub a2a_auth: Option<String>,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct MessageRow {
        pub id: String,
        pub thread_id: String,
        pub from_address: String,
        pub from_key: String,
        pub to_address: String,
        pub sender_agent_id: Option<String>,
        pub recipient_agent_id: Option<String>,
        pub inbox_seq: Option<i64>,
        pub reply_to: Option<String>,
        pub content_type: String,
        pub body: String,
        pub signature: String,
        pub status: String,
        pub sent_by_handler: Option<String>,
        pub created_at: i64,
    }
}

pub const MESSAGE_COLUMNS: &str = "id, thread_id, from_address, from_key, to_address, sender_agent_id, \
    recipient_agent_id, inbox_seq, reply_to, content_type, body, signature, status, sent_by_handler, created_at";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub thread_id: String,
    pub from: String,
    /// The sender's public key (`ed25519:<base64>`) that signed the message.
    pub from_key: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub content_type: String,
    #[schema(value_type = Object)]
    pub body: Value,
    /// The sender's Ed25519 signature over the envelope (see `docs/api.md`), base64.
    pub signature: String,
    /// `delivered`, `queued` (remote, waiting for its next attempt) or `failed`.
    pub status: String,
    /// The sender's handler that wrote it; none when it was sent through the API.
    pub handler: Option<String>,
    pub timestamp: String,
}

impl MessageRow {
    /// What the sender signs: a JSON array of the envelope's fields in a fixed order, the body
    /// as the text it is stored and sent as.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let envelope = serde_json::json!([
            "agora-message/1",
            self.id,
            self.thread_id,
            self.from_address,
            self.from_key,
            self.to_address,
            self.reply_to,
            self.content_type,
            self.body,
            self.created_at,
        ]);
        envelope.to_string().into_bytes()
    }

    pub fn view(&self) -> MessageView {
        MessageView {
            id: self.id.clone(),
            thread_id: self.thread_id.clone(),
            from: self.from_address.clone(),
            from_key: self.from_key.clone(),
            to: self.to_address.clone(),
            reply_to: self.reply_to.clone(),
            content_type: self.content_type.clone(),
            body: serde_json::from_str(&self.body).unwrap_or(Value::Null),
            signature: self.signature.clone(),
            status: self.status.clone(),
            handler: self.sent_by_handler.clone(),
            timestamp: rfc3339(self.created_at),
        }
    }
}

/// What a send answers: the thread, and each recipient's message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sent {
    /// The first (or only) recipient's message.
    pub id: String,
    pub thread_id: String,
    /// `delivered` when every recipient has its message.
    pub status: String,
    pub thread_closed: bool,
    pub messages: Vec<MessageView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_back() {
        let a = Address::parse("toq://Example.com:8080/alice-1").unwrap();
        assert_eq!(a, Address::agent("example.com:8080", "alice-1"));
        assert_eq!(a.to_string(), "toq://example.com:8080/alice-1");
        assert!(matches!(Address::parse("https://agent.example.com/a2a").unwrap(), Address::A2a(_)));
        assert!(matches!(Address::parse("http://127.0.0.1:9/a2a").unwrap(), Address::A2a(_)));
        for bad in
            ["toq://host", "toq:///alice", "toq://host/Alice", "toq://host/a/b", "http://", "ftp://x", "alice", ""]
        {
            assert!(matches!(Address::parse(bad), Err(MessagingError::InvalidAddress(_))), "{bad}");
        }
    }
}
