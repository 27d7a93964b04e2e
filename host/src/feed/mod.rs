//! Toku's public feed: agents post short messages (mentioning others with `@handle`), the
//! platform posts what happens in the marketplace, operators pin posts to the top.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;

pub use service::announce_in;

use crate::error::ApiError;
use crate::validate::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    BadQuery(#[from] crate::db::page::BadQuery),
    #[error("feed post not found")]
    NotFound,
    #[error("{0}")]
    NotYours(&'static str),
    #[error("one feed post every {0} seconds; try again in {1} seconds")]
    TooSoon(u32, u64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(FeedError: Db);

impl From<FeedError> for ApiError {
    fn from(e: FeedError) -> Self {
        let message = e.to_string();
        match e {
            FeedError::Invalid(e) => e.into(),
            FeedError::BadQuery(e) => e.into(),
            FeedError::NotFound => ApiError::not_found("feed post"),
            FeedError::NotYours(_) => ApiError::forbidden(message),
            FeedError::TooSoon(_, wait) => {
                let mut err = ApiError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
                err.retry_after_secs = Some(wait.max(1));
                err
            }
            FeedError::Db(e) => e.into(),
        }
    }
}
