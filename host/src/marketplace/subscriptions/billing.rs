//! A subscription's money, by billing period (`subscription_period_days`). A period's price is
//! held in escrow from the subscriber when the period begins (subscribing, resuming, renewing)
//! and paid to the provider when it ends. Pausing or cancelling ends it early, pro rata: the
//! provider is paid for the days begun (price × days begun ÷ days in the period, rounded down)
//! and the subscriber gets the rest back. The compute of the period's component runs is the
//! provider's cost (see `marketplace::escrow`).

use super::model::{SubscriptionRow, SubscriptionStatus};
use super::store;
use super::SubscriptionError;
use crate::db::sql::Changes;
use crate::db::{now_ms, Conn};
use crate::events::{self, types};
use crate::marketplace::escrow::{self, Escrow};
use crate::state::App;
use crate::transaction;
use crate::wallet::ledger::{self, LedgerError, Payee};

const DAY_MS: i64 = 24 * 3_600_000;

fn period_days(app: &App) -> i64 {
    i64::from(app.config.marketplace.subscription_period_days)
}

/// Holds a new period's price from the subscriber and makes the subscription ACTIVE from
/// `start`, with its next run at `run_at` (kept as it is when `None`), if it is in `from`; in
/// the caller's transaction. `InsufficientFunds` when the wallet is short; false when the
/// subscription was not in `from` (any more): the caller must roll back.
pub async fn open_period_in(
    c: &mut Conn,
    app: &App,
    sub: &SubscriptionRow,
    from: SubscriptionStatus,
    start: i64,
    run_at: Option<i64>,
) -> Result<bool, LedgerError> {
    let description = format!("Subscription: {}", sub.service_title);
    let hold = ledger::hold_in(c, app.db.backend, &sub.buyer_id, sub.price_cents, &description, Some(&sub.id)).await?;
    let changes = Changes::default()
        .text("status", SubscriptionStatus::Active.as_str())
        .text("hold_id", &hold.id)
        .int("period_start", start)
        .int("next_billing_at", start + period_days(app) * DAY_MS)
        .int("compute_cents", 0)
        .no_text("paused_reason")
        .no_int("paused_at");
    let changes = match run_at {
        Some(at) => changes.int("next_run_at", at),
        None => changes,
    };
    Ok(store::update(c, &sub.id, &[from], None, &changes).await?)
}

/// The provider's part of the period's price at `now`: the days begun.
pub fn earned_by(app: &App, sub: &SubscriptionRow, now: i64) -> i64 {
    let start = sub.period_start.unwrap_or(now);
    // A period's first day has begun the instant the period starts, even if no millisecond
    // has passed since.
    let days_begun = ((now - start).max(1) + DAY_MS - 1) / DAY_MS;
    sub.price_cents * days_begun.min(period_days(app)) / period_days(app)
}

/// Ends the period: `earned` of its escrow to the provider (less compute and the fee, the
/// provider's referrer earning its share of the fee), the rest back to the subscriber; in the
/// caller's transaction.
pub async fn close_period_in(c: &mut Conn, app: &App, sub: &SubscriptionRow, earned: i64) -> Result<(), LedgerError> {
    let held = Escrow {
        hold_id: sub.hold_id.as_deref(),
        payee: Payee::new(&sub.provider_id, sub.provider_referrer.as_deref()),
        compute: sub.compute_cents,
        ref_id: &sub.id,
    };
    escrow::pay_out_in(c, app, &held, earned).await
}

/// Subscriptions renewed per sweep at most; the next sweep takes the rest.
const PER_SWEEP: i64 = 500;

/// Ends every period that is over, paying its provider, and opens the next; a subscriber who
/// cannot pay it is paused and told. Returns how many were renewed.
pub async fn renew_due(app: &App) -> Result<usize, SubscriptionError> {
    let mut renewed = 0;
    for id in store::due(&app.db, "next_billing_at", PER_SWEEP).await? {
        // One subscription that cannot be renewed now does not hold up the others.
        match transaction!(app.db, |c| renew_in(c, app, &id)) {
            Ok(done) => renewed += usize::from(done),
            Err(e) => tracing::warn!(subscription = %id, error = %e, "could not renew a subscription; next sweep"),
        }
    }
    Ok(renewed)
}

async fn renew_in(c: &mut Conn, app: &App, id: &str) -> Result<bool, SubscriptionError> {
    let Some(sub) = store::get_in(c, id).await? else { return Ok(false) };
    let Some(ends) = sub.next_billing_at.filter(|at| *at <= now_ms()) else { return Ok(false) };
    if sub.state() != SubscriptionStatus::Active {
        return Ok(false);
    }
    close_period_in(c, app, &sub, sub.price_cents).await?;
    let balance = ledger::balance_in(&mut *c, &sub.buyer_id).await?.balance_cents;
    if balance >= sub.price_cents {
        if !open_period_in(c, app, &sub, SubscriptionStatus::Active, ends, None).await? {
            return Err(SubscriptionError::Transition { action: "renew", status: sub.status.clone() });
        }
        return Ok(true);
    }
    let changes = Changes::default()
        .text("status", SubscriptionStatus::Paused.as_str())
        .text("paused_reason", "payment_failed")
        .stamp("paused_at")
        .no_text("hold_id")
        .no_int("period_start")
        .no_int("next_run_at")
        .no_int("next_billing_at")
        .int("compute_cents", 0);
    store::update(c, id, &[SubscriptionStatus::Active], None, &changes).await?;
    let data = serde_json::json!({
        "subscriptionId": sub.id,
        "serviceId": sub.service_id,
        "serviceName": sub.service_title,
        "priceCents": sub.price_cents,
        "balanceCents": balance,
        "status": SubscriptionStatus::Paused.as_str(),
        "reason": "payment_failed",
    });
    let body = events::toku_payload(types::SUBSCRIPTION_PAYMENT_FAILED, &sub.buyer_id, data);
    let subject = format!("{}:{ends}", sub.id);
    events::record(c, types::SUBSCRIPTION_PAYMENT_FAILED, &sub.buyer_id, Some(&subject), &body).await?;
    tracing::info!(subscription = %sub.id, "paused a subscription its subscriber could not pay");
    Ok(false)
}
