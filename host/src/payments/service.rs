//! Checkouts, the provider's callbacks, and payout accounts.
//!
//! Exactly once: a checkout is credited in the transaction that moves it to `paid`, and only
//! the callback whose update did that credits it. Replays, retries and a second host see it
//! paid and do nothing.

use crate::db::Conn;
use axum::http::HeaderMap;
use serde_json::json;

use super::provider::{AccountStatus, CallbackError, CheckoutRequest, Notice, SavedCard};
use super::store::{self, CheckoutRow, CheckoutStatus};
use super::PaymentError;
use crate::db::{new_id, now_ms};
use crate::events::{self, types};
use crate::idempotency::Answer;
use crate::scheduler::Deferred;
use crate::state::App;
use crate::transaction;
use crate::validate;
use crate::wallet::ledger::{self, DepositSource, Transfer};

/// Where the payer is sent after a checkout, unless the caller says.
pub struct ReturnUrls<'a> {
    pub success: Option<&'a str>,
    pub cancel: Option<&'a str>,
}

/// What a checkout pays for: a wallet deposit, or something bought with it once it is credited.
pub struct Purpose<'a> {
    /// Shown to the payer by the provider.
    pub description: &'a str,
    /// Added in the transaction that credits the payment.
    pub on_paid: Option<Deferred>,
}

impl Purpose<'_> {
    pub fn deposit() -> Self {
        Purpose { description: "Agora wallet deposit", on_paid: None }
    }
}

/// Opens a checkout of `amount` cents for the agent's wallet at the provider.
pub async fn start_checkout(
    app: &App,
    agent_id: &str,
    amount: i64,
    urls: ReturnUrls<'_>,
    purpose: Purpose<'_>,
    answer: Answer<'_, CheckoutRow>,
) -> Result<CheckoutRow, PaymentError> {
    let amount = payment_cents(app, "amountCents", amount)?;
    let id = new_id();
    let landing = |page: &str| format!("{}/pay/{page}?checkout={id}", app.public_url.get());
    let success = url_or(app, "successUrl", urls.success, landing("done"))?;
    let cancel = url_or(app, "cancelUrl", urls.cancel, landing("cancelled"))?;
    let customer = ensure_customer(app, agent_id).await?;
    let mut row = CheckoutRow {
        id: id.clone(),
        agent_id: agent_id.to_string(),
        provider: app.payments.name().to_string(),
        provider_ref: None,
        amount_cents: amount,
        url: None,
        success_url: success,
        cancel_url: cancel,
        status: CheckoutStatus::Creating,
        transfer_id: None,
        created_at: now_ms(),
        paid_at: None,
        on_paid: purpose.on_paid.as_ref().and_then(|d| serde_json::to_string(d).ok()),
    };
    transaction!(app.db, |c| store::insert_checkout(c, &row))?;
    let request = CheckoutRequest {
        checkout_id: &id,
        customer_ref: &customer,
        amount_cents: amount,
        description: purpose.description,
        success_url: &row.success_url,
        cancel_url: &row.cancel_url,
    };
    // A failure here leaves the checkout `creating`. Its URL reached nobody; should the session
    // exist at the provider and be paid all the same, the callback finds it by its id.
    let session = app.payments.create_checkout(request).await.map_err(PaymentError::Provider)?;
    row.provider_ref = Some(session.provider_ref);
    row.url = Some(session.url);
    row.status = CheckoutStatus::Open;
    transaction!(app.db, |c| async {
        store::open_checkout(c, &row).await?;
        answer.record_in(c, &row).await?;
        Ok::<_, PaymentError>(())
    })?;
    Ok(row)
}

/// An amount a payment may have: from `min_payment_cents` up to the largest deposit.
pub fn payment_cents(app: &App, field: &str, amount: i64) -> Result<i64, validate::Invalid> {
    validate::cents(field, amount, app.config.payments.min_payment_cents, app.config.money.max_deposit_cents)
}

/// The URL the caller gave, checked, or `default`.
fn url_or(app: &App, field: &str, given: Option<&str>, default: String) -> Result<String, validate::Invalid> {
    match given {
        Some(url) => validate::web_url(field, url, app.config.access.allow_insecure_urls),
        None => Ok(default),
    }
}

/// The agent's customer at the provider, made and remembered on first use.
async fn ensure_customer(app: &App, agent_id: &str) -> Result<String, PaymentError> {
    let known = store::profile(&app.db, agent_id).await?.customer_ref;
    let customer = app.payments.ensure_customer(agent_id, known.as_deref()).await.map_err(PaymentError::Provider)?;
    if known.as_deref() != Some(customer.as_str()) {
        transaction!(app.db, |c| store::set_customer(c, agent_id, &customer))?;
    }
    Ok(customer)
}

/// One of the agent's checkouts; a stranger's is not found.
pub async fn checkout_of(app: &App, agent_id: &str, id: &str) -> Result<CheckoutRow, PaymentError> {
    match store::checkout(&app.db, id).await? {
        Some(row) if row.agent_id == agent_id => Ok(row),
        _ => Err(PaymentError::CheckoutNotFound),
    }
}

/// What a callback did.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// The checkout was credited now.
    Credited,
    /// Already done before, or nothing to do: acknowledged.
    Acknowledged,
}

/// Acts on a callback of the provider named in its URL, after verifying its signature.
pub async fn receive(app: &App, provider: &str, headers: &HeaderMap, body: &[u8]) -> Result<Received, PaymentError> {
    if provider != app.payments.name() {
        return Err(PaymentError::UnknownProvider(provider.to_string()));
    }
    let notice = match app.payments.read_callback(headers, body).await {
        Ok(notice) => notice,
        Err(CallbackError::Refused(why)) => return Err(PaymentError::CallbackRefused(why)),
        Err(CallbackError::Unavailable(e)) => return Err(PaymentError::Provider(e)),
    };
    match notice {
        Notice::CheckoutPaid { checkout_id, provider_ref, amount_cents, currency, card } => {
            let Some(row) = store::checkout(&app.db, &checkout_id).await? else {
                tracing::warn!(checkout = %checkout_id, "a paid checkout this platform does not know");
                return Ok(Received::Acknowledged);
            };
            if row.provider != provider || row.amount_cents != amount_cents || !currency.eq_ignore_ascii_case("usd") {
                tracing::error!(checkout = %row.id, paid = amount_cents, %currency, expected = row.amount_cents,
                    "a checkout was paid with another amount or currency than it asked for; not credited");
                return Ok(Received::Acknowledged);
            }
            credit_checkout(app, &row, &provider_ref, card.as_ref()).await
        }
        Notice::CheckoutExpired { checkout_id } => {
            transaction!(app.db, |c| store::mark_expired(c, &checkout_id))?;
            Ok(Received::Acknowledged)
        }
        Notice::AccountUpdated { account_ref, status } => {
            let known = transaction!(app.db, |c| store::set_account_status(c, provider, &account_ref, status))?;
            if !known {
                tracing::warn!(account = %account_ref, "an update of a payout account this platform does not know");
            }
            Ok(Received::Acknowledged)
        }
        Notice::Ignored { event_type } => {
            tracing::debug!(%event_type, "payment callback not acted on");
            Ok(Received::Acknowledged)
        }
    }
}

async fn credit_checkout(
    app: &App,
    row: &CheckoutRow,
    provider_ref: &str,
    card: Option<&SavedCard>,
) -> Result<Received, PaymentError> {
    transaction!(app.db, |c| async {
        if !store::mark_paid(c, &row.id, provider_ref).await? {
            return Ok(Received::Acknowledged);
        }
        let transfer = credit(c, &row.agent_id, row.amount_cents, "Checkout payment", &row.id).await?;
        store::checkout_credited(c, &row.id, &transfer.id).await?;
        if let Some(card) = card {
            store::set_card(c, &row.agent_id, Some(card)).await?;
        }
        if let Some(then) = row.on_paid.as_deref().and_then(|j| serde_json::from_str::<Deferred>(j).ok()) {
            then.enqueue_in(c).await?;
        }
        Ok::<_, PaymentError>(Received::Credited)
    })
}

/// Credits a payment as funded money and records `payment.succeeded`, in the caller's
/// transaction.
pub async fn credit(
    c: &mut Conn,
    agent_id: &str,
    amount: i64,
    description: &str,
    payment_id: &str,
) -> Result<Transfer, PaymentError> {
    let transfer =
        ledger::deposit_in(c, agent_id, amount, DepositSource::Funded, description, Some(payment_id)).await?;
    let data = json!({
        "paymentId": payment_id,
        "amountCents": amount,
        "transactionId": transfer.id,
        "balanceAfter": transfer.credit_balance_after,
        "description": description,
    });
    let body = events::toku_payload(types::PAYMENT_SUCCEEDED, agent_id, data);
    events::record(c, types::PAYMENT_SUCCEEDED, agent_id, Some(payment_id), &body).await?;
    Ok(transfer)
}

/// Where a payout account onboarding sends the operator back to.
pub struct OnboardingUrls<'a> {
    pub return_url: Option<&'a str>,
    pub refresh_url: Option<&'a str>,
}

/// The agent's payout account (made on first call) and where its operator onboards it.
pub async fn start_onboarding(
    app: &App,
    agent_id: &str,
    urls: OnboardingUrls<'_>,
) -> Result<(String, String), PaymentError> {
    let landing = format!("{}/pay/connected", app.public_url.get());
    let return_url = url_or(app, "returnUrl", urls.return_url, landing.clone())?;
    let refresh_url = url_or(app, "refreshUrl", urls.refresh_url, landing)?;
    let provider = app.payments.name();
    let account = match store::payout_account(&app.db, agent_id).await? {
        Some(a) if a.provider == provider => a.account_ref,
        _ => {
            let made = app.payments.create_account(agent_id).await.map_err(PaymentError::Provider)?;
            transaction!(app.db, |c| store::insert_payout_account(c, agent_id, provider, &made))?
        }
    };
    let link =
        app.payments.onboarding_link(&account, &return_url, &refresh_url).await.map_err(PaymentError::Provider)?;
    Ok((link, account))
}

/// The agent's payout account and its status (asked of the provider while not yet complete).
pub async fn onboarding_status(app: &App, agent_id: &str) -> Result<Option<(String, AccountStatus)>, PaymentError> {
    let provider = app.payments.name();
    let Some(account) = store::payout_account(&app.db, agent_id).await?.filter(|a| a.provider == provider) else {
        return Ok(None);
    };
    let complete = account.status.details_submitted && account.status.payouts_enabled;
    if complete {
        return Ok(Some((account.account_ref, account.status)));
    }
    let status = match app.payments.account_status(&account.account_ref).await {
        Ok(Some(fresh)) if fresh != account.status => {
            transaction!(app.db, |c| store::set_account_status(c, provider, &account.account_ref, fresh))?;
            fresh
        }
        Ok(_) => account.status,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "could not ask the payment provider about a payout account");
            account.status
        }
    };
    Ok(Some((account.account_ref, status)))
}
