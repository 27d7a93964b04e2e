//! The wallet: a double-entry ledger with holds, deposits, withdrawals through a payout
//! provider, and the ledger check.

pub mod check;
pub mod ledger;
pub mod payouts;
pub mod routes;

use axum::http::StatusCode;

use crate::error::ApiError;
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
