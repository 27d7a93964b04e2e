//! The built-in `test` payment provider, the default when no real one is configured: checkout
//! and onboarding pages served by this host (`/pay/test/...`, see `pages.rs`) with a button
//! that pays or finishes onboarding. Pressing it sends a callback signed like a real provider's
//! through the same path a real callback takes. No money moves anywhere outside, so what it
//! credits is as funded as an operator's deposit: an operator runs it on a laptop, in tests and
//! in demos, never where real buyers pay.
//!
//! Test cards, as Stripe's test mode has them: `4242` pays and can be charged again later;
//! `0341` pays its checkout but declines every later charge (auto pay, direct top-ups).

use axum::http::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{json, Value};

use super::provider::{
    AccountStatus, CallbackError, CallbackFuture, ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession,
    Notice, PaymentProvider, ProviderFuture, SavedCard,
};
use super::signature;
use crate::secrets::random_token;
use crate::state::PublicUrl;

pub const NAME: &str = "test";
pub const SIGNATURE_HEADER: &str = "agora-test-signature";
/// The last four digits of the test card whose later charges are declined.
pub const DECLINING_CARD: &str = "0341";

pub struct TestPayments {
    /// Where this host is reached, for the pages' links (known once it listens).
    public_url: PublicUrl,
    /// Signs this host's own callbacks; made at start, never leaves the process.
    secret: String,
}

impl TestPayments {
    pub fn new(public_url: PublicUrl) -> TestPayments {
        TestPayments { public_url, secret: random_token(40) }
    }

    /// A callback announcing that the checkout was paid with the card ending in `last4`.
    pub fn checkout_paid(&self, checkout_id: &str, amount_cents: i64, last4: &str) -> (HeaderMap, Vec<u8>) {
        let card = SavedCard {
            card_ref: format!("card_test_{last4}_{}", random_token(12)),
            brand: "visa".into(),
            last4: last4.into(),
            exp_month: 12,
            exp_year: 2034,
        };
        self.signed(json!({
            "type": "checkout.paid",
            "checkout_id": checkout_id,
            "provider_ref": provider_ref(checkout_id),
            "amount_cents": amount_cents,
            "currency": "usd",
            "card": card,
        }))
    }

    /// A callback announcing that the account finished onboarding.
    pub fn account_onboarded(&self, account_ref: &str) -> (HeaderMap, Vec<u8>) {
        self.signed(json!({"type": "account.updated", "account_ref": account_ref}))
    }

    fn signed(&self, body: Value) -> (HeaderMap, Vec<u8>) {
        let body = body.to_string().into_bytes();
        let header = signature::sign(&self.secret, chrono::Utc::now().timestamp(), &body);
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&header).expect("hex and digits"));
        (headers, body)
    }
}

fn provider_ref(checkout_id: &str) -> String {
    format!("cs_test_{checkout_id}")
}

#[derive(Deserialize)]
struct Callback {
    #[serde(rename = "type")]
    kind: String,
    checkout_id: Option<String>,
    provider_ref: Option<String>,
    amount_cents: Option<i64>,
    currency: Option<String>,
    card: Option<SavedCard>,
    account_ref: Option<String>,
}

fn read(body: &[u8]) -> Result<Notice, CallbackError> {
    let c: Callback = serde_json::from_slice(body).map_err(|e| CallbackError::Refused(format!("unreadable: {e}")))?;
    let missing = |field: &str| CallbackError::Refused(format!("{} without {field}", c.kind));
    Ok(match c.kind.as_str() {
        "checkout.paid" => Notice::CheckoutPaid {
            checkout_id: c.checkout_id.clone().ok_or_else(|| missing("checkout_id"))?,
            provider_ref: c.provider_ref.clone().ok_or_else(|| missing("provider_ref"))?,
            amount_cents: c.amount_cents.ok_or_else(|| missing("amount_cents"))?,
            currency: c.currency.clone().unwrap_or_default(),
            card: c.card,
        },
        "account.updated" => Notice::AccountUpdated {
            account_ref: c.account_ref.ok_or_else(|| missing("account_ref"))?,
            status: AccountStatus { details_submitted: true, charges_enabled: true, payouts_enabled: true },
        },
        other => Notice::Ignored { event_type: other.to_string() },
    })
}

impl PaymentProvider for TestPayments {
    fn name(&self) -> &'static str {
        NAME
    }

    fn ensure_customer<'a>(&'a self, agent_id: &'a str, existing: Option<&'a str>) -> ProviderFuture<'a, String> {
        let customer = existing.map(str::to_string).unwrap_or_else(|| format!("cus_test_{agent_id}"));
        Box::pin(async move { Ok(customer) })
    }

    fn create_checkout<'a>(&'a self, req: CheckoutRequest<'a>) -> ProviderFuture<'a, CheckoutSession> {
        let session = CheckoutSession {
            provider_ref: provider_ref(req.checkout_id),
            url: format!("{}/pay/test/checkout/{}", self.public_url.get(), req.checkout_id),
        };
        Box::pin(async move { Ok(session) })
    }

    fn read_callback<'a>(&'a self, headers: &'a HeaderMap, body: &'a [u8]) -> CallbackFuture<'a> {
        Box::pin(async move {
            let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
            signature::verify(&self.secret, header, body, chrono::Utc::now().timestamp())
                .map_err(CallbackError::Refused)?;
            read(body)
        })
    }

    fn charge_card<'a>(&'a self, req: ChargeRequest<'a>) -> ProviderFuture<'a, ChargeOutcome> {
        let outcome = if req.card_ref.starts_with(&format!("card_test_{DECLINING_CARD}_")) {
            ChargeOutcome::Declined { reason: "Your card was declined (test card 0341).".into() }
        } else {
            ChargeOutcome::Succeeded { provider_ref: format!("pi_test_{}", req.charge_id) }
        };
        Box::pin(async move { Ok(outcome) })
    }

    fn remove_card<'a>(&'a self, _card_ref: &'a str) -> ProviderFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn create_account<'a>(&'a self, _agent_id: &'a str) -> ProviderFuture<'a, String> {
        Box::pin(async { Ok(format!("acct_test_{}", random_token(16))) })
    }

    fn onboarding_link<'a>(
        &'a self,
        account_ref: &'a str,
        return_url: &'a str,
        _: &'a str,
    ) -> ProviderFuture<'a, String> {
        let query = serde_urlencoded::to_string([("return_url", return_url)]).unwrap_or_default();
        let url = format!("{}/pay/test/connect/{account_ref}?{query}", self.public_url.get());
        Box::pin(async move { Ok(url) })
    }

    fn account_status<'a>(&'a self, _account_ref: &'a str) -> ProviderFuture<'a, Option<AccountStatus>> {
        Box::pin(async { Ok(None) })
    }
}
