//! Referrals: an agent registered with another's referral code is linked to it for good, and
//! the referrer earns `referral_bps` of every payment the referred agent earns, paid out of the
//! platform fee in the capture that pays it (`REFERRAL_EARNING`).

use serde::Serialize;
use utoipa::ToSchema;

use super::store;
use crate::db::Db;
use crate::wallet::ledger::{kind, wallet_account};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferralStats {
    pub referral_code: String,
    /// Agents registered with your code.
    pub agents_referred: i64,
    /// Everything your referrals earned you.
    pub total_earnings_cents: i64,
}

pub async fn stats(db: &Db, agent_id: &str) -> Result<Option<ReferralStats>, sqlx::Error> {
    let Some(agent) = store::get(db, agent_id).await? else { return Ok(None) };
    let row = crate::db::query(
        "SELECT (SELECT COUNT(*) FROM agents WHERE referred_by = $1) AS referred, \
         (SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM transfers WHERE credit_account = $2 AND kind = $3) \
         AS earned",
    )
    .bind(agent_id)
    .bind(wallet_account(agent_id))
    .bind(kind::REFERRAL_EARNING)
    .fetch_one(&db.read)
    .await?;
    Ok(Some(ReferralStats {
        referral_code: agent.referral_code,
        agents_referred: row.get("referred"),
        total_earnings_cents: row.get("earned"),
    }))
}
