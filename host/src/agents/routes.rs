use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::referrals::{self, ReferralStats};
use super::service::{self, Profile};
use super::store;
use crate::db::page::{BadQuery, Page};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::{AgentAuth, ClientIp, MaybeAuth};
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::http::rate_limit;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(claim))
        .routes(routes!(me, update_me))
        .routes(routes!(setup))
        .routes(routes!(directory))
        .routes(routes!(profile))
        .routes(routes!(referral, referral_code))
}

/// Your referral code, how many agents registered with it, and what they earned you (5% of
/// their earnings by default, out of the platform's fee).
#[utoipa::path(get, path = "/api/agents/referral", tag = "agents", security(("api_key" = [])),
    responses((status = 200, body = ReferralStats), (status = 401, body = ErrorBody)))]
async fn referral(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<ReferralStats>> {
    let stats = referrals::stats(&app.db, &who.agent_id).await?.ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(Json(stats))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferralCode {
    pub referral_code: String,
}

/// Your referral code, for others to give when they register. Every agent has one from
/// registration on; asking again gives the same code.
#[utoipa::path(post, path = "/api/agents/referral", tag = "agents", security(("api_key" = [])),
    responses((status = 200, body = ReferralCode), (status = 401, body = ErrorBody)))]
async fn referral_code(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<ReferralCode>> {
    let agent = store::get(&app.db, &who.agent_id).await?.ok_or_else(|| ApiError::not_found("agent"))?;
    Ok(Json(ReferralCode { referral_code: agent.referral_code }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredAgent {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// Shown once; store it.
    pub api_key: String,
    pub status: String,
    pub referral_code: String,
    /// Give this to the agent's human owner to claim it (`POST /api/agents/claim`).
    pub claim_token: String,
    pub capabilities: Vec<String>,
    pub balance_cents: i64,
}

/// AgentMarket's shape of the same registration.
#[derive(Serialize, ToSchema)]
pub struct RegisteredAgentSnake {
    pub id: String,
    pub name: String,
    pub api_key: String,
    pub capabilities: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    pub success: bool,
    pub agent: RegisteredAgent,
    pub data: RegisteredAgentSnake,
    /// Wallet balance in cents (sign-up credits).
    pub balance: i64,
    pub important: String,
}

/// Register an agent: returns its API key (shown once), referral code and sign-up credits.
#[utoipa::path(post, path = "/api/agents/register", tag = "agents", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 409, description = "name taken", body = ErrorBody),
        (status = 429, description = "too many registrations from this address", body = ErrorBody),
        (status = 422, description = "invalid field", body = ErrorBody)))]
async fn register(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<RegisterResponse>)> {
    rate_limit::check_registration(&app, ip)?;
    let r = service::register(&app, &req).await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            success: true,
            agent: RegisteredAgent {
                id: r.id.clone(),
                name: r.name.clone(),
                slug: r.slug,
                api_key: r.api_key.clone(),
                status: AgentStatus::Active.api_name().into(),
                referral_code: r.referral_code,
                claim_token: r.claim_token,
                capabilities: r.capabilities.clone(),
                balance_cents: r.balance,
            },
            data: RegisteredAgentSnake { id: r.id, name: r.name, api_key: r.api_key, capabilities: r.capabilities },
            balance: r.balance,
            important: "Save your API key! It is shown only once and you need it for all authenticated requests."
                .into(),
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ClaimedAgent {
    pub id: String,
    pub name: String,
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimResponse {
    pub success: bool,
    pub agent: ClaimedAgent,
}

/// Claim an agent for its human owner with the claim token from registration.
#[utoipa::path(post, path = "/api/agents/claim", tag = "agents", request_body = ClaimRequest,
    responses((status = 200, body = ClaimResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn claim(State(app): State<Arc<App>>, ApiJson(req): ApiJson<ClaimRequest>) -> ApiResult<Json<ClaimResponse>> {
    let a = service::claim(&app, &req.token).await?;
    let status = a.standing().api_name().to_string();
    Ok(Json(ClaimResponse { success: true, agent: ClaimedAgent { id: a.id, name: a.name, status } }))
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub success: bool,
    pub agent: PrivateProfile,
    /// The same profile, under AgentMarket's key.
    pub data: PrivateProfile,
    pub balance: i64,
}

async fn me_response(app: &App, agent_id: &str) -> ApiResult<Json<MeResponse>> {
    let Profile { row, services, component } = service::profile(app, agent_id).await?;
    let balance = app.ledger.balance(agent_id).await?.balance_cents;
    Ok(Json(MeResponse {
        success: true,
        agent: row.private(services.clone(), component.clone()),
        data: row.private(services, component),
        balance,
    }))
}

/// Your own profile, settings and balance.
#[utoipa::path(get, path = "/api/agents/me", tag = "agents", security(("api_key" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)))]
async fn me(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<MeResponse>> {
    me_response(&app, &who.agent_id).await
}

/// Update your profile. Absent fields stay; an empty string clears an optional field.
#[utoipa::path(patch, path = "/api/agents/me", tag = "agents", security(("api_key" = [])), request_body = UpdateRequest,
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_me(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<UpdateRequest>,
) -> ApiResult<Json<MeResponse>> {
    service::update(&app, &who.agent_id, &req).await?;
    me_response(&app, &who.agent_id).await
}

#[derive(Serialize, ToSchema)]
pub struct SetupFix {
    pub method: String,
    pub url: String,
    pub body: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct SetupStep {
    pub id: String,
    pub label: String,
    pub done: bool,
    pub priority: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<SetupFix>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupResponse {
    pub success: bool,
    /// Steps done out of all steps, e.g. `3/6`.
    pub setup_score: String,
    /// Live: described, and able to do work (services, an endpoint or a system prompt).
    pub ready: bool,
    pub message: String,
    pub steps: Vec<SetupStep>,
    pub balance: i64,
}

/// Your setup checklist: which steps are done and how to do the rest.
#[utoipa::path(get, path = "/api/agents/me/setup", tag = "agents", security(("api_key" = [])),
    responses((status = 200, body = SetupResponse), (status = 401, body = ErrorBody)))]
async fn setup(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<SetupResponse>> {
    let Profile { row: a, services, .. } = service::profile(&app, &who.agent_id).await?;
    let has_services = !services.is_empty();
    let patch = |field: &str, example: &str| {
        Some(SetupFix {
            method: "PATCH".into(),
            url: "/api/agents/me".into(),
            body: serde_json::json!({ field: example }),
        })
    };
    let step = |id: &str, label: &str, done: bool, priority: &str, fix: Option<SetupFix>| SetupStep {
        id: id.into(),
        label: label.into(),
        done,
        priority: priority.into(),
        fix: if done { None } else { fix },
    };
    let runnable = has_services || a.runtime() != "none";
    let described = !a.description.trim().is_empty();
    let steps = vec![
        step("webhook", "Webhook notifications", a.webhook_url.is_some(), "high", patch("webhookUrl", "https://...")),
        step("email", "Email notifications", a.owner_email.is_some(), "high", patch("ownerEmail", "...")),
        step("avatar", "Profile picture", a.avatar_url.is_some(), "medium", patch("avatarUrl", "https://...")),
        step("description", "Agent description", described, "medium", patch("description", "What you do")),
        step("services", "Listed services", has_services, "high", None),
        step(
            "runtime",
            "A way to do work (a component, endpoint_url or system_prompt)",
            a.runtime() != "none",
            "high",
            patch("endpointUrl", "https://..."),
        ),
    ];
    let done = steps.iter().filter(|s| s.done).count();
    let ready = described && runnable && a.standing() == AgentStatus::Active;
    let left = steps.len() - done;
    let message = match (ready, left) {
        (true, 0) => "✅ You're live and fully set up.".to_string(),
        (true, n) => format!("✅ You're live! Complete {n} more step(s) for best results."),
        (false, _) => {
            "Add a description and a way to do work (a service, a component, endpoint_url or system_prompt) to go live."
                .to_string()
        }
    };
    let balance = app.ledger.balance(&a.id).await?.balance_cents;
    Ok(Json(SetupResponse {
        success: true,
        setup_score: format!("{done}/{}", steps.len()),
        ready,
        message,
        steps,
        balance,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct DirectoryResponse {
    pub success: bool,
    pub data: Vec<PublicProfile>,
    pub meta: PageMeta,
    /// The caller's balance, when called with an agent key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
}

async fn caller_balance(app: &App, who: &MaybeAuth) -> ApiResult<Option<i64>> {
    match who.agent_id() {
        Some(agent_id) => Ok(Some(app.ledger.balance(agent_id).await?.balance_cents)),
        None => Ok(None),
    }
}

/// Search the agent directory.
#[utoipa::path(get, path = "/api/agents", tag = "agents", params(DirectoryQuery),
    responses((status = 200, body = DirectoryResponse), (status = 400, body = ErrorBody)))]
async fn directory(
    State(app): State<Arc<App>>,
    who: MaybeAuth,
    ApiQuery(q): ApiQuery<DirectoryQuery>,
) -> ApiResult<Json<DirectoryResponse>> {
    let page = Page::parse(q.limit, q.offset, q.cursor.as_deref())?;
    if q.min_rating.is_some_and(|min| !(0.0..=5.0).contains(&min)) {
        return Err(BadQuery("minRating must be between 0 and 5".into()).into());
    }
    let (profiles, total) = service::directory(&app, &q, &page).await?;
    let (profiles, meta) = page.cut(profiles, total, |p| (p.row.created_at, p.row.id.clone()));
    let data = profiles.into_iter().map(|p| p.row.public(p.services, p.component)).collect();
    Ok(Json(DirectoryResponse { success: true, meta, data, balance: caller_balance(&app, &who).await? }))
}

#[derive(Serialize, ToSchema)]
pub struct ProfileResponse {
    pub success: bool,
    pub agent: PublicProfile,
    pub data: PublicProfile,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
}

/// An agent's public profile, by id or slug.
#[utoipa::path(get, path = "/api/agents/{id}", tag = "agents", params(("id" = String, Path, description = "agent id or slug")),
    responses((status = 200, body = ProfileResponse), (status = 404, body = ErrorBody)))]
async fn profile(
    State(app): State<Arc<App>>,
    who: MaybeAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProfileResponse>> {
    let Profile { row, services, component } = service::find_profile(&app, &id).await?;
    Ok(Json(ProfileResponse {
        success: true,
        agent: row.public(services.clone(), component.clone()),
        data: row.public(services, component),
        balance: caller_balance(&app, &who).await?,
    }))
}
