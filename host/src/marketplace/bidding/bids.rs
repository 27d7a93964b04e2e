//! Bids: placing one (accepted at once at or below the post's instant price), changing its
//! price, and every later step, each one transaction decided by conditional updates. A bid's
//! first statement touches its post (`store::lock_open_post`), so bids and accepts on one post
//! take turns on PostgreSQL as they do on SQLite's single writer.

use serde_json::json;

use super::model::*;
use super::store;
use super::{notices, posts, BidError};
use crate::agents::store as agents;
use crate::db::sql::Changes;
use crate::db::{new_id, now_ms, rfc3339, Conn};
use crate::feed::{self, model::PostKind};
use crate::idempotency::Answer;
use crate::notifications::model::NoticeKind;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};
use crate::wallet::ledger::{self, LedgerError, Payee};
use crate::wallet::usd;

/// Where a bid stands among the post's live bids.
pub struct Standing {
    pub rank: usize,
    pub total: usize,
    pub lowest: i64,
}

/// A bid placed or changed.
pub struct Placed {
    pub bid: BidRow,
    pub post: PostRow,
    /// Other bidders this bid undercut (and told).
    pub outbid: usize,
    pub standing: Standing,
    /// Pending bids rejected because an instant accept filled the post.
    pub rejected: Option<usize>,
}

impl Standing {
    pub fn message(&self) -> String {
        match self.rank {
            1 => format!("Your bid is the lowest of {}.", self.total),
            rank => format!(
                "Your bid is ranked #{rank} of {}. The current lowest bid is ${}.",
                self.total,
                usd(self.lowest)
            ),
        }
    }
}

/// The bid's rank (1 is the lowest price, earlier first among equals) among the live bids.
async fn standing_in(c: &mut Conn, bid: &BidRow) -> Result<Standing, BidError> {
    let (ahead, total, lowest) = store::standing_in(c, bid).await?;
    Ok(Standing { rank: ahead as usize + 1, total: total as usize, lowest })
}

/// What accepting a bid did.
enum Acceptance {
    /// Accepted; this many pending bids were rejected because the post filled.
    Accepted(Option<usize>),
    /// The post has no place left, or bidding closed.
    Full,
    /// The poster's wallet does not hold the price.
    Short,
}

/// Accepts a pending bid in the caller's transaction: takes one of the post's places, holds
/// the price from the poster, and closes the post (rejecting the other pending bids) when
/// that was its last place. A wallet that is short changes nothing.
async fn accept_in(c: &mut Conn, app: &App, post: &PostRow, bid: &BidRow) -> Result<Acceptance, BidError> {
    if ledger::balance_in(&mut *c, &post.poster_id).await?.balance_cents < bid.price_cents {
        return Ok(Acceptance::Short);
    }
    let Some((taken, places)) = store::take_place(c, &post.id).await? else { return Ok(Acceptance::Full) };
    let why = format!("Bid accepted: {}", post.title);
    let hold = ledger::hold_in(c, app.db.backend, &post.poster_id, bid.price_cents, &why, Some(&bid.id)).await?;
    let changes = Changes::default().text("hold_id", &hold.id).stamp("accepted_at");
    if !store::move_bid(c, &bid.id, &[BidStatus::Pending], BidStatus::Accepted, &changes).await? {
        return Err(BidError::Transition { action: "accept", status: bid.status.clone() });
    }
    notices::decided(c, &bid.bidder_id, NoticeKind::BidAccepted, post, bid).await?;
    let told = format!("{} accepted {}'s bid on {}", post.poster_name, bid.bidder_name, post.title);
    feed::announce_in(c, &post.poster_id, PostKind::BidAccepted, &told, &bid.id).await?;
    if taken < places {
        return Ok(Acceptance::Accepted(None));
    }
    store::close_post(c, &post.id, PostStatus::Closed).await?;
    Ok(Acceptance::Accepted(Some(posts::reject_pending_in(c, post, Some(&bid.id)).await?)))
}

/// Tells the poster of the bid, and the bidders who held the lowest price until it undercut
/// them (`outbid`); returns how many pending bids of others it newly undercut (priced above it
/// and, when it was lowered, not above its old price). Only the leaders are told, so a bid on
/// a crowded post writes a notice or two, not one per bid it beats.
async fn announce_in(c: &mut Conn, post: &PostRow, bid: &BidRow, was: Option<i64>) -> Result<usize, BidError> {
    match was {
        None => notices::received(c, post, bid).await?,
        Some(old) => notices::updated(c, post, bid, old).await?,
    }
    let ceiling = was.unwrap_or(i64::MAX);
    let (leading, undercut) = store::rivals_in(c, &post.id, &bid.bidder_id, bid.price_cents, ceiling).await?;
    let was_lowest = was.is_some_and(|old| leading.is_some_and(|low| old <= low));
    let dethroned = match leading {
        Some(low) if low > bid.price_cents && !was_lowest => {
            store::pending_at_in(c, &post.id, &bid.bidder_id, low).await?
        }
        _ => Vec::new(),
    };
    notices::outbid(c, post, bid, &dethroned).await?;
    Ok(undercut as usize)
}

/// Accepts the bid at once if the post's instant price allows it and the poster can pay.
async fn maybe_instant_in(c: &mut Conn, app: &App, post: &PostRow, bid: &BidRow) -> Result<Option<usize>, BidError> {
    match post.instant_accept_cents {
        Some(instant) if bid.price_cents <= instant => match accept_in(c, app, post, bid).await? {
            Acceptance::Accepted(rejected) => Ok(rejected),
            Acceptance::Full | Acceptance::Short => Ok(None),
        },
        _ => Ok(None),
    }
}

pub async fn place(
    app: &App,
    bidder_id: &str,
    post_id: &str,
    req: &NewBidRequest,
    answer: Answer<'_, Placed>,
) -> Result<Placed, BidError> {
    let post = posts::get(app, post_id).await?;
    if post.poster_id == bidder_id {
        return Err(fail("jobPostId", "you cannot bid on your own job post").into());
    }
    let price = validate::cents("priceCents", req.price_cents, 1, post.budget_cents)?;
    let message = validate::optional_text("message", &req.message, 5_000)?;
    let id = new_id();
    transaction!(app.db, |c| async {
        if !store::lock_open_post(c, post_id).await? {
            return Err(BidError::Closed(post.status.clone()));
        }
        if let Some(existing) = store::live_bid_in(c, post_id, bidder_id).await? {
            return Err(BidError::AlreadyBid(existing));
        }
        store::insert_bid(c, &id, post_id, bidder_id, price, &message).await?;
        let bid = store::get_bid_in(c, &id).await?.ok_or(BidError::BidNotFound)?;
        let told = format!("{} bid ${} on {}", bid.bidder_name, usd(price), post.title);
        feed::announce_in(c, bidder_id, PostKind::BidSubmitted, &told, &id).await?;
        let outbid = announce_in(c, &post, &bid, None).await?;
        let rejected = maybe_instant_in(c, app, &post, &bid).await?;
        placed_in(c, &id, outbid, rejected, &answer).await
    })
}

async fn placed_in(
    c: &mut Conn,
    id: &str,
    outbid: usize,
    rejected: Option<usize>,
    answer: &Answer<'_, Placed>,
) -> Result<Placed, BidError> {
    let bid = store::get_bid_in(c, id).await?.ok_or(BidError::BidNotFound)?;
    let post = store::get_post_in(c, &bid.post_id).await?.ok_or(BidError::PostNotFound)?;
    let standing = standing_in(c, &bid).await?;
    let done = Placed { bid, post, outbid, standing, rejected };
    answer.record_in(c, &done).await?;
    Ok(done)
}

pub async fn list(app: &App, post_id: &str) -> Result<Vec<BidRow>, BidError> {
    posts::get(app, post_id).await?;
    Ok(store::bids_of(&app.db, post_id).await?)
}

/// A bid after a `PATCH`, with its post and, when accepting filled the post, how many other
/// bids were rejected.
pub struct Acted {
    pub bid: BidRow,
    pub post: PostRow,
    pub rejected: Option<usize>,
    pub outbid: usize,
}

/// Changes a bid: the bidder's new price and message, or a status (see `BidPatch`).
pub async fn act(
    app: &App,
    agent_id: &str,
    post_id: &str,
    bid_id: &str,
    patch: &BidPatch,
    answer: Answer<'_, Acted>,
) -> Result<Acted, BidError> {
    let post = posts::get(app, post_id).await?;
    let bid = store::get_bid(&app.db, bid_id).await?.filter(|b| b.post_id == post_id).ok_or(BidError::BidNotFound)?;
    let party = match agent_id {
        a if a == bid.bidder_id => "bidder",
        a if a == post.poster_id => "poster",
        _ => return Err(BidError::BidNotFound),
    };
    let Some(status) = patch.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return reprice(app, party, &post, &bid, patch, answer).await;
    };
    let to = status
        .to_uppercase()
        .parse::<BidStatus>()
        .ok()
        .filter(|s| *s != BidStatus::Pending)
        .ok_or_else(|| fail("status", "must be ACCEPTED, REJECTED, COMPLETED, DISPUTED, DELIVERED or WITHDRAWN"))?;
    let (who, from): (&str, &[BidStatus]) = match to {
        BidStatus::Withdrawn => ("bidder", &[BidStatus::Pending, BidStatus::Accepted]),
        BidStatus::Delivered => ("bidder", &[BidStatus::Accepted]),
        BidStatus::Accepted | BidStatus::Rejected => ("poster", &[BidStatus::Pending]),
        _ => ("poster", &[BidStatus::Delivered]),
    };
    if party != who {
        return Err(BidError::WrongParty(who, "set a bid to that status"));
    }
    let refused = |status: &str| BidError::Transition { action: "change", status: status.to_string() };
    if !from.contains(&bid.state()) {
        return Err(refused(&bid.status));
    }
    let mut changes = Changes::default();
    if to == BidStatus::Delivered {
        let note = validate::optional_text("deliveryNote", patch.delivery_note.as_deref().unwrap_or(""), 20_000)?;
        let url = match patch.delivery_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => Some(validate::web_url("deliveryUrl", u, app.config.access.allow_insecure_urls)?),
            None => None,
        };
        if note.is_empty() && url.is_none() {
            return Err(fail("deliveryNote", "deliver with a deliveryNote, a deliveryUrl or both").into());
        }
        changes = changes.text("delivery_note", &note).stamp("delivered_at");
        if let Some(url) = &url {
            changes = changes.text("delivery_url", url);
        }
    }
    if to == BidStatus::Completed {
        changes = changes.stamp("completed_at");
    }
    transaction!(app.db, |c| async {
        let mut rejected = None;
        match to {
            BidStatus::Accepted => match accept_in(c, app, &post, &bid).await? {
                Acceptance::Accepted(r) => rejected = r,
                Acceptance::Full => return Err(BidError::Closed(post.status.clone())),
                Acceptance::Short => return Err(LedgerError::InsufficientFunds.into()),
            },
            _ => {
                if !store::move_bid(c, bid_id, &[bid.state()], to, &changes).await? {
                    let now = store::get_bid_in(c, bid_id).await?.map(|b| b.status).unwrap_or_default();
                    return Err(refused(&now));
                }
                settle_in(c, app, &post, &bid, to).await?;
            }
        }
        let bid = store::get_bid_in(c, bid_id).await?.ok_or(BidError::BidNotFound)?;
        let post = store::get_post_in(c, post_id).await?.ok_or(BidError::PostNotFound)?;
        let done = Acted { bid, post, rejected, outbid: 0 };
        answer.record_in(c, &done).await?;
        Ok(done)
    })
}

/// The money and the notice of a bid's move to `to` (not acceptance).
async fn settle_in(c: &mut Conn, app: &App, post: &PostRow, bid: &BidRow, to: BidStatus) -> Result<(), BidError> {
    let (notify, kind) = match to {
        BidStatus::Withdrawn => {
            if let Some(hold) = bid.hold_id.as_deref() {
                ledger::release_in(c, hold).await?;
            }
            (&post.poster_id, NoticeKind::BidWithdrawn)
        }
        BidStatus::Delivered => (&post.poster_id, NoticeKind::BidDelivered),
        BidStatus::Rejected => (&bid.bidder_id, NoticeKind::BidRejected),
        BidStatus::Completed => {
            let hold = bid.hold_id.as_deref().ok_or(BidError::BidNotFound)?;
            let payee = Payee::new(&bid.bidder_id, bid.bidder_referrer.as_deref());
            ledger::capture_in(c, hold, payee, bid.price_cents, 0, app.config.money.rates()).await?;
            agents::count_completed_job(c, &bid.bidder_id).await?;
            let told = format!("{} completed a job: {}", bid.bidder_name, post.title);
            feed::announce_in(c, &bid.bidder_id, PostKind::JobCompleted, &told, &bid.id).await?;
            (&bid.bidder_id, NoticeKind::BidCompleted)
        }
        _ => (&bid.bidder_id, NoticeKind::BidDisputed),
    };
    notices::decided(c, notify, kind, post, bid).await?;
    Ok(())
}

/// The bidder changes its pending bid's price or message while bidding is open; the old price
/// goes into the bid's history.
async fn reprice(
    app: &App,
    party: &str,
    post: &PostRow,
    bid: &BidRow,
    patch: &BidPatch,
    answer: Answer<'_, Acted>,
) -> Result<Acted, BidError> {
    if party != "bidder" {
        return Err(BidError::WrongParty("bidder", "change a bid's price or message"));
    }
    if patch.price_cents.is_none() && patch.message.is_none() {
        return Err(fail("status", "give a status, or a new priceCents or message").into());
    }
    if bid.state() != BidStatus::Pending {
        return Err(BidError::Transition { action: "change", status: bid.status.clone() });
    }
    let price = match patch.price_cents {
        Some(p) => validate::cents("priceCents", p, 1, post.budget_cents)?,
        None => bid.price_cents,
    };
    let mut changes = Changes::default();
    if let Some(message) = &patch.message {
        changes = changes.text("message", &validate::optional_text("message", message, 5_000)?);
    }
    if price != bid.price_cents {
        let mut history = bid.history();
        history.push(PastPrice { price_cents: bid.price_cents, at: rfc3339(now_ms()) });
        let history = serde_json::to_string(&history).unwrap_or_else(|_| "[]".into());
        changes = changes.int("price_cents", price).text("price_history", &history);
    }
    transaction!(app.db, |c| async {
        if !store::lock_open_post(c, &post.id).await? {
            return Err(BidError::Closed(post.status.clone()));
        }
        if !store::move_bid(c, &bid.id, &[BidStatus::Pending], BidStatus::Pending, &changes).await? {
            return Err(BidError::Transition { action: "change", status: "no longer PENDING".into() });
        }
        let after = store::get_bid_in(c, &bid.id).await?.ok_or(BidError::BidNotFound)?;
        let outbid = match price != bid.price_cents {
            true => announce_in(c, post, &after, Some(bid.price_cents)).await?,
            false => 0,
        };
        let rejected = maybe_instant_in(c, app, post, &after).await?;
        let bid = store::get_bid_in(c, &after.id).await?.ok_or(BidError::BidNotFound)?;
        let post = store::get_post_in(c, &post.id).await?.ok_or(BidError::PostNotFound)?;
        let done = Acted { bid, post, rejected, outbid };
        answer.record_in(c, &done).await?;
        Ok(done)
    })
}

/// Toku's `competitiveContext`.
pub fn competitive(standing: &Standing) -> serde_json::Value {
    json!({
        "yourRank": standing.rank,
        "totalBids": standing.total,
        "lowestBidCents": standing.lowest,
        "isLowest": standing.rank == 1,
        "message": standing.message(),
    })
}
