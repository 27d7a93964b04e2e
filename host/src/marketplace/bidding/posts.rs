//! Job posts: posting, finding, cancelling.

use super::model::*;
use super::store::{self, NewPost, PostFilter};
use super::BidError;
use super::{announce, notices};
use crate::db::page::BadQuery;
use crate::db::{new_id, now_ms};
use crate::feed::{self, model::PostKind};
use crate::notifications::model::NoticeKind;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

const MAX_BUDGET_CENTS: i64 = 100_000_000;

pub async fn create(app: &App, poster_id: &str, req: &NewPostRequest) -> Result<PostRow, BidError> {
    let title = validate::text("title", &req.title, 200)?;
    let description = validate::optional_text("description", &req.description, 20_000)?;
    let category = validate::optional_text("category", &req.category, 64)?.to_lowercase();
    let tags = validate::labels("tags", &req.tags, 20)?;
    let budget = validate::cents("budgetCents", req.budget_cents, 1, MAX_BUDGET_CENTS)?;
    let deadline = match req.deadline.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(text) => {
            let at = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| fail("deadline", "must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"))?
                .timestamp_millis();
            if at <= now_ms() {
                return Err(fail("deadline", "must be in the future").into());
            }
            Some(at)
        }
    };
    let instant = match req.instant_accept_cents {
        Some(cents) => Some(validate::cents("instantAcceptCents", cents, 1, budget)?),
        None => None,
    };
    let max_accepted = match (req.multi_bid, req.max_accepted_bids) {
        (true, Some(n)) => validate::cents("maxAcceptedBids", n, 1, 100)?,
        (true, None) => 10,
        (false, None | Some(1)) => 1,
        (false, Some(_)) => return Err(fail("maxAcceptedBids", "is for multiBid posts").into()),
    };
    let id = new_id();
    let post = NewPost {
        id: &id,
        poster_id,
        title: &title,
        description: &description,
        category: &category,
        tags: &tags,
        budget_cents: budget,
        deadline,
        instant_accept_cents: instant,
        multi_bid: req.multi_bid,
        max_accepted_bids: max_accepted,
    };
    transaction!(app.db, |c| async {
        store::insert_post(c, &post).await?;
        let row = store::get_post_in(c, &id).await?.ok_or(BidError::PostNotFound)?;
        let told = format!("{} posted a new job: {}", row.poster_name, row.title);
        feed::announce_in(c, poster_id, PostKind::JobPosted, &told, &id).await?;
        crate::scheduler::enqueue(c, announce::ANNOUNCE, Some(&id), &serde_json::json!({ "post_id": id }), None)
            .await?;
        Ok::<_, BidError>(row)
    })
}

pub async fn get(app: &App, id: &str) -> Result<PostRow, BidError> {
    store::get_post(&app.db, id).await?.ok_or(BidError::PostNotFound)
}

pub struct PostPage {
    pub posts: Vec<PostRow>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list(app: &App, q: &PostQuery) -> Result<PostPage, BidError> {
    let (limit, offset) = (q.limit.unwrap_or(20), q.offset.unwrap_or(0));
    if !(1..=100).contains(&limit) || offset < 0 {
        return Err(BadQuery("limit must be 1 to 100 and offset not negative".into()).into());
    }
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.to_uppercase().parse::<PostStatus>().map_err(|_| BadQuery(format!("unknown status {s}")))?,
        None => PostStatus::Open,
    };
    let tags: Vec<String> =
        q.tags.as_deref().unwrap_or("").split(',').map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
    let category = q.category.as_deref().map(|c| c.trim().to_lowercase()).filter(|c| !c.is_empty());
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let filter = PostFilter { q: text, category: category.as_deref(), tags: &tags, status };
    let (posts, total) = store::list_posts(&app.db, &filter, limit, offset).await?;
    Ok(PostPage { posts, total, limit, offset })
}

/// The poster takes an open post off the market: its pending bids are rejected (and told);
/// bids it accepted already go on.
pub async fn cancel(app: &App, poster_id: &str, id: &str) -> Result<PostRow, BidError> {
    let post = get(app, id).await?;
    if post.poster_id != poster_id {
        return Err(BidError::WrongParty("poster", "cancel a job post"));
    }
    transaction!(app.db, |c| async {
        if !store::close_post(c, id, PostStatus::Cancelled).await? {
            return Err(BidError::Closed(post.status.clone()));
        }
        reject_pending_in(c, &post, None).await?;
        store::get_post_in(c, id).await?.ok_or(BidError::PostNotFound)
    })
}

/// Rejects the post's pending bids (but `keep`) and tells their bidders; returns how many.
pub async fn reject_pending_in(c: &mut crate::db::Conn, post: &PostRow, keep: Option<&str>) -> Result<usize, BidError> {
    let pending = store::bids_in(c, &post.id, &[BidStatus::Pending]).await?;
    let mut rejected = 0;
    for bid in pending.iter().filter(|b| Some(b.id.as_str()) != keep) {
        let none = crate::db::sql::Changes::default();
        if store::move_bid(c, &bid.id, &[BidStatus::Pending], BidStatus::Rejected, &none).await? {
            notices::decided(c, &bid.bidder_id, NoticeKind::BidRejected, post, bid).await?;
            rejected += 1;
        }
    }
    Ok(rejected)
}
