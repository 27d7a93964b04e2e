//! Tokaroo's balance and billing routes over the agent's wallet. Amounts are USD numbers here
//! and integer cents in the ledger (`usd_to_cents` reads the number's decimal text exactly).
//! The account is the calling agent; its agent key is Tokaroo's "dashboard session".

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::billing::{self, Activation, Autopay, TopUp};
use super::service::{self, ReturnUrls};
use super::store::{self, ChargeReason, CheckoutRow};
use super::{cents_to_usd, usd_to_cents, PaymentError};
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::{AccountAuth, AgentAuth};
use crate::http::idempotency::{json_answer, MaybeClaim};
use crate::http::json::ApiJson;
use crate::idempotency::{Answer, Recorded};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(balance))
        .routes(routes!(get_autopay, put_autopay))
        .routes(routes!(get_card, delete_card))
        .routes(routes!(activation))
        .routes(routes!(accept_activation))
}

/// Routes that take payments; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(checkout)).routes(routes!(add))
}

fn cents(field: &str, usd: Option<&Number>) -> Result<Option<i64>, PaymentError> {
    Ok(usd.map(|n| usd_to_cents(field, n)).transpose()?)
}

#[derive(Serialize, ToSchema)]
pub struct BalanceResponse {
    pub balance_usd: f64,
    /// Always `usd`.
    pub currency: &'static str,
}

/// The prepaid balance.
#[utoipa::path(get, path = "/v1/balance", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = BalanceResponse)))]
async fn balance(State(app): State<Arc<App>>, who: AccountAuth) -> ApiResult<Json<BalanceResponse>> {
    let cents = app.ledger.balance(&who.agent_id).await?.balance_cents;
    Ok(Json(BalanceResponse { balance_usd: cents_to_usd(cents), currency: "usd" }))
}

#[derive(Deserialize, ToSchema)]
pub struct BillingCheckoutRequest {
    #[schema(value_type = f64)]
    pub amount_usd: Number,
}

#[derive(Serialize, ToSchema)]
pub struct BillingCheckoutResponse {
    pub url: String,
    pub session_id: String,
}

fn billing_checkout_response(row: &CheckoutRow) -> BillingCheckoutResponse {
    BillingCheckoutResponse {
        url: row.url.clone().unwrap_or_default(),
        session_id: row.provider_ref.clone().unwrap_or_default(),
    }
}

fn render_billing_checkout(row: &CheckoutRow) -> Recorded {
    json_answer(StatusCode::OK, &billing_checkout_response(row))
}

/// Pre-load credits through a checkout at the payment provider; its card is saved for
/// direct top-ups and auto pay.
#[utoipa::path(post, path = "/v1/billing/checkout", tag = "billing", security(("bearer" = [])),
    request_body = BillingCheckoutRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = BillingCheckoutResponse),
        (status = 502, description = "the payment provider did not answer", body = ErrorBody)))]
async fn checkout(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<BillingCheckoutRequest>,
) -> ApiResult<Json<BillingCheckoutResponse>> {
    let amount = usd_to_cents("amount_usd", &req.amount_usd)?;
    let answer = Answer::new(claim.get(), render_billing_checkout);
    let urls = ReturnUrls { success: None, cancel: None };
    let row = service::start_checkout(&app, &who.agent_id, amount, urls, service::Purpose::deposit(), answer).await?;
    Ok(Json(billing_checkout_response(&row)))
}

#[derive(Deserialize, ToSchema)]
pub struct AddRequest {
    /// Defaults to the auto pay amount.
    #[schema(value_type = Option<f64>)]
    pub amount_usd: Option<Number>,
    /// Accepted; runtime keys arrive with the gateway, so no key is made yet.
    pub activate_key_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ActivatedKey {
    pub key: String,
    pub name: String,
    pub prefix: String,
}

#[derive(Serialize, ToSchema)]
pub struct AddResponse {
    pub ok: bool,
    pub balance_usd: f64,
    pub activated_key: Option<ActivatedKey>,
}

fn add_response(done: &TopUp) -> AddResponse {
    AddResponse { ok: true, balance_usd: cents_to_usd(done.balance_cents), activated_key: None }
}

fn render_add(done: &TopUp) -> Recorded {
    json_answer(StatusCode::OK, &add_response(done))
}

/// Charge the saved card and add the amount to the balance at once.
#[utoipa::path(post, path = "/v1/billing/add", tag = "billing", security(("bearer" = [])),
    request_body = AddRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = AddResponse),
        (status = 402, description = "`no_card` or `payment_failed` (the card was declined)", body = ErrorBody),
        (status = 502, description = "the payment provider did not answer; the charge is settled later", body = ErrorBody)))]
async fn add(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<AddRequest>,
) -> ApiResult<Json<AddResponse>> {
    let amount = cents("amount_usd", req.amount_usd.as_ref())?;
    let answer = Answer::new(claim.get(), render_add);
    let done = billing::charge_saved_card(&app, &who.agent_id, amount, ChargeReason::TopUp, answer).await?;
    Ok(Json(add_response(&done)))
}

#[derive(Serialize, ToSchema)]
pub struct AutopayView {
    pub enabled: bool,
    pub amount_usd: f64,
    /// Auto pay tops up when the balance falls below this.
    pub threshold_usd: f64,
}

impl From<Autopay> for AutopayView {
    fn from(a: Autopay) -> Self {
        AutopayView {
            enabled: a.enabled,
            amount_usd: cents_to_usd(a.amount_cents),
            threshold_usd: cents_to_usd(a.threshold_cents),
        }
    }
}

/// Auto pay settings.
#[utoipa::path(get, path = "/v1/billing/autopay", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = AutopayView)))]
async fn get_autopay(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<AutopayView>> {
    let profile = store::profile(&app.db, &who.agent_id).await?;
    Ok(Json(billing::autopay_of(&app, &profile).into()))
}

#[derive(Deserialize, ToSchema)]
pub struct AutopayRequest {
    pub enabled: Option<bool>,
    #[schema(value_type = Option<f64>)]
    pub amount_usd: Option<Number>,
    #[schema(value_type = Option<f64>)]
    pub threshold_usd: Option<Number>,
}

/// Change auto pay: when the balance falls below the threshold, the saved card is charged the
/// amount (checked every `autopay_check_ms`; after a decline, again an hour later).
#[utoipa::path(put, path = "/v1/billing/autopay", tag = "billing", security(("bearer" = [])),
    request_body = AutopayRequest, responses((status = 200, body = AutopayView)))]
async fn put_autopay(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<AutopayRequest>,
) -> ApiResult<Json<AutopayView>> {
    let amount = cents("amount_usd", req.amount_usd.as_ref())?;
    let threshold = cents("threshold_usd", req.threshold_usd.as_ref())?;
    let autopay = billing::set_autopay(&app, &who.agent_id, req.enabled, amount, threshold).await?;
    Ok(Json(autopay.into()))
}

#[derive(Serialize, ToSchema)]
pub struct CardView {
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CardResponse {
    pub card: Option<CardView>,
}

/// The saved card.
#[utoipa::path(get, path = "/v1/billing/card", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = CardResponse)))]
async fn get_card(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<CardResponse>> {
    let card = store::profile(&app.db, &who.agent_id).await?.card.map(|k| CardView {
        brand: k.brand,
        last4: k.last4,
        exp_month: k.exp_month,
        exp_year: k.exp_year,
    });
    Ok(Json(CardResponse { card }))
}

#[derive(Serialize, ToSchema)]
pub struct OkResponse {
    pub ok: bool,
}

/// Remove the saved card (at the provider too); auto pay stops charging.
#[utoipa::path(delete, path = "/v1/billing/card", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = OkResponse)))]
async fn delete_card(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<OkResponse>> {
    billing::remove_card(&app, &who.agent_id).await?;
    Ok(Json(OkResponse { ok: true }))
}

#[derive(Serialize, ToSchema)]
pub struct ActivationStatus {
    pub key_count: i64,
    pub has_api_key: bool,
    pub requires_first_key_activation: bool,
    pub balance_usd: f64,
    pub funded: bool,
    pub has_saved_card: bool,
    pub auto_pay_enabled: bool,
    pub auto_pay_amount_usd: Option<f64>,
    pub activation_terms_accepted: bool,
    pub activation_terms_accepted_at: Option<String>,
    pub activation_terms_version: String,
    /// Of `payment`, `saved_card`, `auto_pay`, `terms_acceptance`.
    pub missing_requirements: Vec<&'static str>,
    pub ready_for_activation_payment: bool,
    pub ready_for_first_key: bool,
    pub payments_url: String,
    pub terms_url: String,
}

impl From<Activation> for ActivationStatus {
    fn from(a: Activation) -> Self {
        ActivationStatus {
            key_count: a.key_count,
            has_api_key: a.key_count > 0,
            requires_first_key_activation: a.key_count == 0,
            balance_usd: cents_to_usd(a.balance_cents),
            funded: a.funded,
            has_saved_card: a.has_saved_card,
            auto_pay_enabled: a.autopay.enabled,
            auto_pay_amount_usd: (a.autopay.amount_cents > 0).then(|| cents_to_usd(a.autopay.amount_cents)),
            activation_terms_accepted: a.terms_accepted_at.is_some(),
            ready_for_activation_payment: a.ready_for_payment(),
            ready_for_first_key: a.ready_for_first_key(),
            activation_terms_accepted_at: a.terms_accepted_at,
            activation_terms_version: a.terms_version,
            missing_requirements: a.missing,
            payments_url: a.payments_url,
            terms_url: a.terms_url,
        }
    }
}

/// The first-key activation checklist: a payment, a saved card, auto pay and the terms.
#[utoipa::path(get, path = "/v1/billing/activation", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = ActivationStatus)))]
async fn activation(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<ActivationStatus>> {
    Ok(Json(billing::activation(&app, &who.agent_id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptRequest {
    /// Must be `true`.
    pub accepted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AcceptResponse {
    pub ok: bool,
    pub activation: ActivationStatus,
}

/// Accept the current billing terms.
#[utoipa::path(post, path = "/v1/billing/activation/accept", tag = "billing", security(("bearer" = [])),
    request_body = AcceptRequest, responses((status = 200, body = AcceptResponse)))]
async fn accept_activation(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<AcceptRequest>,
) -> ApiResult<Json<AcceptResponse>> {
    let activation = billing::accept_terms(&app, &who.agent_id, req.accepted).await?;
    Ok(Json(AcceptResponse { ok: true, activation: activation.into() }))
}
