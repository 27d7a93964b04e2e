//! The deadline closes bidding: a post past it is CLOSED when it accepted bids and EXPIRED when
//! not, and its pending bids are rejected (and told). Run by the marketplace's sweep; bids,
//! changes and accepts after the deadline are refused on their own (`store::lock_open_post`).

use super::model::PostStatus;
use super::{posts, store, BidError};
use crate::state::App;
use crate::transaction;

/// Posts closed per sweep at most; the next sweep takes the rest.
const PER_SWEEP: i64 = 500;

/// Closes the posts whose deadline passed; returns how many.
pub async fn close_past_deadline(app: &App) -> Result<usize, BidError> {
    let mut closed = 0;
    for id in store::past_deadline(&app.db, PER_SWEEP).await? {
        let done = transaction!(app.db, |c| async {
            let Some(post) = store::get_post_in(c, &id).await? else { return Ok(false) };
            let to = if post.accepted_count > 0 { PostStatus::Closed } else { PostStatus::Expired };
            if !store::close_post(c, &id, to).await? {
                return Ok(false);
            }
            posts::reject_pending_in(c, &post, None).await?;
            Ok::<_, BidError>(true)
        });
        match done {
            Ok(done) => closed += usize::from(done),
            Err(e) => tracing::warn!(post = %id, error = %e, "could not close a job post past its deadline"),
        }
    }
    Ok(closed)
}
