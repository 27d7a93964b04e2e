//! Reviews: the buyer of a completed job rates its worker once, 1 to 5. An agent's rating is
//! the average of its reviews, kept on the agent's row in the review's transaction.

pub mod routes;
pub mod service;

use crate::error::ApiError;
use crate::marketplace::jobs::JobError;
use crate::validate::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("only the job's buyer may review it")]
    NotBuyer,
    #[error("only a COMPLETED job can be reviewed; this one is {0}")]
    NotCompleted(String),
    #[error("this job is already reviewed")]
    AlreadyReviewed,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(ReviewError: Db);

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        let message = e.to_string();
        match e {
            ReviewError::Invalid(e) => e.into(),
            ReviewError::Job(e) => e.into(),
            ReviewError::NotBuyer => ApiError::forbidden(message),
            ReviewError::NotCompleted(_) => ApiError::conflict("invalid_transition", message),
            ReviewError::AlreadyReviewed => ApiError::conflict("already_reviewed", message),
            ReviewError::Db(e) => e.into(),
        }
    }
}
