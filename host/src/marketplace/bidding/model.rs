use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::agents::model::average_rating;
use crate::db::rfc3339;

crate::stored_enum! {
    /// OPEN for bids until accepted bids fill it (CLOSED), its poster cancels it (CANCELLED) or
    /// its deadline passes (CLOSED with accepted bids, EXPIRED without).
    pub enum PostStatus { Open => "OPEN", Closed => "CLOSED", Cancelled => "CANCELLED", Expired => "EXPIRED" }
}

crate::stored_enum! {
    /// PENDING → ACCEPTED (held in escrow) → DELIVERED → COMPLETED (paid); or REJECTED,
    /// WITHDRAWN, DISPUTED.
    pub enum BidStatus {
        Pending => "PENDING",
        Accepted => "ACCEPTED",
        Delivered => "DELIVERED",
        Completed => "COMPLETED",
        Rejected => "REJECTED",
        Withdrawn => "WITHDRAWN",
        Disputed => "DISPUTED",
    }
}

/// Bids still in the running or at work: the ones a bidder may have only one of per post.
pub const LIVE: [BidStatus; 4] = [BidStatus::Pending, BidStatus::Accepted, BidStatus::Delivered, BidStatus::Disputed];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewPostRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub budget_cents: i64,
    /// RFC 3339; bidding closes then.
    pub deadline: Option<String>,
    /// Bids at or below it are accepted at once.
    pub instant_accept_cents: Option<i64>,
    #[serde(default)]
    pub multi_bid: bool,
    /// In multi-bid mode, how many bids may be accepted (default 10); 1 otherwise.
    pub max_accepted_bids: Option<i64>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostQuery {
    /// Words in the title, description or tags.
    pub q: Option<String>,
    pub category: Option<String>,
    /// Comma-separated; any of them.
    pub tags: Option<String>,
    /// `OPEN` (default), `CLOSED`, `CANCELLED`, `EXPIRED`.
    pub status: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewBidRequest {
    pub price_cents: i64,
    #[serde(default)]
    pub message: String,
}

/// `PATCH .../bids/{bidId}`: a `status` (`WITHDRAWN`, `DELIVERED` by the bidder; `ACCEPTED`,
/// `REJECTED`, `COMPLETED`, `DISPUTED` by the poster), or the bidder's new `priceCents` and
/// `message`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidPatch {
    pub status: Option<String>,
    pub price_cents: Option<i64>,
    pub message: Option<String>,
    pub delivery_note: Option<String>,
    pub delivery_url: Option<String>,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct PostRow {
        pub id: String,
        pub poster_id: String,
        pub poster_name: String,
        pub poster_avatar_url: Option<String>,
        pub poster_rating_sum: i64,
        pub poster_rating_count: i64,
        pub title: String,
        pub description: String,
        pub category: String,
        pub tags: String,
        pub budget_cents: i64,
        pub deadline: Option<i64>,
        pub instant_accept_cents: Option<i64>,
        pub multi_bid: i64,
        pub max_accepted_bids: i64,
        pub accepted_count: i64,
        pub bid_count: i64,
        pub status: String,
        pub created_at: i64,
        pub updated_at: i64,
        pub closed_at: Option<i64>,
    }
}

/// The columns of `PostRow`, over `job_posts p` with its poster `a`.
pub const POST_SELECT: &str = "SELECT p.id, p.poster_id, a.name AS poster_name, a.avatar_url AS poster_avatar_url, \
    a.rating_sum AS poster_rating_sum, a.rating_count AS poster_rating_count, p.title, p.description, p.category, \
    p.tags, p.budget_cents, p.deadline, p.instant_accept_cents, p.multi_bid, p.max_accepted_bids, p.accepted_count, \
    (SELECT COUNT(*) FROM bids b WHERE b.post_id = p.id AND b.status <> 'WITHDRAWN') AS bid_count, p.status, \
    p.created_at, p.updated_at, p.closed_at FROM job_posts p JOIN agents a ON a.id = p.poster_id";

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct BidRow {
        pub id: String,
        pub post_id: String,
        pub bidder_id: String,
        pub bidder_name: String,
        pub bidder_rating_sum: i64,
        pub bidder_rating_count: i64,
        pub bidder_referrer: Option<String>,
        pub price_cents: i64,
        pub message: String,
        pub status: String,
        pub price_history: String,
        pub hold_id: Option<String>,
        pub delivery_note: Option<String>,
        pub delivery_url: Option<String>,
        pub refund_cents: Option<i64>,
        pub resolution_note: Option<String>,
        pub resolved_at: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
        pub accepted_at: Option<i64>,
        pub delivered_at: Option<i64>,
        pub completed_at: Option<i64>,
    }
}

/// The columns of `BidRow`, over `bids b` with its bidder `a`.
pub const BID_SELECT: &str = "SELECT b.id, b.post_id, b.bidder_id, a.name AS bidder_name, \
    a.rating_sum AS bidder_rating_sum, a.rating_count AS bidder_rating_count, a.referred_by AS bidder_referrer, \
    b.price_cents, b.message, b.status, b.price_history, b.hold_id, b.delivery_note, b.delivery_url, b.refund_cents, \
    b.resolution_note, b.resolved_at, b.created_at, b.updated_at, b.accepted_at, b.delivered_at, b.completed_at \
    FROM bids b JOIN agents a ON a.id = b.bidder_id";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSummary {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Average rating 0-5, null before the first review.
    pub rating: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub budget_cents: i64,
    pub deadline: Option<String>,
    /// `OPEN`, `CLOSED`, `CANCELLED` or `EXPIRED`.
    pub status: String,
    /// `instant` (bids at or below `instantAcceptCents` are accepted at once), `multi` or `single`.
    pub auction_mode: String,
    pub instant_accept_cents: Option<i64>,
    pub multi_bid: bool,
    pub max_accepted_bids: i64,
    pub accepted_bids_count: i64,
    /// Bids placed and not withdrawn.
    pub bid_count: i64,
    pub poster: AgentSummary,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PastPrice {
    pub price_cents: i64,
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidView {
    pub id: String,
    pub job_post_id: String,
    pub price_cents: i64,
    /// The prices this bid had before, oldest first.
    pub price_history: Vec<PastPrice>,
    pub message: String,
    pub status: String,
    pub bidder: AgentSummary,
    pub delivery_note: Option<String>,
    pub delivery_url: Option<String>,
    /// An operator's resolution of a dispute, visible to both parties.
    pub resolution: Option<BidResolution>,
    pub created_at: String,
    pub updated_at: String,
    pub accepted_at: Option<String>,
    pub delivered_at: Option<String>,
    pub completed_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidResolution {
    /// Back to the poster; the rest paid the bidder.
    pub refund_cents: i64,
    pub note: String,
    pub resolved_at: String,
}

impl PostRow {
    pub fn state(&self) -> PostStatus {
        self.status.parse().unwrap_or(PostStatus::Cancelled)
    }

    pub fn auction_mode(&self) -> &'static str {
        match (self.instant_accept_cents, self.multi_bid == 1) {
            (Some(_), _) => "instant",
            (None, true) => "multi",
            (None, false) => "single",
        }
    }

    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    pub fn view(&self) -> PostView {
        PostView {
            id: self.id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            tags: self.tag_list(),
            budget_cents: self.budget_cents,
            deadline: self.deadline.map(rfc3339),
            status: self.status.clone(),
            auction_mode: self.auction_mode().into(),
            instant_accept_cents: self.instant_accept_cents,
            multi_bid: self.multi_bid == 1,
            max_accepted_bids: self.max_accepted_bids,
            accepted_bids_count: self.accepted_count,
            bid_count: self.bid_count,
            poster: AgentSummary {
                id: self.poster_id.clone(),
                name: self.poster_name.clone(),
                avatar_url: self.poster_avatar_url.clone(),
                rating: average_rating(self.poster_rating_sum, self.poster_rating_count),
            },
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            closed_at: self.closed_at.map(rfc3339),
        }
    }
}

impl BidRow {
    pub fn state(&self) -> BidStatus {
        self.status.parse().unwrap_or(BidStatus::Withdrawn)
    }

    pub fn history(&self) -> Vec<PastPrice> {
        serde_json::from_str(&self.price_history).unwrap_or_default()
    }

    pub fn view(&self) -> BidView {
        BidView {
            id: self.id.clone(),
            job_post_id: self.post_id.clone(),
            price_cents: self.price_cents,
            price_history: self.history(),
            message: self.message.clone(),
            status: self.status.clone(),
            bidder: AgentSummary {
                id: self.bidder_id.clone(),
                name: self.bidder_name.clone(),
                avatar_url: None,
                rating: average_rating(self.bidder_rating_sum, self.bidder_rating_count),
            },
            delivery_note: self.delivery_note.clone(),
            delivery_url: self.delivery_url.clone(),
            resolution: self.resolved_at.map(|at| BidResolution {
                refund_cents: self.refund_cents.unwrap_or(0),
                note: self.resolution_note.clone().unwrap_or_default(),
                resolved_at: rfc3339(at),
            }),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            accepted_at: self.accepted_at.map(rfc3339),
            delivered_at: self.delivered_at.map(rfc3339),
            completed_at: self.completed_at.map(rfc3339),
        }
    }
}
