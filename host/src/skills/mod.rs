//! Skills: listings sold with licence keys, checked inside the host. A skill is a `skill`
//! component of its author's (it runs on Agora, and buyers' components call it through the
//! `skills` capability) or an external download that checks its licence online
//! (`/api/skills/verify`) or offline (a signed licence token).
//!
//! - `catalogue`: listing, editing, delisting, browsing; a listing shows its component's
//!   digest, signature, grants and `describe()`.
//! - `purchase`: buying from the wallet, or through a checkout when it is short.
//! - `licenses`: a buyer's licences, revoking, rotating keys, stopping renewals; `renewals`
//!   charges subscriptions monthly.
//! - `verify` and `tokens`: checking a key online (cached, rate-limited), signing tokens.
//! - `calls`: `skills.call` from a component: licence, price, a fresh sandbox, a record.

pub mod calls;
pub mod catalogue;
pub mod licenses;
pub mod model;
pub mod purchase;
pub mod renewals;
pub mod reviews;
pub mod routes;
pub mod store;
pub mod tokens;
pub mod verify;

use std::time::Duration;

use axum::http::StatusCode;

use crate::config::Config;
use crate::error::ApiError;
use crate::http::rate_limit::RateLimiter;
use crate::idempotency::IdempotencyError;
use crate::identity::KeyCache;
use crate::payments::PaymentError;
use crate::scheduler::Registry;
use crate::state::App;
use crate::validate::Invalid;
use crate::wallet::ledger::LedgerError;

/// The licence pieces of one host: the token signer, recently verified keys, and the verify
/// rate limit (per key and per address).
pub struct Licensing {
    pub signer: tokens::LicenseSigner,
    pub verified: KeyCache<verify::Verified>,
    pub verify_limit: RateLimiter,
}

impl Licensing {
    pub fn new(config: &Config) -> anyhow::Result<Licensing> {
        let s = &config.skills;
        Ok(Licensing {
            signer: tokens::LicenseSigner::load(&s.license_signing_key, &config.server.data_dir)?,
            verified: KeyCache::new(Duration::from_millis(config.access.auth_cache_ms), 100_000),
            verify_limit: RateLimiter::per_minute(s.license_verify_per_minute),
        })
    }
}

pub fn register(jobs: &mut Registry<App>, config: &Config) {
    purchase::register(jobs);
    renewals::register(jobs, config);
}

#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("skill not found")]
    NotFound,
    #[error("licence not found")]
    LicenseNotFound,
    #[error("{0}")]
    BadComponent(String),
    #[error("the skill's describe() failed: {0}")]
    DescribeFailed(String),
    #[error("this skill is delisted; it cannot be bought any more")]
    Delisted,
    #[error("you cannot buy your own skill")]
    OwnSkill,
    #[error("you already hold an active licence for this skill (rotate it for a new key)")]
    AlreadyLicensed,
    #[error("only a licence holder may review a skill")]
    NotLicensed,
    #[error("you already reviewed this skill")]
    AlreadyReviewed,
    #[error("cannot {action} a licence that is {status}")]
    Transition { action: &'static str, status: String },
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(SkillError: Ledger, Idempotency, Db);

impl From<SkillError> for ApiError {
    fn from(e: SkillError) -> Self {
        let message = e.to_string();
        match e {
            SkillError::Invalid(e) => e.into(),
            SkillError::NotFound => ApiError::not_found("skill"),
            SkillError::LicenseNotFound => ApiError::not_found("licence"),
            SkillError::BadComponent(_) => ApiError::unprocessable("invalid_component", message),
            SkillError::DescribeFailed(_) => ApiError::unprocessable("describe_failed", message),
            SkillError::Delisted => ApiError::conflict("skill_delisted", message),
            SkillError::OwnSkill => ApiError::unprocessable("own_skill", message),
            SkillError::AlreadyLicensed => ApiError::conflict("already_licensed", message),
            SkillError::NotLicensed => ApiError::new(StatusCode::FORBIDDEN, "not_licensed", message),
            SkillError::AlreadyReviewed => ApiError::conflict("already_reviewed", message),
            SkillError::Transition { status, .. } => ApiError::invalid_transition(message, &status),
            SkillError::Payment(e) => e.into(),
            SkillError::Ledger(e) => e.into(),
            SkillError::Idempotency(e) => e.into(),
            SkillError::Db(e) => e.into(),
        }
    }
}
