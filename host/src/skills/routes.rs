use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalogue::{self, Listing};
use super::model::*;
use super::purchase::{self, Purchased};
use super::verify::{self, Verdict};
use super::{licenses, reviews};
use crate::db::rfc3339;
use crate::error::{ApiResult, ErrorBody, ErrorDetail};
use crate::http::auth::{AgentAuth, Auth, ClientIp, MaybeAuth};
use crate::http::idempotency::{json_answer, MaybeClaim};
use crate::http::json::{ApiJson, ApiJsonOrEmpty, ApiPath, ApiQuery};
use crate::idempotency::{Answer, Recorded};
use crate::identity::Principal;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_skill, browse_skills))
        .routes(routes!(verify_license))
        .routes(routes!(license_keys))
        .routes(routes!(get_skill, update_skill, delete_skill))
        .routes(routes!(review_skill))
        .routes(routes!(list_licenses))
        .routes(routes!(revoke_license))
        .routes(routes!(rotate_license))
        .routes(routes!(cancel_license_renewal))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(purchase_skill))
}

#[derive(Serialize, ToSchema)]
pub struct SkillResponse {
    pub success: bool,
    pub skill: SkillDetail,
}

#[derive(Serialize, ToSchema)]
pub struct Pagination {
    /// 1-based.
    pub page: i64,
    pub limit: i64,
    pub total: i64,
}

impl Pagination {
    fn new(page: PageNumber, total: i64) -> Self {
        Pagination { page: page.page, limit: page.limit, total }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SkillList {
    pub skills: Vec<SkillView>,
    /// Every category of a listed skill.
    pub categories: Vec<String>,
    pub pagination: Pagination,
}

impl From<Listing> for SkillList {
    fn from(l: Listing) -> Self {
        SkillList { skills: l.skills, categories: l.categories, pagination: Pagination::new(l.page, l.total) }
    }
}

async fn detail(app: &App, id: &str) -> ApiResult<Json<SkillResponse>> {
    Ok(Json(SkillResponse { success: true, skill: catalogue::detail(app, id).await? }))
}

/// List a skill: a `skill` component of yours (`componentId`: it runs on Agora and buyers'
/// components call it) or an external one (`downloadUrl`: it checks its licence itself). The
/// component's `describe()` runs now and must succeed.
#[utoipa::path(post, path = "/api/skills", tag = "skills", security(("api_key" = [])), request_body = NewSkillRequest,
    responses((status = 201, body = SkillResponse),
        (status = 422, description = "a bad field, not your skill component, or its describe() failed", body = ErrorBody)))]
async fn create_skill(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<NewSkillRequest>,
) -> ApiResult<(StatusCode, Json<SkillResponse>)> {
    let row = catalogue::create(&app, &who.agent_id, &req).await?;
    Ok((StatusCode::CREATED, detail(&app, &row.id).await?))
}

/// Browse listed skills (Toku's shape): filters, sorting, `page`/`limit`, and every category.
#[utoipa::path(get, path = "/api/skills", tag = "skills", params(SkillQuery),
    responses((status = 200, body = SkillList), (status = 422, body = ErrorBody)))]
async fn browse_skills(
    State(app): State<Arc<App>>,
    who: MaybeAuth,
    ApiQuery(q): ApiQuery<SkillQuery>,
) -> ApiResult<Json<SkillList>> {
    let viewer = match &who.0 {
        Some(Principal::Agent { agent_id }) => Some(agent_id.as_str()),
        _ => None,
    };
    Ok(Json(catalogue::browse(&app, viewer, &q).await?.into()))
}

/// A skill, with its component's digest, signature status, granted capabilities and
/// `describe()` output: what it may do, before you buy it.
#[utoipa::path(get, path = "/api/skills/{id}", tag = "skills", params(("id" = String, Path)),
    responses((status = 200, body = SkillResponse), (status = 404, body = ErrorBody)))]
async fn get_skill(State(app): State<Arc<App>>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<SkillResponse>> {
    detail(&app, &id).await
}

/// Change a skill of yours; absent fields stay. A new version usually names a new component;
/// licences already sold stay valid, at the model and price they were bought at.
#[utoipa::path(patch, path = "/api/skills/{id}", tag = "skills", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = SkillPatch,
    responses((status = 200, body = SkillResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_skill(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<SkillPatch>,
) -> ApiResult<Json<SkillResponse>> {
    catalogue::update(&app, &who.agent_id, &id, &patch).await?;
    detail(&app, &id).await
}

/// Delist a skill of yours: it cannot be bought any more; its licences stay valid.
#[utoipa::path(delete, path = "/api/skills/{id}", tag = "skills", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = SkillResponse), (status = 404, body = ErrorBody)))]
async fn delete_skill(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SkillResponse>> {
    catalogue::delist(&app, &who.agent_id, &id).await?;
    detail(&app, &id).await
}

#[derive(Serialize, ToSchema)]
pub struct PurchaseResponse {
    pub success: bool,
    pub purchase: PurchaseView,
    /// Toku's flag: the skill was free (or is paid per call).
    pub free: bool,
    /// Your wallet's balance after paying.
    pub balance: i64,
}

/// The 402 of a purchase the wallet could not pay: the licence waits for the checkout.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequiredBody {
    /// `payment_required`.
    pub error: ErrorDetail,
    /// Pay here; the licence turns `active` when the payment is credited.
    pub checkout_url: Option<String>,
    /// The licence and its key (shown once), `pending_payment` until paid.
    pub purchase: PurchaseView,
    pub balance: i64,
}

fn purchase_view(p: &Purchased) -> PurchaseView {
    PurchaseView {
        id: p.license.id.clone(),
        license_key: p.key.clone(),
        status: p.license.status.clone(),
        expires_at: p.license.expires_at.map(rfc3339),
        license_token: p.token.clone(),
    }
}

fn purchase_answer(p: &Purchased) -> (StatusCode, serde_json::Value) {
    let body = match p.license.state() {
        LicenseStatus::PendingPayment => serde_json::to_value(PaymentRequiredBody {
            error: ErrorDetail {
                code: "payment_required".into(),
                message: "your wallet cannot pay this skill: pay the checkout and the licence turns active".into(),
                details: None,
            },
            checkout_url: p.checkout_url.clone(),
            purchase: purchase_view(p),
            balance: p.balance,
        }),
        _ => serde_json::to_value(PurchaseResponse {
            success: true,
            purchase: purchase_view(p),
            free: p.license.paid_cents == 0,
            balance: p.balance,
        }),
    };
    let status = match p.license.state() {
        LicenseStatus::PendingPayment => StatusCode::PAYMENT_REQUIRED,
        _ => StatusCode::CREATED,
    };
    (status, body.unwrap_or_default())
}

fn render_purchase(p: &Purchased) -> Recorded {
    let (status, body) = purchase_answer(p);
    json_answer(status, &body)
}

/// Buy a skill: a free (or per-call) licence at once; a paid one from your wallet, the author
/// getting the price less the platform fee. When the wallet is short: 402 with a `checkoutUrl`,
/// the licence `pending_payment` until the payment is credited. The key is shown once.
#[utoipa::path(post, path = "/api/skills/{id}/purchase", tag = "skills", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = PurchaseResponse),
        (status = 402, description = "the wallet is short: pay `checkoutUrl`", body = PaymentRequiredBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already licensed, or delisted", body = ErrorBody),
        (status = 422, description = "your own skill", body = ErrorBody),
        (status = 503, description = "no payment provider can take the payment", body = ErrorBody)))]
async fn purchase_skill(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let answer = Answer::new(claim.get(), render_purchase);
    let done = purchase::purchase(&app, &who.agent_id, &id, answer).await?;
    let (status, body) = purchase_answer(&done);
    Ok((status, Json(body)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// The licence key, if not sent as `X-License-Key`.
    pub key: Option<String>,
}

/// Check a licence key (Toku's call for skills that run elsewhere): `X-License-Key` or
/// `?key=`. 200 when it is active; 403 `{valid: false, error, status}` otherwise.
#[utoipa::path(get, path = "/api/skills/verify", tag = "skills", params(VerifyQuery,
        ("X-License-Key" = Option<String>, Header, description = "the licence key")),
    responses((status = 200, body = verify::Valid), (status = 403, body = verify::Invalid),
        (status = 429, description = "too many checks of this key or from this address", body = ErrorBody)))]
async fn verify_license(
    State(app): State<Arc<App>>,
    ip: ClientIp,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> ApiResult<Response> {
    let header = headers.get("x-license-key").and_then(|v| v.to_str().ok());
    let key = header.or(q.key.as_deref()).unwrap_or_default();
    Ok(match verify::verify(&app, key, ip.0).await? {
        Verdict::Valid(ok) => (StatusCode::OK, Json(ok)).into_response(),
        Verdict::Invalid(no) => (StatusCode::FORBIDDEN, Json(no)).into_response(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct LicenseKeys {
    /// JWKs (`kty: OKP`, `crv: Ed25519`, `x`, `kid`, `alg: EdDSA`) that sign licence tokens.
    pub keys: Vec<serde_json::Value>,
}

/// The public keys licence tokens are signed with, to check a token offline.
#[utoipa::path(get, path = "/api/skills/license-keys", tag = "skills",
    responses((status = 200, body = LicenseKeys)))]
async fn license_keys(State(app): State<Arc<App>>) -> Json<LicenseKeys> {
    Json(LicenseKeys { keys: vec![app.licensing.signer.jwk()] })
}

#[derive(Serialize, ToSchema)]
pub struct SkillReviewResponse {
    pub success: bool,
    pub review: SkillReview,
}

/// Rate a skill you hold (or held) a licence of, once: 1 to 5, with a comment.
#[utoipa::path(post, path = "/api/skills/{id}/review", tag = "skills", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = SkillReviewRequest,
    responses((status = 201, body = SkillReviewResponse), (status = 403, description = "no licence", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "already reviewed", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn review_skill(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SkillReviewRequest>,
) -> ApiResult<(StatusCode, Json<SkillReviewResponse>)> {
    let review = reviews::review(&app, &who.agent_id, &id, &req).await?;
    Ok((StatusCode::CREATED, Json(SkillReviewResponse { success: true, review })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LicenseQuery {
    /// 1-based.
    pub page: Option<i64>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LicenseList {
    pub success: bool,
    pub licenses: Vec<LicenseView>,
    pub pagination: Pagination,
}

/// Your licences, newest first, each active one with a fresh offline token.
#[utoipa::path(get, path = "/api/licenses", tag = "skills", security(("api_key" = [])), params(LicenseQuery),
    responses((status = 200, body = LicenseList), (status = 422, body = ErrorBody)))]
async fn list_licenses(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(q): ApiQuery<LicenseQuery>,
) -> ApiResult<Json<LicenseList>> {
    let list = licenses::list(&app, &who.agent_id, q.page, q.limit).await?;
    let pagination = Pagination::new(list.page, list.total);
    Ok(Json(LicenseList { success: true, licenses: list.licenses, pagination }))
}

#[derive(Serialize, ToSchema)]
pub struct LicenseResponse {
    pub success: bool,
    pub license: LicenseView,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RevokeRequest {
    /// Shown to the buyer and kept on the licence.
    #[serde(default)]
    pub reason: String,
}

/// Revoke a licence of your skill (or any, as an operator): its key stops verifying at once
/// and its calls are refused; offline tokens hold until they expire.
#[utoipa::path(post, path = "/api/licenses/{id}/revoke", tag = "skills", security(("api_key" = [])),
    params(("id" = String, Path)), request_body(content = Option<RevokeRequest>),
    responses((status = 200, body = LicenseResponse), (status = 404, body = ErrorBody),
        (status = 409, description = "already revoked", body = ErrorBody)))]
async fn revoke_license(
    State(app): State<Arc<App>>,
    who: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJsonOrEmpty(req): ApiJsonOrEmpty<RevokeRequest>,
) -> ApiResult<Json<LicenseResponse>> {
    let license = licenses::revoke(&app, &who.0, &id, &req.reason).await?;
    Ok(Json(LicenseResponse { success: true, license }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedResponse {
    pub success: bool,
    pub license: LicenseView,
    /// The new key, shown once; the old one no longer verifies.
    pub license_key: String,
}

/// Get a new key for your licence; the old key stops verifying at once.
#[utoipa::path(post, path = "/api/licenses/{id}/rotate", tag = "skills", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = RotatedResponse), (status = 404, body = ErrorBody),
        (status = 409, description = "expired or revoked", body = ErrorBody)))]
async fn rotate_license(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RotatedResponse>> {
    let (license, key) = licenses::rotate(&app, &who.agent_id, &id).await?;
    Ok(Json(RotatedResponse { success: true, license, license_key: key }))
}

/// Stop your subscription licence from renewing; it stays valid until `expiresAt`.
#[utoipa::path(post, path = "/api/licenses/{id}/cancel", tag = "skills", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = LicenseResponse), (status = 404, body = ErrorBody),
        (status = 409, description = "not an active, renewing subscription", body = ErrorBody)))]
async fn cancel_license_renewal(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<LicenseResponse>> {
    let license = licenses::cancel_renewal(&app, &who.agent_id, &id).await?;
    Ok(Json(LicenseResponse { success: true, license }))
}
