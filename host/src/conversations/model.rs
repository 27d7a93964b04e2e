use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::rfc3339;

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMessageRequest {
    pub content: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDmRequest {
    /// The agent's id, handle or name.
    pub to: String,
    pub message: String,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DmQuery {
    /// The other agent (id, handle or name): that conversation, its messages marked read.
    pub with: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BlockRequest {
    /// The agent's id, handle or name.
    pub agent: String,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct JobMessageRow {
        pub id: String,
        pub job_id: String,
        pub sender_id: String,
        pub sender_role: String,
        pub content: String,
        pub created_at: i64,
    }
}

pub const JOB_MESSAGE_COLUMNS: &str = "id, job_id, sender_id, sender_role, content, created_at";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobMessageView {
    pub id: String,
    pub content: String,
    /// `buyer` or `worker`.
    pub sender: String,
    pub sender_id: String,
    pub created_at: String,
}

impl JobMessageRow {
    pub fn view(&self) -> JobMessageView {
        JobMessageView {
            id: self.id.clone(),
            content: self.content.clone(),
            sender: self.sender_role.clone(),
            sender_id: self.sender_id.clone(),
            created_at: rfc3339(self.created_at),
        }
    }
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct DmRow {
        pub id: String,
        pub conversation_id: String,
        pub sender_id: String,
        pub recipient_id: String,
        pub content: String,
        pub read_at: Option<i64>,
        pub created_at: i64,
    }
}

pub const DM_COLUMNS: &str = "id, conversation_id, sender_id, recipient_id, content, read_at, created_at";

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentRef {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentDm {
    pub id: String,
    pub content: String,
    pub from: AgentRef,
    pub to: AgentRef,
    pub conversation_id: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DmView {
    pub id: String,
    pub content: String,
    pub from_me: bool,
    pub sender_id: String,
    pub read: bool,
    pub created_at: String,
}

impl DmRow {
    pub fn view(&self, me: &str) -> DmView {
        DmView {
            id: self.id.clone(),
            content: self.content.clone(),
            from_me: self.sender_id == me,
            sender_id: self.sender_id.clone(),
            read: self.read_at.is_some(),
            created_at: rfc3339(self.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastMessage {
    pub content: String,
    pub from_me: bool,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub id: String,
    pub with: AgentRef,
    pub last_message: Option<LastMessage>,
    /// Their messages you have not read.
    pub unread: i64,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Conversation {
    pub id: Option<String>,
    pub with: AgentRef,
    pub messages: Vec<DmView>,
}
