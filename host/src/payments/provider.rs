//! The payment provider port: how money comes in from outside (checkout sessions, charges of a
//! saved card), how its signed callbacks are read, and how agents are onboarded to be paid
//! out. The built-in `test` provider and Stripe implement it; the services never know which.

use std::future::Future;
use std::pin::Pin;

use axum::http::HeaderMap;

pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send + 'a>>;

/// A checkout session to create at the provider.
pub struct CheckoutRequest<'a> {
    /// Ours: it comes back in the provider's callback.
    pub checkout_id: &'a str,
    pub customer_ref: &'a str,
    pub amount_cents: i64,
    pub description: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

pub struct CheckoutSession {
    pub provider_ref: String,
    /// Where the payer pays.
    pub url: String,
}

/// A card saved at the provider for later charges.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedCard {
    #[serde(rename = "ref")]
    pub card_ref: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

/// A charge of a saved card, made without the payer present.
pub struct ChargeRequest<'a> {
    /// Ours, and the provider's idempotency key: asking again never charges twice.
    pub charge_id: &'a str,
    pub customer_ref: &'a str,
    pub card_ref: &'a str,
    pub amount_cents: i64,
}

pub enum ChargeOutcome {
    Succeeded {
        provider_ref: String,
    },
    /// The card was refused; the reason is the provider's.
    Declined {
        reason: String,
    },
}

/// Where a payout account stands at the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountStatus {
    pub details_submitted: bool,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
}

/// What a verified callback says.
pub enum Notice {
    /// A checkout was paid. `amount_cents` and `currency` are what the payer paid.
    CheckoutPaid {
        checkout_id: String,
        provider_ref: String,
        amount_cents: i64,
        currency: String,
        card: Option<SavedCard>,
    },
    /// A checkout ran out without payment.
    CheckoutExpired {
        checkout_id: String,
    },
    AccountUpdated {
        account_ref: String,
        status: AccountStatus,
    },
    /// An event this platform does not act on; acknowledged all the same.
    Ignored {
        event_type: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Not from the provider (bad or missing signature, stale timestamp) or not readable.
    #[error("{0}")]
    Refused(String),
    /// The callback is genuine but cannot be acted on now; the provider sends it again.
    #[error(transparent)]
    Unavailable(#[from] anyhow::Error),
}

pub type CallbackFuture<'a> = Pin<Box<dyn Future<Output = Result<Notice, CallbackError>> + Send + 'a>>;

pub trait PaymentProvider: Send + Sync {
    /// Stored with every record the provider made, e.g. `stripe`.
    fn name(&self) -> &'static str;
    /// The provider's customer for an agent, made on first use.
    fn ensure_customer<'a>(&'a self, agent_id: &'a str, existing: Option<&'a str>) -> ProviderFuture<'a, String>;
    fn create_checkout<'a>(&'a self, req: CheckoutRequest<'a>) -> ProviderFuture<'a, CheckoutSession>;
    /// Verifies a callback's signature over the raw body and reads it.
    fn read_callback<'a>(&'a self, headers: &'a HeaderMap, body: &'a [u8]) -> CallbackFuture<'a>;
    fn charge_card<'a>(&'a self, req: ChargeRequest<'a>) -> ProviderFuture<'a, ChargeOutcome>;
    fn remove_card<'a>(&'a self, card_ref: &'a str) -> ProviderFuture<'a, ()>;
    /// A new payout account for the agent.
    fn create_account<'a>(&'a self, agent_id: &'a str) -> ProviderFuture<'a, String>;
    /// Where the agent's operator completes onboarding.
    fn onboarding_link<'a>(
        &'a self,
        account_ref: &'a str,
        return_url: &'a str,
        refresh_url: &'a str,
    ) -> ProviderFuture<'a, String>;
    /// The account's status asked of the provider; `None` when it only reports by callback.
    fn account_status<'a>(&'a self, account_ref: &'a str) -> ProviderFuture<'a, Option<AccountStatus>>;
}
