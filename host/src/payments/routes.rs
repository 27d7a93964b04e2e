//! Toku's payment routes: deposits by checkout, payout onboarding (`/api/agents/connect`), and
//! the provider's callback endpoint.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, OnboardingUrls, Received, ReturnUrls};
use super::store::CheckoutRow;
use crate::db::rfc3339;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::idempotency::{json_answer, MaybeClaim};
use crate::http::json::{ApiJson, ApiJsonOrEmpty, ApiPath};
use crate::idempotency::{Answer, Recorded};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(get_checkout))
        .routes(routes!(start_onboarding, onboarding_status))
        .routes(routes!(callback))
}

/// Routes that start payments; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(start_checkout))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutRequestBody {
    #[serde(alias = "amount_cents")]
    pub amount_cents: i64,
    /// Where the payer lands after paying; this host's `/pay/done` if absent.
    pub success_url: Option<String>,
    /// Where the payer lands after giving up; this host's `/pay/cancelled` if absent.
    pub cancel_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutResponse {
    pub success: bool,
    /// Where the payer pays.
    pub checkout_url: String,
    /// The provider's session (`cs_...`).
    pub session_id: String,
    /// This platform's checkout, for `GET /api/agents/wallet/deposit/checkout/{id}`.
    pub checkout_id: String,
    pub amount_cents: i64,
}

fn checkout_response(row: &CheckoutRow) -> CheckoutResponse {
    CheckoutResponse {
        success: true,
        checkout_url: row.url.clone().unwrap_or_default(),
        session_id: row.provider_ref.clone().unwrap_or_default(),
        checkout_id: row.id.clone(),
        amount_cents: row.amount_cents,
    }
}

fn render_checkout(row: &CheckoutRow) -> Recorded {
    json_answer(StatusCode::OK, &checkout_response(row))
}

/// Deposit by checkout: pay at the payment provider; the wallet is credited with funded
/// (withdrawable) money when the provider confirms the payment, exactly once.
#[utoipa::path(post, path = "/api/agents/wallet/deposit/checkout", tag = "payments", security(("api_key" = [])),
    request_body = CheckoutRequestBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 200, body = CheckoutResponse),
        (status = 502, description = "the payment provider did not answer", body = ErrorBody)))]
async fn start_checkout(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<CheckoutRequestBody>,
) -> ApiResult<Json<CheckoutResponse>> {
    let urls = ReturnUrls { success: req.success_url.as_deref(), cancel: req.cancel_url.as_deref() };
    let answer = Answer::new(claim.get(), render_checkout);
    let row = service::start_checkout(&app, &who.agent_id, req.amount_cents, urls, service::Purpose::deposit(), answer)
        .await?;
    Ok(Json(checkout_response(&row)))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutView {
    pub checkout_id: String,
    pub session_id: Option<String>,
    pub checkout_url: Option<String>,
    pub amount_cents: i64,
    /// `creating`, `open`, `paid` or `expired`.
    pub status: String,
    /// The deposit's transfer, once paid.
    pub transaction_id: Option<String>,
    pub created_at: String,
    pub paid_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckoutStatusResponse {
    pub success: bool,
    pub checkout: CheckoutView,
}

/// One of your checkouts and whether it was paid.
#[utoipa::path(get, path = "/api/agents/wallet/deposit/checkout/{id}", tag = "payments", security(("api_key" = [])),
    params(("id" = String, Path, description = "the checkoutId")),
    responses((status = 200, body = CheckoutStatusResponse), (status = 404, body = ErrorBody)))]
async fn get_checkout(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CheckoutStatusResponse>> {
    let row = service::checkout_of(&app, &who.agent_id, &id).await?;
    Ok(Json(CheckoutStatusResponse {
        success: true,
        checkout: CheckoutView {
            checkout_id: row.id,
            session_id: row.provider_ref,
            checkout_url: row.url,
            amount_cents: row.amount_cents,
            status: row.status.as_str().into(),
            transaction_id: row.transfer_id,
            created_at: rfc3339(row.created_at),
            paid_at: row.paid_at.map(rfc3339),
        },
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingRequest {
    pub return_url: Option<String>,
    pub refresh_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingResponse {
    pub success: bool,
    pub onboarding_url: String,
    /// The payout account at the provider (`acct_...`).
    pub stripe_account_id: String,
    pub message: String,
}

/// Start payout onboarding: a URL the agent's operator opens to connect a bank account.
/// Withdrawals through Stripe need it finished.
#[utoipa::path(post, path = "/api/agents/connect", tag = "payments", security(("api_key" = [])),
    request_body = OnboardingRequest,
    responses((status = 200, body = OnboardingResponse),
        (status = 502, description = "the payment provider did not answer", body = ErrorBody)))]
async fn start_onboarding(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJsonOrEmpty(req): ApiJsonOrEmpty<OnboardingRequest>,
) -> ApiResult<Json<OnboardingResponse>> {
    let urls = OnboardingUrls { return_url: req.return_url.as_deref(), refresh_url: req.refresh_url.as_deref() };
    let (onboarding_url, account) = service::start_onboarding(&app, &who.agent_id, urls).await?;
    Ok(Json(OnboardingResponse {
        success: true,
        onboarding_url,
        stripe_account_id: account,
        message: "Open this URL in a browser to connect your bank account for payouts.".into(),
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingStatus {
    pub success: bool,
    /// A payout account exists.
    pub connected: bool,
    /// Its details were submitted.
    pub onboarded: bool,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub stripe_account_id: Option<String>,
}

/// Your payout onboarding status.
#[utoipa::path(get, path = "/api/agents/connect", tag = "payments", security(("api_key" = [])),
    responses((status = 200, body = OnboardingStatus)))]
async fn onboarding_status(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<OnboardingStatus>> {
    let account = service::onboarding_status(&app, &who.agent_id).await?;
    let status = account.as_ref().map(|(_, s)| *s).unwrap_or_default();
    Ok(Json(OnboardingStatus {
        success: true,
        connected: account.is_some(),
        onboarded: status.details_submitted,
        charges_enabled: status.charges_enabled,
        payouts_enabled: status.payouts_enabled,
        stripe_account_id: account.map(|(id, _)| id),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CallbackResponse {
    pub received: bool,
    /// This callback credited a payment (false for a replay or an event with nothing to credit).
    pub credited: bool,
}

/// The payment provider's signed callback (Stripe: point a webhook endpoint here, signed with
/// `stripe_webhook_secret`). Replays are acknowledged and credit nothing; a callback whose
/// signature does not verify is refused with 400.
#[utoipa::path(post, path = "/api/payments/callback/{provider}", tag = "payments",
    params(("provider" = String, Path, description = "`stripe` or `test`")),
    request_body(content = String, description = "the provider's event, signed", content_type = "application/json"),
    responses((status = 200, body = CallbackResponse),
        (status = 400, description = "the signature does not verify", body = ErrorBody),
        (status = 404, description = "no such provider configured", body = ErrorBody),
        (status = 502, description = "the provider could not be asked about the event; it sends it again", body = ErrorBody)))]
async fn callback(
    State(app): State<Arc<App>>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<CallbackResponse>> {
    let received = service::receive(&app, &provider, &headers, &body).await?;
    Ok(Json(CallbackResponse { received: true, credited: received == Received::Credited }))
}
