//! Buying a skill. A free one (and a `PER_CALL` one, whose calls are paid one by one) is
//! licensed at once; a `ONE_TIME` or `SUBSCRIPTION` one is paid from the wallet in the
//! transaction that issues the licence: the author gets the price less the platform fee (its
//! referrer a share of the fee). When the wallet is short the licence waits in
//! `pending_payment` behind a checkout; the transaction that credits the checkout adds the
//! follow-up (`PURCHASE_PAID`) that pays and activates it. A new purchase replaces a pending
//! one, so an abandoned checkout blocks nothing.

use std::sync::Arc;

use serde_json::json;

use super::model::{LicenseRow, LicenseStatus, PricingModel, SkillRow};
use super::store;
use super::SkillError;
use crate::agents::store as agents;
use crate::db::sql::Changes;
use crate::db::{new_id, now_ms, Conn};
use crate::idempotency::Answer;
use crate::payments::service::{self as payments, Purpose, ReturnUrls};
use crate::scheduler::{Deferred, Job, KindSpec, Registry};
use crate::secrets::{hash_secret, random_token};
use crate::state::App;
use crate::transaction;
use crate::wallet::ledger::{self, LedgerError, Payee};

/// Pays and activates a licence whose checkout was credited; keyed by the licence.
pub const PURCHASE_PAID: KindSpec = KindSpec::once("skills.purchase_paid");

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(PURCHASE_PAID, |app: Arc<App>, job: Job| async move {
        let id = job.payload["license_id"].as_str().unwrap_or_default().to_string();
        paid(&app, &id).await.map_err(|e| e.to_string())
    });
}

/// A purchase as answered: the licence and its key (shown this once), and the checkout to pay
/// when the wallet was short.
#[derive(Debug, Clone)]
pub struct Purchased {
    pub license: LicenseRow,
    pub key: String,
    pub token: Option<String>,
    pub checkout_url: Option<String>,
    pub balance: i64,
}

const KEY_PREFIX_CHARS: usize = 10;

/// A new licence key: (its SHA-256 as stored, its prefix as shown, the key).
pub fn new_key() -> (String, String, String) {
    let key = format!("sk_{}", random_token(40));
    (hash_secret(&key), key[..KEY_PREFIX_CHARS].to_string(), key)
}

/// The agent that referred the skill's author, who earns its share of the fee.
pub async fn author_referrer(app: &App, skill: &SkillRow) -> Result<Option<String>, sqlx::Error> {
    Ok(agents::get(&app.db, &skill.author_id).await?.and_then(|a| a.referred_by))
}

pub async fn purchase(
    app: &App,
    buyer_id: &str,
    skill_id: &str,
    answer: Answer<'_, Purchased>,
) -> Result<Purchased, SkillError> {
    let skill = store::get(&app.db, skill_id).await?.ok_or(SkillError::NotFound)?;
    if skill.listed == 0 {
        return Err(SkillError::Delisted);
    }
    if skill.author_id == buyer_id {
        return Err(SkillError::OwnSkill);
    }
    let now = now_ms();
    let replaced = match store::live_license(&app.db, skill_id, buyer_id).await? {
        Some(l) if l.standing(now) == LicenseStatus::Active => return Err(SkillError::AlreadyLicensed),
        other => other,
    };
    let model = skill.model();
    let upfront = model.upfront_cents(skill.price_cents);
    let (hash, prefix, key) = new_key();
    let mut license = LicenseRow {
        id: new_id(),
        skill_id: skill.id.clone(),
        buyer_id: buyer_id.to_string(),
        key_hash: hash,
        key_prefix: prefix,
        pricing_model: model.as_str().into(),
        price_cents: skill.price_cents,
        status: LicenseStatus::Active.as_str().into(),
        auto_renew: i64::from(model == PricingModel::Subscription),
        expires_at: (model == PricingModel::Subscription)
            .then(|| now + app.config.marketplace.subscription_period_ms()),
        checkout_id: None,
        paid_cents: upfront,
        status_reason: None,
        created_at: now,
        updated_at: now,
    };
    let referrer = match upfront {
        0 => None,
        _ => author_referrer(app, &skill).await?,
    };
    // A wallet too short to pay rolls the whole transaction back (the error must leave it:
    // a refused posting may have written part of its balances), then the checkout takes over.
    let paid_now = transaction!(app.db, |c| async {
        retire(c, replaced.as_ref()).await?;
        if upfront > 0 {
            pay_in(c, app, &skill, referrer.as_deref(), buyer_id, upfront, &license.id).await?;
        }
        store::insert_license(c, &license).await?;
        store::count_install_in(c, &skill.id).await?;
        let balance = ledger::balance_in(&mut *c, buyer_id).await?.balance_cents;
        let done = Purchased {
            token: Some(super::licenses::token(app, &license)),
            license: license.clone(),
            key: key.clone(),
            checkout_url: None,
            balance,
        };
        answer.record_in(c, &done).await?;
        Ok::<_, SkillError>(done)
    });
    match paid_now {
        Err(SkillError::Ledger(LedgerError::InsufficientFunds)) => {}
        other => return other,
    }
    license.status = LicenseStatus::PendingPayment.as_str().into();
    license.expires_at = None;
    license.paid_cents = 0;
    checkout(app, &skill, license, key, replaced, answer).await
}

/// A pending or lapsed licence of the same buyer gives way to the new purchase.
async fn retire(c: &mut Conn, replaced: Option<&LicenseRow>) -> Result<(), SkillError> {
    if let Some(old) = replaced {
        let why = Changes::default().text("status_reason", "replaced by a new purchase");
        let from = [LicenseStatus::PendingPayment, LicenseStatus::Active];
        if !store::transition(c, &old.id, &from, LicenseStatus::Expired, &why).await? {
            return Err(SkillError::Transition { action: "replace", status: "changed".into() });
        }
    }
    Ok(())
}

/// Pays `amount` of the skill from the buyer's wallet to its author, less the fee.
pub async fn pay_in(
    c: &mut Conn,
    app: &App,
    skill: &SkillRow,
    referrer: Option<&str>,
    buyer_id: &str,
    amount: i64,
    license_id: &str,
) -> Result<ledger::Settlement, LedgerError> {
    let description = format!("Skill: {}", skill.title);
    let hold = ledger::hold_in(c, app.db.backend, buyer_id, amount, &description, Some(license_id)).await?;
    let payee = Payee::new(&skill.author_id, referrer);
    ledger::capture_in(c, &hold.id, payee, amount, 0, app.config.money.rates()).await
}

/// The licence waits in `pending_payment` for a checkout of its price.
async fn checkout(
    app: &App,
    skill: &SkillRow,
    license: LicenseRow,
    key: String,
    replaced: Option<LicenseRow>,
    answer: Answer<'_, Purchased>,
) -> Result<Purchased, SkillError> {
    transaction!(app.db, |c| async {
        retire(c, replaced.as_ref()).await?;
        store::insert_license(c, &license).await?;
        Ok::<_, SkillError>(())
    })?;
    let amount = license.price_cents.max(app.config.payments.min_payment_cents);
    let description = format!("Skill: {}", skill.title);
    let purpose = Purpose {
        description: &description,
        on_paid: Some(Deferred::new(PURCHASE_PAID, Some(&license.id), json!({ "license_id": license.id }))),
    };
    let urls = ReturnUrls { success: None, cancel: None };
    let started = payments::start_checkout(app, &license.buyer_id, amount, urls, purpose, Answer::none()).await;
    let checkout = match started {
        Ok(checkout) => checkout,
        Err(e) => {
            // No checkout: nothing can pay for the licence.
            let why = Changes::default().text("status_reason", &format!("no checkout: {e}"));
            let from = [LicenseStatus::PendingPayment];
            transaction!(app.db, |c| store::transition(c, &license.id, &from, LicenseStatus::Expired, &why))?;
            return Err(e.into());
        }
    };
    transaction!(app.db, |c| async {
        let linked = Changes::default().text("checkout_id", &checkout.id);
        let pending = [LicenseStatus::PendingPayment];
        store::transition(c, &license.id, &pending, LicenseStatus::PendingPayment, &linked).await?;
        let balance = ledger::balance_in(&mut *c, &license.buyer_id).await?.balance_cents;
        let done = Purchased {
            license: LicenseRow { checkout_id: Some(checkout.id.clone()), ..license.clone() },
            key: key.clone(),
            token: None,
            checkout_url: checkout.url.clone(),
            balance,
        };
        answer.record_in(c, &done).await?;
        Ok::<_, SkillError>(done)
    })
}

/// The checkout of a pending licence was credited: pay the price from the wallet and activate
/// it. A licence replaced meanwhile stays as it is (the payment stays in the wallet); a wallet
/// that no longer holds the price leaves it pending, with why.
async fn paid(app: &App, id: &str) -> Result<(), SkillError> {
    let Some(license) = store::license(&app.db, id).await? else { return Ok(()) };
    if license.state() != LicenseStatus::PendingPayment {
        return Ok(());
    }
    let skill = store::get(&app.db, &license.skill_id).await?.ok_or(SkillError::NotFound)?;
    let referrer = author_referrer(app, &skill).await?;
    let amount = license.model().upfront_cents(license.price_cents);
    let now = now_ms();
    let activated = transaction!(app.db, |c| async {
        pay_in(c, app, &skill, referrer.as_deref(), &license.buyer_id, amount, id).await?;
        let mut changes = Changes::default().int("paid_cents", amount).no_text("status_reason");
        if license.model() == PricingModel::Subscription {
            changes = changes.int("expires_at", now + app.config.marketplace.subscription_period_ms());
        }
        let pending = [LicenseStatus::PendingPayment];
        if !store::transition(c, id, &pending, LicenseStatus::Active, &changes).await? {
            return Err(SkillError::Transition { action: "activate", status: "changed".into() });
        }
        store::count_install_in(c, &skill.id).await?;
        Ok::<_, SkillError>(())
    });
    if let Err(SkillError::Ledger(LedgerError::InsufficientFunds)) = activated {
        let why =
            Changes::default().text("status_reason", "the payment arrived but the wallet no longer holds the price");
        let pending = [LicenseStatus::PendingPayment];
        transaction!(app.db, |c| store::transition(c, id, &pending, LicenseStatus::PendingPayment, &why))?;
        return Ok(());
    }
    activated
}
