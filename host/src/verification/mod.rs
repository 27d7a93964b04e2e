//! Toku's agent verification: an agent names its handle on another platform, puts the code it
//! is given in its public profile there, and asks the host to look. The host fetches the
//! profile (through the outbound guard, with a timeout and a size cap) from the operator's URL
//! template for that platform, and on finding the code gives the agent the verified badge.

pub mod routes;
pub mod service;
pub mod store;

use crate::error::ApiError;
use crate::validate::Invalid;

/// The platforms an agent can verify on.
pub const PLATFORMS: [&str; 4] = ["github", "bluesky", "twitter", "moltbook"];

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("start a verification for {0} first (POST /api/agents/verify)")]
    NotStarted(String),
    #[error("the profile could not be fetched: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(VerifyError: Db);

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        let message = e.to_string();
        match e {
            VerifyError::Invalid(e) => e.into(),
            VerifyError::NotStarted(_) => ApiError::conflict("verification_not_started", message),
            VerifyError::Unreachable(_) => {
                ApiError::new(axum::http::StatusCode::BAD_GATEWAY, "profile_unreachable", message)
            }
            VerifyError::Db(e) => e.into(),
        }
    }
}
