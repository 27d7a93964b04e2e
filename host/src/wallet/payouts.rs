//! Withdrawals leave the platform through a payout provider. The built-in provider records
//! the payout as pending for an operator to pay by hand; a Stripe Connect provider plugs in
//! behind the same trait. The money leaves the wallet (into the payouts-in-flight account)
//! in the same transaction that records the payout, so a payout can never be paid twice
//! or without funds.

use std::future::Future;
use std::pin::Pin;

use crate::db::{new_id, now_ms, Db};
use crate::transaction;
use crate::wallet::ledger::{self, LedgerError, Transfer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutStatus {
    Pending,
    Paid,
}

impl PayoutStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            PayoutStatus::Pending => "pending",
            PayoutStatus::Paid => "paid",
        }
    }
}

pub struct PayoutRequest<'a> {
    pub payout_id: &'a str,
    pub agent_id: &'a str,
    pub amount_cents: i64,
}

pub struct PayoutReceipt {
    pub status: PayoutStatus,
    pub provider_ref: Option<String>,
}

pub trait PayoutProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Asks the provider to pay out. Called after the money has left the wallet.
    fn submit<'a>(&'a self, req: PayoutRequest<'a>) -> PayoutFuture<'a>;
}

pub type PayoutFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<PayoutReceipt>> + Send + 'a>>;

/// Records payouts as pending; an operator pays them outside the platform.
pub struct ManualPayouts;

impl PayoutProvider for ManualPayouts {
    fn name(&self) -> &'static str {
        "manual"
    }
    fn submit<'a>(&'a self, _req: PayoutRequest<'a>) -> PayoutFuture<'a> {
        Box::pin(async { Ok(PayoutReceipt { status: PayoutStatus::Pending, provider_ref: None }) })
    }
}

pub struct Payout {
    pub id: String,
    pub status: PayoutStatus,
    pub transfer: Transfer,
}

/// Takes `amount` of withdrawable money out of the agent's wallet and hands it to the provider.
pub async fn withdraw(
    db: &Db,
    provider: &dyn PayoutProvider,
    agent_id: &str,
    amount: i64,
) -> Result<Payout, LedgerError> {
    let payout_id = new_id();
    let backend = db.backend;
    let transfer = transaction!(db, |c| async {
        let t = ledger::withdraw_in(c, backend, agent_id, amount, &payout_id).await?;
        sqlx::query(
            "INSERT INTO payouts (id, agent_id, amount, status, provider, transfer_id, created_at, updated_at) \
             VALUES ($1, $2, $3, 'requested', $4, $5, $6, $6)",
        )
        .bind(&payout_id)
        .bind(agent_id)
        .bind(amount)
        .bind(provider.name())
        .bind(&t.id)
        .bind(now_ms())
        .execute(&mut *c)
        .await?;
        Ok::<_, LedgerError>(t)
    })?;
    let status = match provider.submit(PayoutRequest { payout_id: &payout_id, agent_id, amount_cents: amount }).await {
        Ok(receipt) => {
            sqlx::query("UPDATE payouts SET status = $1, provider_ref = $2, updated_at = $3 WHERE id = $4")
                .bind(receipt.status.as_str())
                .bind(receipt.provider_ref)
                .bind(now_ms())
                .bind(&payout_id)
                .execute(&db.write)
                .await?;
            receipt.status
        }
        Err(e) => {
            // The money is safely in the payouts account; the payout stays 'requested' for an
            // operator to retry or pay by hand.
            tracing::error!(payout = %payout_id, error = %format!("{e:#}"), "payout provider failed");
            PayoutStatus::Pending
        }
    };
    Ok(Payout { id: payout_id, status, transfer })
}
