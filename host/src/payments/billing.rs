//! Tokaroo's billing over the wallet: charges of the saved card (direct top-ups and auto pay),
//! auto pay settings, the saved card, and the first-key activation checklist.
//!
//! A charge is recorded `pending` before the provider is asked, with its id as the provider's
//! idempotency key. The answer ends it in the transaction that credits it. A host that stopped
//! in between leaves it pending; `jobs::settle_charges` asks the provider again with the same
//! key, which answers with the first outcome and never charges twice.

use serde_json::json;

use super::provider::{ChargeOutcome, ChargeRequest};
use super::service::{credit, payment_cents};
use super::store::{self, ChargeReason, ChargeRow, ChargeStatus, NewCharge, Profile};
use super::PaymentError;
use crate::db::{new_id, now_ms, rfc3339};
use crate::events::{self, types};
use crate::idempotency::Answer;
use crate::state::App;
use crate::transaction;
use crate::validate;

/// A top-up that went through.
pub struct TopUp {
    pub balance_cents: i64,
}

/// Charges `amount` cents (the auto pay amount when `None`) to the agent's saved card and
/// credits it.
pub async fn charge_saved_card(
    app: &App,
    agent_id: &str,
    amount: Option<i64>,
    reason: ChargeReason,
    answer: Answer<'_, TopUp>,
) -> Result<TopUp, PaymentError> {
    let profile = store::profile(&app.db, agent_id).await?;
    let amount = match (amount, profile.autopay_amount_cents) {
        (Some(cents), _) => cents,
        (None, 0) => return Err(validate::fail("amount_usd", "is required when auto pay has no amount").into()),
        (None, cents) => cents,
    };
    let amount = payment_cents(app, "amount_usd", amount)?;
    let (Some(customer), Some(card)) = (profile.customer_ref.as_deref(), profile.card.as_ref()) else {
        return Err(PaymentError::NoCard);
    };
    let id = new_id();
    let new = NewCharge {
        id: &id,
        agent_id,
        provider: app.payments.name(),
        amount_cents: amount,
        reason,
        customer_ref: customer,
        card_ref: &card.card_ref,
    };
    transaction!(app.db, |c| store::insert_charge(c, &new))?;
    match ask_and_settle(app, &ChargeRow::from(&new), &answer).await? {
        Settled::Credited { balance_cents } => Ok(TopUp { balance_cents }),
        Settled::Declined { reason } => Err(PaymentError::Declined(reason)),
        Settled::Before => Ok(TopUp { balance_cents: app.ledger.balance(agent_id).await?.balance_cents }),
    }
}

/// What recording a provider's answer did.
enum Settled {
    Credited {
        balance_cents: i64,
    },
    Declined {
        reason: String,
    },
    /// The charge had been ended before (by a retry of the same question).
    Before,
}

/// Asks the provider to make the charge (again: the same id never charges twice) and records
/// its answer.
async fn ask_and_settle(app: &App, charge: &ChargeRow, answer: &Answer<'_, TopUp>) -> Result<Settled, PaymentError> {
    let request = ChargeRequest {
        charge_id: &charge.id,
        customer_ref: &charge.customer_ref,
        card_ref: &charge.card_ref,
        amount_cents: charge.amount_cents,
    };
    let outcome = app.payments.charge_card(request).await.map_err(PaymentError::ChargePending)?;
    settle(app, charge, outcome, answer).await
}

/// Records the provider's answer about a pending charge: credited once if it succeeded,
/// `payment.failed` recorded if it was declined. Nothing if it was already ended.
async fn settle(
    app: &App,
    charge: &ChargeRow,
    outcome: ChargeOutcome,
    answer: &Answer<'_, TopUp>,
) -> Result<Settled, PaymentError> {
    let agent = &charge.agent_id;
    transaction!(app.db, |c| async {
        match &outcome {
            ChargeOutcome::Succeeded { provider_ref } => {
                if !store::end_charge(c, &charge.id, ChargeStatus::Succeeded, Some(provider_ref), None).await? {
                    return Ok(Settled::Before);
                }
                let description = match charge.reason {
                    ChargeReason::Autopay => "Auto pay from the saved card",
                    ChargeReason::TopUp => "Top-up from the saved card",
                };
                let transfer = credit(c, agent, charge.amount_cents, description, &charge.id).await?;
                store::charge_credited(c, &charge.id, &transfer.id).await?;
                let done = TopUp { balance_cents: transfer.credit_balance_after };
                answer.record_in(c, &done).await?;
                Ok(Settled::Credited { balance_cents: done.balance_cents })
            }
            ChargeOutcome::Declined { reason } => {
                if !store::end_charge(c, &charge.id, ChargeStatus::Failed, None, Some(reason)).await? {
                    return Ok(Settled::Before);
                }
                let data = json!({"paymentId": charge.id, "amountCents": charge.amount_cents,
                    "reason": charge.reason.as_str(), "message": reason});
                let body = events::toku_payload(types::PAYMENT_FAILED, agent, data);
                events::record(c, types::PAYMENT_FAILED, agent, Some(&charge.id), &body).await?;
                Ok::<_, PaymentError>(Settled::Declined { reason: reason.clone() })
            }
        }
    })
}

/// Auto pay settings as the account sees them.
pub struct Autopay {
    pub enabled: bool,
    pub amount_cents: i64,
    pub threshold_cents: i64,
}

pub fn autopay_of(app: &App, profile: &Profile) -> Autopay {
    Autopay {
        enabled: profile.autopay_enabled,
        amount_cents: profile.autopay_amount_cents,
        threshold_cents: match profile.autopay_threshold_cents {
            0 => app.config.payments.autopay_threshold_cents,
            chosen => chosen,
        },
    }
}

/// Changes what is given; turning auto pay on needs an amount.
pub async fn set_autopay(
    app: &App,
    agent_id: &str,
    enabled: Option<bool>,
    amount_cents: Option<i64>,
    threshold_cents: Option<i64>,
) -> Result<Autopay, PaymentError> {
    let profile = store::profile(&app.db, agent_id).await?;
    let amount = match amount_cents {
        Some(a) => payment_cents(app, "amount_usd", a)?,
        None => profile.autopay_amount_cents,
    };
    let threshold = match threshold_cents {
        Some(t) => validate::cents("threshold_usd", t, 0, app.config.money.max_deposit_cents)?,
        None => profile.autopay_threshold_cents,
    };
    let enabled = enabled.unwrap_or(profile.autopay_enabled);
    if enabled && amount == 0 {
        return Err(validate::fail("amount_usd", "auto pay needs the amount to top up by").into());
    }
    transaction!(app.db, |c| store::set_autopay(c, agent_id, enabled, amount, threshold))?;
    Ok(autopay_of(app, &store::profile(&app.db, agent_id).await?))
}

/// Removes the saved card at the provider and here. True if there was one.
pub async fn remove_card(app: &App, agent_id: &str) -> Result<bool, PaymentError> {
    let Some(card) = store::profile(&app.db, agent_id).await?.card else { return Ok(false) };
    app.payments.remove_card(&card.card_ref).await.map_err(PaymentError::Provider)?;
    transaction!(app.db, |c| store::set_card(c, agent_id, None))?;
    Ok(true)
}

/// The first-key activation checklist.
pub struct Activation {
    pub key_count: i64,
    pub balance_cents: i64,
    pub funded: bool,
    pub has_saved_card: bool,
    pub autopay: Autopay,
    pub terms_accepted_at: Option<String>,
    pub terms_version: String,
    pub missing: Vec<&'static str>,
    pub payments_url: String,
    pub terms_url: String,
}

impl Activation {
    /// Everything but the payment is in place.
    pub fn ready_for_payment(&self) -> bool {
        self.missing.iter().all(|m| *m == "payment")
    }
    pub fn ready_for_first_key(&self) -> bool {
        self.missing.is_empty()
    }
}

pub async fn activation(app: &App, agent_id: &str) -> Result<Activation, PaymentError> {
    let profile = store::profile(&app.db, agent_id).await?;
    let funded = store::has_paid(&app.db, agent_id).await?;
    let version = app.config.payments.billing_terms_version.clone();
    let accepted = profile.terms_version.as_deref() == Some(version.as_str());
    let autopay = autopay_of(app, &profile);
    let mut missing = Vec::new();
    for (done, requirement) in [
        (funded, "payment"),
        (profile.card.is_some(), "saved_card"),
        (autopay.enabled, "auto_pay"),
        (accepted, "terms_acceptance"),
    ] {
        if !done {
            missing.push(requirement);
        }
    }
    let public = app.public_url.get();
    Ok(Activation {
        key_count: crate::gateway::keys::live_count(app, agent_id).await?,
        balance_cents: app.ledger.balance(agent_id).await?.balance_cents,
        funded,
        has_saved_card: profile.card.is_some(),
        autopay,
        terms_accepted_at: profile.terms_accepted_at.filter(|_| accepted).map(rfc3339),
        terms_version: version,
        missing,
        payments_url: format!("{public}/v1/billing/checkout"),
        terms_url: match app.config.payments.billing_terms_url.as_str() {
            "" => format!("{public}/pay/terms"),
            url => url.to_string(),
        },
    })
}

pub async fn accept_terms(app: &App, agent_id: &str, accepted: bool) -> Result<Activation, PaymentError> {
    if !accepted {
        return Err(PaymentError::TermsNotAccepted);
    }
    let version = &app.config.payments.billing_terms_version;
    transaction!(app.db, |c| store::accept_terms(c, agent_id, version))?;
    activation(app, agent_id).await
}

/// Auto pay waits this long after a declined charge before it tries the card again.
pub const AUTOPAY_RETRY_AFTER_MS: i64 = 3_600_000;

/// Tops up every balance with auto pay on that fell below its threshold; how many were charged.
pub async fn run_autopay(app: &App) -> Result<usize, PaymentError> {
    let mut charged = 0;
    let mut after = String::new();
    loop {
        let profiles = store::autopay_profiles(&app.db, &after, 200).await?;
        let Some(last) = profiles.last() else { break };
        after = last.agent_id.clone();
        for profile in &profiles {
            let autopay = autopay_of(app, profile);
            let balance = app.ledger.balance(&profile.agent_id).await?.balance_cents;
            if balance >= autopay.threshold_cents
                || store::autopay_blocked(&app.db, &profile.agent_id, now_ms() - AUTOPAY_RETRY_AFTER_MS).await?
            {
                continue;
            }
            let agent = &profile.agent_id;
            match charge_saved_card(app, agent, Some(autopay.amount_cents), ChargeReason::Autopay, Answer::none()).await
            {
                Ok(_) => charged += 1,
                // Recorded as `payment.failed`; tried again after AUTOPAY_RETRY_AFTER_MS.
                Err(PaymentError::Declined(_)) | Err(PaymentError::NoCard) | Err(PaymentError::Invalid(_)) => {}
                // Settled by `settle_stale_charges`; auto pay waits while it is pending.
                Err(PaymentError::ChargePending(e)) => {
                    tracing::warn!(error = %format!("{e:#}"), "auto pay charge pending")
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(charged)
}

/// Asks the provider again about charges left pending by a host that stopped; how many ended.
pub async fn settle_stale_charges(app: &App, older_than_ms: i64) -> Result<usize, PaymentError> {
    let mut ended = 0;
    for charge in store::stale_charges(&app.db, now_ms() - older_than_ms, 100).await? {
        ask_and_settle(app, &charge, &Answer::none()).await?;
        ended += 1;
    }
    Ok(ended)
}
