//! Stripe behind the payment and payout ports: Customers, Checkout Sessions (the card saved
//! for later off-session charges), PaymentIntents for those charges, Express accounts with
//! account links for onboarding, Transfers for payouts, and signed webhook events. Requests
//! are form-encoded with the secret key as bearer; every call that moves money carries our
//! record's id as its `Idempotency-Key`, so asking again never pays twice.

use std::time::Duration;

use anyhow::{anyhow, Context};
use axum::http::HeaderMap;
use serde_json::Value;

use super::provider::{
    AccountStatus, CallbackError, CallbackFuture, ChargeOutcome, ChargeRequest, CheckoutRequest, CheckoutSession,
    Notice, PaymentProvider, ProviderFuture, SavedCard,
};
use super::signature;
use crate::wallet::payouts::{PayoutFuture, PayoutProvider, PayoutReceipt, PayoutRequest, PayoutStatus};

pub const NAME: &str = "stripe";
/// The API version the requests and events are read as.
pub const API_VERSION: &str = "2024-06-20";

#[derive(Clone)]
pub struct Stripe {
    http: reqwest::Client,
    api_url: String,
    secret_key: String,
    webhook_secret: String,
}

impl Stripe {
    pub fn new(api_url: &str, secret_key: &str, webhook_secret: &str) -> anyhow::Result<Stripe> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        Ok(Stripe {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            secret_key: secret_key.to_string(),
            webhook_secret: webhook_secret.to_string(),
        })
    }

    /// A call to the API: its JSON answer, or its error object as an error.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Result<Value, Value>> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.api_url))
            .bearer_auth(&self.secret_key)
            .header("Stripe-Version", API_VERSION);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        if method == reqwest::Method::GET {
            req = req.query(form);
        } else {
            req = req.form(form);
        }
        let resp = req.send().await.with_context(|| format!("stripe {path}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.with_context(|| format!("stripe {path}: unreadable answer"))?;
        if status.is_success() {
            Ok(Ok(body))
        } else if status.is_client_error() && status.as_u16() != 429 {
            Ok(Err(body["error"].clone()))
        } else {
            Err(anyhow!("stripe {path}: {status}"))
        }
    }

    /// A call that must succeed.
    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Value> {
        self.call(method, path, form, idempotency_key)
            .await?
            .map_err(|e| anyhow!("stripe {path}: {}", e["message"].as_str().unwrap_or("refused")))
    }

    async fn card_of_payment(&self, payment_intent: &str) -> anyhow::Result<Option<SavedCard>> {
        let form = [("expand[]", "payment_method".to_string())];
        let intent =
            self.expect(reqwest::Method::GET, &format!("/v1/payment_intents/{payment_intent}"), &form, None).await?;
        let method = &intent["payment_method"];
        let card = &method["card"];
        Ok(method["id"].as_str().filter(|_| card.is_object()).map(|id| SavedCard {
            card_ref: id.to_string(),
            brand: card["brand"].as_str().unwrap_or_default().to_string(),
            last4: card["last4"].as_str().unwrap_or_default().to_string(),
            exp_month: card["exp_month"].as_i64().unwrap_or_default(),
            exp_year: card["exp_year"].as_i64().unwrap_or_default(),
        }))
    }

    async fn notice(&self, event: Value) -> Result<Notice, CallbackError> {
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        let object = &event["data"]["object"];
        let text = |field: &str| object[field].as_str().map(str::to_string);
        let refused = |what: &str| CallbackError::Refused(format!("{kind} without {what}"));
        match kind.as_str() {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded"
                if object["payment_status"] == "paid" =>
            {
                let card = match text("payment_intent") {
                    Some(intent) => self.card_of_payment(&intent).await?,
                    None => None,
                };
                Ok(Notice::CheckoutPaid {
                    checkout_id: text("client_reference_id").ok_or_else(|| refused("client_reference_id"))?,
                    provider_ref: text("id").ok_or_else(|| refused("id"))?,
                    amount_cents: object["amount_total"].as_i64().ok_or_else(|| refused("amount_total"))?,
                    currency: text("currency").unwrap_or_default(),
                    card,
                })
            }
            "checkout.session.expired" => Ok(Notice::CheckoutExpired {
                checkout_id: text("client_reference_id").ok_or_else(|| refused("client_reference_id"))?,
            }),
            "account.updated" => Ok(Notice::AccountUpdated {
                account_ref: text("id").ok_or_else(|| refused("id"))?,
                status: account_status(object),
            }),
            _ => Ok(Notice::Ignored { event_type: kind }),
        }
    }
}

fn account_status(account: &Value) -> AccountStatus {
    AccountStatus {
        details_submitted: account["details_submitted"] == true,
        charges_enabled: account["charges_enabled"] == true,
        payouts_enabled: account["payouts_enabled"] == true,
    }
}

fn id_of(v: &Value, what: &str) -> anyhow::Result<String> {
    v["id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("stripe {what}: answer without id"))
}

impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        NAME
    }

    fn ensure_customer<'a>(&'a self, agent_id: &'a str, existing: Option<&'a str>) -> ProviderFuture<'a, String> {
        Box::pin(async move {
            if let Some(customer) = existing {
                return Ok(customer.to_string());
            }
            let form = [("metadata[agent_id]", agent_id.to_string())];
            let key = format!("customer-{agent_id}");
            id_of(&self.expect(reqwest::Method::POST, "/v1/customers", &form, Some(&key)).await?, "customer")
        })
    }

    fn create_checkout<'a>(&'a self, req: CheckoutRequest<'a>) -> ProviderFuture<'a, CheckoutSession> {
        Box::pin(async move {
            let form = [
                ("mode", "payment".to_string()),
                ("client_reference_id", req.checkout_id.to_string()),
                ("customer", req.customer_ref.to_string()),
                ("line_items[0][quantity]", "1".into()),
                ("line_items[0][price_data][currency]", "usd".into()),
                ("line_items[0][price_data][unit_amount]", req.amount_cents.to_string()),
                ("line_items[0][price_data][product_data][name]", req.description.to_string()),
                ("payment_intent_data[setup_future_usage]", "off_session".into()),
                ("success_url", req.success_url.to_string()),
                ("cancel_url", req.cancel_url.to_string()),
                ("metadata[checkout_id]", req.checkout_id.to_string()),
            ];
            let session =
                self.expect(reqwest::Method::POST, "/v1/checkout/sessions", &form, Some(req.checkout_id)).await?;
            let url = session["url"].as_str().ok_or_else(|| anyhow!("stripe checkout session without url"))?;
            Ok(CheckoutSession { provider_ref: id_of(&session, "checkout session")?, url: url.to_string() })
        })
    }

    fn read_callback<'a>(&'a self, headers: &'a HeaderMap, body: &'a [u8]) -> CallbackFuture<'a> {
        Box::pin(async move {
            let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
            signature::verify(&self.webhook_secret, header, body, chrono::Utc::now().timestamp())
                .map_err(CallbackError::Refused)?;
            let event: Value =
                serde_json::from_slice(body).map_err(|e| CallbackError::Refused(format!("unreadable event: {e}")))?;
            self.notice(event).await
        })
    }

    fn charge_card<'a>(&'a self, req: ChargeRequest<'a>) -> ProviderFuture<'a, ChargeOutcome> {
        Box::pin(async move {
            let form = [
                ("amount", req.amount_cents.to_string()),
                ("currency", "usd".into()),
                ("customer", req.customer_ref.to_string()),
                ("payment_method", req.card_ref.to_string()),
                ("off_session", "true".into()),
                ("confirm", "true".into()),
                ("metadata[charge_id]", req.charge_id.to_string()),
            ];
            match self.call(reqwest::Method::POST, "/v1/payment_intents", &form, Some(req.charge_id)).await? {
                Ok(intent) if intent["status"] == "succeeded" => {
                    Ok(ChargeOutcome::Succeeded { provider_ref: id_of(&intent, "payment intent")? })
                }
                Ok(intent) => Ok(ChargeOutcome::Declined {
                    reason: format!("the payment needs the payer ({})", intent["status"].as_str().unwrap_or("?")),
                }),
                Err(error) => Ok(ChargeOutcome::Declined {
                    reason: error["message"].as_str().unwrap_or("the card was declined").to_string(),
                }),
            }
        })
    }

    fn remove_card<'a>(&'a self, card_ref: &'a str) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            let path = format!("/v1/payment_methods/{card_ref}/detach");
            self.expect(reqwest::Method::POST, &path, &[], None).await.map(drop)
        })
    }

    fn create_account<'a>(&'a self, agent_id: &'a str) -> ProviderFuture<'a, String> {
        Box::pin(async move {
            let form = [("type", "express".to_string()), ("metadata[agent_id]", agent_id.to_string())];
            let key = format!("account-{agent_id}");
            id_of(&self.expect(reqwest::Method::POST, "/v1/accounts", &form, Some(&key)).await?, "account")
        })
    }

    fn onboarding_link<'a>(
        &'a self,
        account_ref: &'a str,
        return_url: &'a str,
        refresh_url: &'a str,
    ) -> ProviderFuture<'a, String> {
        Box::pin(async move {
            let form = [
                ("account", account_ref.to_string()),
                ("return_url", return_url.to_string()),
                ("refresh_url", refresh_url.to_string()),
                ("type", "account_onboarding".into()),
            ];
            let link = self.expect(reqwest::Method::POST, "/v1/account_links", &form, None).await?;
            link["url"].as_str().map(str::to_string).ok_or_else(|| anyhow!("stripe account link without url"))
        })
    }

    fn account_status<'a>(&'a self, account_ref: &'a str) -> ProviderFuture<'a, Option<AccountStatus>> {
        Box::pin(async move {
            let account = self.expect(reqwest::Method::GET, &format!("/v1/accounts/{account_ref}"), &[], None).await?;
            Ok(Some(account_status(&account)))
        })
    }
}

impl PayoutProvider for Stripe {
    fn name(&self) -> &'static str {
        NAME
    }

    fn needs_account(&self) -> bool {
        true
    }

    /// A transfer to the agent's connected account; Stripe pays it out to the bank on the
    /// account's own schedule.
    fn submit<'a>(&'a self, req: PayoutRequest<'a>) -> PayoutFuture<'a> {
        Box::pin(async move {
            let destination = req.destination.ok_or_else(|| anyhow!("no connected account to pay out to"))?;
            let form = [
                ("amount", req.amount_cents.to_string()),
                ("currency", "usd".into()),
                ("destination", destination.to_string()),
                ("metadata[payout_id]", req.payout_id.to_string()),
            ];
            let transfer = self.expect(reqwest::Method::POST, "/v1/transfers", &form, Some(req.payout_id)).await?;
            Ok(PayoutReceipt { status: PayoutStatus::Paid, provider_ref: Some(id_of(&transfer, "transfer")?) })
        })
    }
}
