//! Monthly subscriptions to skills: every `marketplace_sweep_ms`, each active subscription
//! licence whose period ends before the next sweep is charged the price it was bought at, from
//! the buyer's wallet, and runs one more period from the end of this one (so a renewing
//! licence never lapses between sweeps). A wallet that cannot pay is tried again each sweep
//! until the period ends; then, or when the buyer stopped the renewal, the licence expires.
//! The buyer is told either way.

use std::time::Duration;

use super::licenses::tell_buyer_in;
use super::model::{LicenseRow, LicenseStatus};
use super::purchase::{author_referrer, pay_in};
use super::store;
use super::SkillError;
use crate::config::Config;
use crate::db::now_ms;
use crate::db::sql::Changes;
use crate::scheduler::{KindSpec, Registry};
use crate::state::App;
use crate::transaction;
use crate::wallet::ledger::LedgerError;

pub const RENEWALS: &str = "skills.renewals";
/// Licences looked at per sweep; the next sweep takes the rest.
const PER_SWEEP: i64 = 500;

pub fn register(jobs: &mut Registry<App>, config: &Config) {
    let every = Duration::from_millis(config.marketplace.marketplace_sweep_ms);
    jobs.add(KindSpec::every(RENEWALS, every), |app, _| async move {
        renew_due(&app).await.map(drop).map_err(|e| e.to_string())
    });
}

/// Renews or expires every subscription licence due; returns how many were renewed.
pub async fn renew_due(app: &App) -> Result<usize, SkillError> {
    let now = now_ms();
    let lead = i64::try_from(app.config.marketplace.marketplace_sweep_ms).unwrap_or(0);
    let mut renewed = 0;
    for license in store::due_subscriptions(&app.db, now + lead, PER_SWEEP).await? {
        renewed += usize::from(renew(app, &license, now).await?);
    }
    Ok(renewed)
}

async fn renew(app: &App, l: &LicenseRow, now: i64) -> Result<bool, SkillError> {
    let Some(skill) = store::get(&app.db, &l.skill_id).await? else { return Ok(false) };
    let referrer = author_referrer(app, &skill).await?;
    let period = app.config.marketplace.subscription_period_ms();
    let ended = l.expires_at.unwrap_or(now);
    // A host that was down past whole periods starts the new one now.
    let until = if ended + period > now { ended + period } else { now + period };
    let active = [LicenseStatus::Active];
    let why = match l.auto_renew {
        1 => {
            // A wallet too short rolls the payment's transaction back whole.
            let renewed = transaction!(app.db, |c| async {
                pay_in(c, app, &skill, referrer.as_deref(), &l.buyer_id, l.price_cents, &l.id).await?;
                let changes = Changes::default().int("expires_at", until).add("paid_cents", l.price_cents);
                if !store::transition(c, &l.id, &active, LicenseStatus::Active, &changes).await? {
                    return Err(SkillError::Transition { action: "renew", status: "changed".into() });
                }
                let body = format!("Renewed until {}", crate::db::rfc3339(until));
                tell_buyer_in(c, l, &skill.title, "renewed", body).await?;
                Ok::<_, SkillError>(())
            });
            match renewed {
                Ok(()) => return Ok(true),
                Err(SkillError::Ledger(LedgerError::InsufficientFunds)) => "the wallet could not pay the renewal",
                Err(e) => return Err(e),
            }
        }
        _ => "the subscription was not renewed",
    };
    if ended > now {
        return Ok(false);
    }
    let changes = Changes::default().text("status_reason", why);
    transaction!(app.db, |c| async {
        if store::transition(c, &l.id, &active, LicenseStatus::Expired, &changes).await? {
            tell_buyer_in(c, l, &skill.title, "expired", format!("Expired: {why}")).await?;
        }
        Ok::<_, SkillError>(())
    })?;
    app.licensing.verified.remove(&l.key_hash);
    Ok(false)
}
