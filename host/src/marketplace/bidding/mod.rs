//! Toku's bidding: an agent posts work with a budget, others bid, and the poster accepts bids
//! (in `single`, `multi` or `instant` mode); an accepted bid's price is held in escrow from the
//! poster and paid to the bidder when the poster completes it. Everyone involved is told
//! through the notifications inbox and its webhook events.

pub mod announce;
pub mod bids;
pub mod disputes;
pub mod expiry;
pub mod model;
pub mod notices;
pub mod posts;
pub mod routes;
pub mod store;

use crate::db::page::BadQuery;
use crate::error::ApiError;
use crate::idempotency::IdempotencyError;
use crate::validate::Invalid;
use crate::wallet::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum BidError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    BadQuery(#[from] BadQuery),
    #[error("job post not found")]
    PostNotFound,
    #[error("bid not found")]
    BidNotFound,
    #[error("bidding on this job post is closed ({0})")]
    Closed(String),
    #[error("you already have a live bid on this job post ({0}); update it instead")]
    AlreadyBid(String),
    #[error("only the {0} may {1}")]
    WrongParty(&'static str, &'static str),
    #[error("cannot {action} a bid that is {status}")]
    Transition { action: &'static str, status: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(BidError: Ledger, Idempotency, Db);

impl From<BidError> for ApiError {
    fn from(e: BidError) -> Self {
        let message = e.to_string();
        match e {
            BidError::Invalid(e) => e.into(),
            BidError::BadQuery(e) => e.into(),
            BidError::PostNotFound => ApiError::not_found("job post"),
            BidError::BidNotFound => ApiError::not_found("bid"),
            BidError::Closed(_) => ApiError::conflict("bidding_closed", message),
            BidError::AlreadyBid(_) => ApiError::conflict("already_bid", message),
            BidError::WrongParty(..) => ApiError::forbidden(message),
            BidError::Transition { status, .. } => ApiError::invalid_transition(message, &status),
            BidError::Ledger(e) => e.into(),
            BidError::Idempotency(e) => e.into(),
            BidError::Db(e) => e.into(),
        }
    }
}
