//! `GET /api/skills/verify`: is this licence key good now? Keys are looked up by their SHA-256
//! (never compared as text), so the time an answer takes does not depend on how much of a
//! made-up key matches a real one. Good keys are cached in this process for `auth_cache_ms`;
//! revoking or rotating drops them at once here, and a subscription's expiry is checked on
//! every hit. Calls are limited per key and per client address.

use std::net::IpAddr;

use serde::Serialize;
use utoipa::ToSchema;

use super::model::LicenseStatus;
use super::store;
use crate::db::{now_ms, rfc3339};
use crate::error::ApiError;
use crate::http::rate_limit::too_many;
use crate::secrets::hash_secret;
use crate::state::App;

/// Longest key looked at; anything longer is simply not a key.
const MAX_KEY_CHARS: usize = 200;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifiedSkill {
    pub id: String,
    pub title: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifiedBuyer {
    pub id: String,
    pub name: String,
}

/// Toku's 200 answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Valid {
    pub valid: bool,
    /// `active`.
    pub status: String,
    pub skill: VerifiedSkill,
    pub buyer: VerifiedBuyer,
    pub pricing_model: String,
    pub expires_at: Option<String>,
    /// The licence's id (to rotate or revoke it).
    pub license_id: String,
}

/// Toku's 403 answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Invalid {
    pub valid: bool,
    pub error: String,
    /// `invalid`, `expired`, `revoked` or `pending_payment`.
    pub status: String,
}

/// A verified key as cached: the answer, and when it stops being true.
#[derive(Debug, Clone)]
pub struct Verified {
    answer: Valid,
    expires_at: Option<i64>,
}

pub enum Verdict {
    Valid(Valid),
    Invalid(Invalid),
}

fn invalid(status: &str, error: &str) -> Verdict {
    Verdict::Invalid(Invalid { valid: false, error: error.into(), status: status.into() })
}

pub async fn verify(app: &App, key: &str, ip: Option<IpAddr>) -> Result<Verdict, ApiError> {
    let key = key.trim();
    let address = ip.map_or_else(|| "address:unknown".to_string(), |ip| format!("address:{ip}"));
    let hash = hash_secret(key);
    for bucket in [address, format!("key:{hash}")] {
        let decision = app.licensing.verify_limit.check(&bucket);
        if !decision.allowed {
            return Err(too_many(decision.retry_after_secs, "too many licence checks, slow down"));
        }
    }
    if key.is_empty() {
        return Ok(invalid("invalid", "No license key: send X-License-Key or ?key="));
    }
    if key.len() > MAX_KEY_CHARS {
        return Ok(invalid("invalid", "Invalid license key"));
    }
    let now = now_ms();
    if let Some(hit) = app.licensing.verified.get(&hash) {
        if hit.expires_at.is_none_or(|at| at > now) {
            return Ok(Verdict::Valid(hit.answer));
        }
    }
    let Some(found) = store::license_by_key_hash(&app.db, &hash).await? else {
        return Ok(invalid("invalid", "Invalid license key"));
    };
    let l = &found.license;
    Ok(match l.standing(now) {
        LicenseStatus::Active => {
            let answer = Valid {
                valid: true,
                status: "active".into(),
                skill: VerifiedSkill { id: l.skill_id.clone(), title: found.skill_title, version: found.skill_version },
                buyer: VerifiedBuyer { id: l.buyer_id.clone(), name: found.buyer_name },
                pricing_model: l.pricing_model.clone(),
                expires_at: l.expires_at.map(rfc3339),
                license_id: l.id.clone(),
            };
            app.licensing.verified.insert(hash, Verified { answer: answer.clone(), expires_at: l.expires_at });
            Verdict::Valid(answer)
        }
        LicenseStatus::Expired if l.pricing_model == "SUBSCRIPTION" => invalid("expired", "Subscription expired"),
        LicenseStatus::Expired => invalid("expired", "License expired"),
        LicenseStatus::Revoked => invalid("revoked", "License revoked"),
        LicenseStatus::PendingPayment => invalid("pending_payment", "License not paid yet"),
    })
}
