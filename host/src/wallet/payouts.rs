//! Withdrawals leave the platform through a payout provider. The built-in provider leaves the
//! payout pending for an operator to pay by hand; Stripe (`payments::stripe`) pays to the
//! agent's connected account. The money leaves the wallet (into the payouts-in-flight account) in the
//! transaction that records the payout, so a payout can never be paid twice or without funds.

use std::future::Future;
use std::pin::Pin;

crate::stored_enum! {
    /// Where a payout stands.
    pub enum PayoutStatus { Pending => "pending", Paid => "paid" }
}

pub struct PayoutRequest<'a> {
    pub payout_id: &'a str,
    pub agent_id: &'a str,
    pub amount_cents: i64,
    /// The agent's payout account at the provider, for providers that pay to one.
    pub destination: Option<&'a str>,
}

pub struct PayoutReceipt {
    pub status: PayoutStatus,
    pub provider_ref: Option<String>,
}

pub type PayoutFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<PayoutReceipt>> + Send + 'a>>;

pub trait PayoutProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether payouts go to an account the agent onboarded (`/api/agents/connect`).
    fn needs_account(&self) -> bool {
        false
    }
    /// Asks the provider to pay out. Called after the money has left the wallet.
    fn submit<'a>(&'a self, req: PayoutRequest<'a>) -> PayoutFuture<'a>;
}

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
