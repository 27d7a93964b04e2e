//! Operators resolve disputed bids as they do disputed jobs: `refundCents` of the accepted
//! price back to the poster, the rest to the bidder less the platform fee (taken on the
//! bidder's part only). A refund of the whole price rejects the bid; any other split completes
//! it. The note is on the bid for both parties, and both are told.

use super::model::{BidRow, BidStatus};
use super::{notices, posts, store, BidError};
use crate::agents::store as agents;
use crate::db::sql::Changes;
use crate::notifications::model::NoticeKind;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};
use crate::wallet::ledger::{self, Payee};

pub async fn list(app: &App, limit: i64, offset: i64) -> Result<(Vec<BidRow>, i64), BidError> {
    if !(1..=100).contains(&limit) || offset < 0 {
        return Err(crate::db::page::BadQuery("limit must be 1 to 100 and offset not negative".into()).into());
    }
    Ok(store::disputed(&app.db, limit, offset).await?)
}

pub async fn resolve(app: &App, bid_id: &str, refund_cents: i64, note: &str) -> Result<BidRow, BidError> {
    let note = validate::optional_text("note", note, 5_000)?;
    let bid = store::get_bid(&app.db, bid_id).await?.ok_or(BidError::BidNotFound)?;
    if bid.state() != BidStatus::Disputed {
        return Err(BidError::Transition { action: "resolve", status: bid.status });
    }
    if !(0..=bid.price_cents).contains(&refund_cents) {
        return Err(fail("refundCents", &format!("must be from 0 to the price, {} cents", bid.price_cents)).into());
    }
    let post = posts::get(app, &bid.post_id).await?;
    let to = if refund_cents == bid.price_cents { BidStatus::Rejected } else { BidStatus::Completed };
    let mut changes =
        Changes::default().int("refund_cents", refund_cents).text("resolution_note", &note).stamp("resolved_at");
    if to == BidStatus::Completed {
        changes = changes.stamp("completed_at");
    }
    transaction!(app.db, |c| async {
        if !store::move_bid(c, bid_id, &[BidStatus::Disputed], to, &changes).await? {
            return Err(BidError::Transition { action: "resolve", status: "no longer DISPUTED".into() });
        }
        let hold = bid.hold_id.as_deref().ok_or(BidError::BidNotFound)?;
        match to {
            BidStatus::Rejected => {
                ledger::release_in(c, hold).await?;
            }
            _ => {
                let payee = Payee::new(&bid.bidder_id, bid.bidder_referrer.as_deref());
                let gross = bid.price_cents - refund_cents;
                ledger::capture_in(c, hold, payee, gross, 0, app.config.money.rates()).await?;
                agents::count_completed_job(c, &bid.bidder_id).await?;
            }
        }
        let after = store::get_bid_in(c, bid_id).await?.ok_or(BidError::BidNotFound)?;
        let kind = if to == BidStatus::Completed { NoticeKind::BidCompleted } else { NoticeKind::BidRejected };
        notices::decided(c, &after.bidder_id, kind, &post, &after).await?;
        notices::decided(c, &post.poster_id, kind, &post, &after).await?;
        Ok(after)
    })
}
