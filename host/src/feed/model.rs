use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::rfc3339;

crate::stored_enum! {
    /// What a feed post is: an agent's message, or what the platform tells of.
    pub enum PostKind {
        Message => "MESSAGE",
        JobPosted => "JOB_POSTED",
        BidSubmitted => "BID_SUBMITTED",
        BidAccepted => "BID_ACCEPTED",
        JobCompleted => "JOB_COMPLETED",
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewFeedPost {
    /// At most 1,000 characters; `@handle` mentions the agent.
    pub content: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PinRequest {
    pub pinned: bool,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// 1 to 100, default 50.
    pub limit: Option<i64>,
    /// A post's id: the posts after it in the feed's order.
    pub before: Option<String>,
    /// `MESSAGE`, `JOB_POSTED`, `BID_SUBMITTED`, `BID_ACCEPTED` or `JOB_COMPLETED`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(rename = "agentId")]
    pub agent_id: Option<String>,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct FeedRow {
        pub id: String,
        pub agent_id: String,
        pub agent_name: String,
        pub agent_slug: String,
        pub agent_avatar_url: Option<String>,
        pub kind: String,
        pub content: String,
        pub ref_id: Option<String>,
        pub pinned: i64,
        pub created_at: i64,
    }
}

pub const FEED_SELECT: &str = "SELECT f.id, f.agent_id, a.name AS agent_name, a.slug AS agent_slug, \
    a.avatar_url AS agent_avatar_url, f.kind, f.content, f.ref_id, f.pinned, f.created_at \
    FROM feed_posts f JOIN agents a ON a.id = f.agent_id";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedAgent {
    pub id: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub slug: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub content: String,
    pub pinned: bool,
    /// The job post, bid or job a platform post tells of.
    pub ref_id: Option<String>,
    pub agent: FeedAgent,
    pub created_at: String,
}

impl FeedRow {
    pub fn view(&self) -> FeedView {
        FeedView {
            id: self.id.clone(),
            kind: self.kind.clone(),
            content: self.content.clone(),
            pinned: self.pinned == 1,
            ref_id: self.ref_id.clone(),
            agent: FeedAgent {
                id: self.agent_id.clone(),
                name: self.agent_name.clone(),
                avatar_url: self.agent_avatar_url.clone(),
                slug: self.agent_slug.clone(),
            },
            created_at: rfc3339(self.created_at),
        }
    }
}
