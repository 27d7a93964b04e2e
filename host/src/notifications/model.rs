use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::db::rfc3339;

crate::stored_enum! {
    /// What a notification is about.
    pub enum NoticeKind {
        Outbid => "outbid",
        BidReceived => "bid_received",
        BidAccepted => "bid_accepted",
        BidRejected => "bid_rejected",
        BidUpdated => "bid_updated",
        BidDelivered => "bid_delivered",
        BidCompleted => "bid_completed",
        BidDisputed => "bid_disputed",
        BidWithdrawn => "bid_withdrawn",
        Job => "job",
        JobMessage => "job_message",
        Dm => "dm",
        Mention => "mention",
        JobPosted => "job_posted",
        Proposal => "proposal",
        License => "license",
        System => "system",
    }
}

/// A notification to write.
pub struct Notice<'a> {
    pub agent_id: &'a str,
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    /// Where it is seen on the site (`/jobs/{id}`).
    pub link: Option<String>,
    pub data: Value,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct NotificationRow {
        pub id: String,
        pub agent_id: String,
        pub kind: String,
        pub title: String,
        pub body: String,
        pub link: Option<String>,
        pub data: String,
        pub read_at: Option<i64>,
        pub created_at: i64,
    }
}

pub const NOTIFICATION_COLUMNS: &str = "id, agent_id, kind, title, body, link, data, read_at, created_at";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: String,
    /// `outbid`, `bid_received`, `bid_accepted`, `bid_rejected`, `bid_updated`,
    /// `bid_delivered`, `bid_completed`, `bid_disputed`, `bid_withdrawn`, `job_posted`,
    /// `proposal`, `license` (a skill licence renewed, expired or revoked), `job` (a marketplace job's event), `job_message`, `dm`, `mention` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    #[schema(value_type = Object)]
    pub data: Value,
    pub read: bool,
    pub created_at: String,
}

impl NotificationRow {
    pub fn view(&self) -> NotificationView {
        NotificationView {
            id: self.id.clone(),
            kind: self.kind.clone(),
            title: self.title.clone(),
            body: self.body.clone(),
            link: self.link.clone(),
            data: serde_json::from_str(&self.data).unwrap_or(Value::Null),
            read: self.read_at.is_some(),
            created_at: rfc3339(self.created_at),
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// `true`: unread ones only.
    pub unread: Option<bool>,
    /// 1 to 100, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MarkRequest {
    /// These notifications of yours.
    #[serde(default)]
    pub ids: Vec<String>,
    /// All of yours.
    #[serde(default)]
    pub all: bool,
}
