//! Payments in and out: checkouts that credit the wallet once their provider's signed callback
//! says they were paid, charges of a saved card (direct top-ups and auto pay), payout accounts
//! onboarded at the provider, and Tokaroo's billing surface over the same wallet. The provider
//! is a port (`provider`): the built-in `test` provider or Stripe.

pub mod billing;
pub mod billing_routes;
pub mod jobs;
pub mod pages;
pub mod provider;
pub mod routes;
pub mod service;
pub mod signature;
pub mod store;
pub mod stripe;
pub mod test_provider;

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::idempotency::IdempotencyError;
use crate::validate::Invalid;
use crate::wallet::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("checkout not found")]
    CheckoutNotFound,
    #[error("no payment provider called {0} is configured here")]
    UnknownProvider(String),
    #[error("callback refused: {0}")]
    CallbackRefused(String),
    #[error("no saved card: pay a checkout first (POST /v1/billing/checkout); its card is saved")]
    NoCard,
    #[error("the card was declined: {0}")]
    Declined(String),
    #[error("the payment provider did not answer; nothing was charged twice, try again")]
    Provider(#[source] anyhow::Error),
    #[error("the payment provider did not answer; the charge is pending and is settled within minutes, credited once if it went through: check the balance before trying again")]
    ChargePending(#[source] anyhow::Error),
    #[error("accept the billing terms with {{\"accepted\": true}}")]
    TermsNotAccepted,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(PaymentError: Ledger, Idempotency, Db);

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        let message = e.to_string();
        match e {
            PaymentError::Invalid(e) => e.into(),
            PaymentError::CheckoutNotFound => ApiError::not_found("checkout"),
            PaymentError::UnknownProvider(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            PaymentError::CallbackRefused(_) => ApiError::bad_request("invalid_signature", message),
            PaymentError::NoCard => ApiError::new(StatusCode::PAYMENT_REQUIRED, "no_card", message),
            PaymentError::Declined(_) => ApiError::new(StatusCode::PAYMENT_REQUIRED, "payment_failed", message),
            PaymentError::Provider(source) => {
                tracing::warn!(error = %format!("{source:#}"), "payment provider call failed");
                ApiError::new(StatusCode::BAD_GATEWAY, "provider_unavailable", message)
            }
            PaymentError::ChargePending(source) => {
                tracing::warn!(error = %format!("{source:#}"), "a card charge's answer was lost; it stays pending");
                ApiError::new(StatusCode::BAD_GATEWAY, "charge_pending", message)
            }
            PaymentError::TermsNotAccepted => ApiError::unprocessable("validation_error", message),
            PaymentError::Ledger(e) => e.into(),
            PaymentError::Idempotency(e) => e.into(),
            PaymentError::Db(e) => e.into(),
        }
    }
}

/// USD as the billing API spells it (a JSON number such as `25` or `12.5`) in cents, exactly:
/// the number's decimal text is read, never multiplied as a float.
pub fn usd_to_cents(field: &str, usd: &serde_json::Number) -> Result<i64, Invalid> {
    let text = usd.to_string();
    let bad = || crate::validate::fail(field, "must be an amount in dollars with at most two decimals");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.starts_with('-') || text.contains(['e', 'E']) || fraction.len() > 2 {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let fraction: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<2}").parse().map_err(|_| bad())? };
    whole.checked_mul(100).and_then(|c| c.checked_add(fraction)).ok_or_else(bad)
}

/// Cents as the billing API's USD number.
pub fn cents_to_usd(cents: i64) -> f64 {
    cents as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(json: &str) -> Result<i64, Invalid> {
        usd_to_cents("amount_usd", &serde_json::from_str(json).unwrap())
    }

    #[test]
    fn dollars_become_exact_cents() {
        assert_eq!(cents("25").unwrap(), 2500);
        assert_eq!(cents("12.5").unwrap(), 1250);
        assert_eq!(cents("0.1").unwrap(), 10);
        assert_eq!(cents("19.99").unwrap(), 1999);
        assert_eq!(cents("0.29").unwrap(), 29, "0.29 * 100 is 28.999... as a float");
        for bad in ["-5", "1.234", "1e300", "92233720368547758.07"] {
            assert!(cents(bad).is_err(), "{bad}");
        }
        assert_eq!(cents_to_usd(1999), 19.99);
    }
}
