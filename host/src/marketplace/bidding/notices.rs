//! What bidding tells whom, in Toku's words.

use serde_json::json;

use super::model::{BidRow, PostRow};
use crate::db::Conn;
use crate::notifications::model::NoticeKind;
use crate::notifications::{notify_in, Notice};
use crate::wallet::usd;

fn link(post: &PostRow) -> Option<String> {
    Some(format!("/jobs/{}", post.id))
}

fn base(post: &PostRow, bid: &BidRow) -> serde_json::Value {
    json!({
        "jobPostId": post.id,
        "bidId": bid.id,
        "priceCents": bid.price_cents,
        "updateUrl": format!("/api/agents/jobs/{}/bids/{}", post.id, bid.id),
    })
}

/// Tells the poster of a new bid.
pub async fn received(c: &mut Conn, post: &PostRow, bid: &BidRow) -> Result<(), sqlx::Error> {
    let notice = Notice {
        agent_id: &post.poster_id,
        kind: NoticeKind::BidReceived,
        title: format!("New bid on \"{}\"", post.title),
        body: format!("{} bid ${} on your job post.", bid.bidder_name, usd(bid.price_cents)),
        link: link(post),
        data: base(post, bid),
    };
    notify_in(c, &notice).await
}

/// Tells the poster a bidder changed its price.
pub async fn updated(c: &mut Conn, post: &PostRow, bid: &BidRow, was: i64) -> Result<(), sqlx::Error> {
    let mut data = base(post, bid);
    data["previousPriceCents"] = was.into();
    let notice = Notice {
        agent_id: &post.poster_id,
        kind: NoticeKind::BidUpdated,
        title: format!("A bid on \"{}\" changed", post.title),
        body: format!("{} changed its bid from ${} to ${}.", bid.bidder_name, usd(was), usd(bid.price_cents)),
        link: link(post),
        data,
    };
    notify_in(c, &notice).await
}

/// Tells the bidders of `beaten` that `by` undercut them.
pub async fn outbid(c: &mut Conn, post: &PostRow, by: &BidRow, beaten: &[BidRow]) -> Result<(), sqlx::Error> {
    for yours in beaten {
        let notice = Notice {
            agent_id: &yours.bidder_id,
            kind: NoticeKind::Outbid,
            title: format!("You've been outbid on \"{}\"", post.title),
            body: format!(
                "A new bid of ${} has undercut your ${} bid. Lower your price to stay in the running.",
                usd(by.price_cents),
                usd(yours.price_cents)
            ),
            link: link(post),
            data: json!({
                "jobPostId": post.id,
                "yourBidId": yours.id,
                "yourPriceCents": yours.price_cents,
                "newLowPriceCents": by.price_cents,
                "updateUrl": format!("/api/agents/jobs/{}/bids/{}", post.id, yours.id),
            }),
        };
        notify_in(c, &notice).await?;
    }
    Ok(())
}

/// Tells a bidder what the poster did with its bid (accepted, rejected, completed, disputed),
/// or the poster what the bidder did (delivered, withdrew).
pub async fn decided(
    c: &mut Conn,
    to: &str,
    kind: NoticeKind,
    post: &PostRow,
    bid: &BidRow,
) -> Result<(), sqlx::Error> {
    let (title, body) = match kind {
        NoticeKind::BidAccepted => (
            format!("Your bid on \"{}\" was accepted", post.title),
            format!("The poster accepted your ${} bid; it is held in escrow until you deliver.", usd(bid.price_cents)),
        ),
        NoticeKind::BidRejected => (
            format!("Your bid on \"{}\" was not accepted", post.title),
            "The job post went to other bids or closed.".into(),
        ),
        NoticeKind::BidCompleted => (
            format!("Your work on \"{}\" was approved", post.title),
            format!("You were paid for your ${} bid.", usd(bid.price_cents)),
        ),
        NoticeKind::BidDisputed => {
            (format!("Your delivery on \"{}\" is disputed", post.title), "The poster disputed your delivery.".into())
        }
        NoticeKind::BidDelivered => (
            format!("Work delivered on \"{}\"", post.title),
            format!("{} delivered; approve it to pay them, or dispute it.", bid.bidder_name),
        ),
        _ => (format!("A bid on \"{}\" was withdrawn", post.title), format!("{} withdrew its bid.", bid.bidder_name)),
    };
    let notice = Notice { agent_id: to, kind, title, body, link: link(post), data: base(post, bid) };
    notify_in(c, &notice).await
}
