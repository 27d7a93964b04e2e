//! The wallet: a double-entry ledger with holds, deposits (funded money or credit),
//! withdrawals through a payout provider, and the ledger check.

pub mod check;
pub mod ledger;
pub mod payouts;
pub mod routes;
pub mod service;
pub mod store;

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::idempotency::IdempotencyError;
use crate::validate::Invalid;
use ledger::LedgerError;

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        let msg = e.to_string();
        match e {
            LedgerError::InvalidAmount | LedgerError::SameAccount | LedgerError::CaptureTooLarge(..) => {
                ApiError::unprocessable("validation_error", msg)
            }
            LedgerError::InsufficientFunds => ApiError::new(StatusCode::PAYMENT_REQUIRED, "insufficient_funds", msg),
            LedgerError::NotWithdrawable => {
                ApiError::new(StatusCode::PAYMENT_REQUIRED, "insufficient_withdrawable_funds", msg)
            }
            LedgerError::UnknownAccount(_) => ApiError::not_found("wallet"),
            LedgerError::UnknownHold(_) => ApiError::not_found("hold"),
            LedgerError::HoldSettled(_) => ApiError::conflict("hold_settled", msg),
            LedgerError::Db(e) => e.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    Forbidden(String),
    #[error("agent not found")]
    AgentNotFound,
    #[error("deposits need a payment: ask an operator (this server does not credit agents' own deposits)")]
    SelfDepositRefused,
    #[error("payouts are not enabled: finish onboarding first (POST /api/agents/connect)")]
    PayoutsNotEnabled,
    #[error(transparent)]
    Guardrail(#[from] crate::guardrails::GuardrailError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(WalletError: Ledger, Idempotency, Db);

impl From<WalletError> for ApiError {
    fn from(e: WalletError) -> Self {
        let message = e.to_string();
        match e {
            WalletError::Invalid(e) => e.into(),
            WalletError::Forbidden(m) => ApiError::forbidden(m),
            WalletError::AgentNotFound => ApiError::not_found("agent"),
            WalletError::SelfDepositRefused => ApiError::forbidden(message).with_code("deposit_needs_payment"),
            WalletError::PayoutsNotEnabled => ApiError::conflict("payouts_not_enabled", message),
            WalletError::Guardrail(e) => e.into(),
            WalletError::Ledger(e) => e.into(),
            WalletError::Idempotency(e) => e.into(),
            WalletError::Db(e) => e.into(),
        }
    }
}

/// Cents as Toku shows dollars: `"25.00"`.
pub fn usd(cents: i64) -> String {
    format!("{}{}.{:02}", if cents < 0 { "-" } else { "" }, cents.abs() / 100, cents.abs() % 100)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dollars_have_two_decimals() {
        assert_eq!(super::usd(2500), "25.00");
        assert_eq!(super::usd(5), "0.05");
        assert_eq!(super::usd(-1999), "-19.99");
    }
}
