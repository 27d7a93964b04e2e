use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::store::{self, NewAgent};
use crate::app::App;
use crate::db::{is_unique_violation, new_id, Arg};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::{self, generate_key, hash_secret, random_token, AgentAuth, KeyKind, MaybeAuth, Principal};
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::validate;
use crate::wallet::ledger;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(claim))
        .routes(routes!(me, update_me))
        .routes(routes!(setup))
        .routes(routes!(get_webhook, set_webhook))
        .routes(routes!(directory))
        .routes(routes!(profile))
}

const MAX_PRICE_CENTS: i64 = 100_000_000;

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

struct Fields {
    owner_email: Option<String>,
    avatar_url: Option<String>,
    webhook_url: Option<String>,
    endpoint_url: Option<String>,
    system_prompt: Option<String>,
}

fn opt<T>(v: Option<&str>, f: impl Fn(&str) -> Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    v.map(str::trim).filter(|s| !s.is_empty()).map(f).transpose()
}

fn check_fields(app: &App, r: &RegisterRequest) -> Result<Fields, ApiError> {
    let http_ok = app.config.allow_insecure_urls;
    Ok(Fields {
        owner_email: opt(r.owner_email.as_deref(), |v| validate::email("ownerEmail", v))?,
        avatar_url: opt(r.avatar_url.as_deref(), |v| validate::web_url("avatarUrl", v, true))?,
        webhook_url: opt(r.webhook_url.as_deref(), |v| validate::web_url("webhookUrl", v, http_ok))?,
        endpoint_url: opt(r.endpoint_url.as_deref(), |v| validate::web_url("endpointUrl", v, http_ok))?,
        system_prompt: opt(r.system_prompt.as_deref(), |v| validate::optional_text("systemPrompt", v, 20_000))?,
    })
}

/// Register an agent: returns its API key (shown once), referral code and sign-up credits.
#[utoipa::path(post, path = "/api/agents/register", tag = "agents", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 409, description = "name taken", body = ErrorBody),
        (status = 422, description = "invalid field", body = ErrorBody)))]
async fn register(
    State(app): State<Arc<App>>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<RegisterResponse>)> {
    let name = validate::text("name", &req.name, 100)?;
    let description = validate::optional_text("description", req.description.as_deref().unwrap_or(""), 5_000)?;
    let capabilities = validate::labels("capabilities", req.capabilities.as_deref().unwrap_or(&[]), 32)?;
    let tags = validate::labels("tags", req.tags.as_deref().unwrap_or(&[]), 32)?;
    let price = validate::cents("price_per_task", req.price_per_task.unwrap_or(0), 0, MAX_PRICE_CENTS)?;
    let f = check_fields(&app, &req)?;

    let id = new_id();
    let mut slug = slugify(&name);
    if slug.is_empty() {
        slug = format!("agent-{}", random_token(6).to_lowercase());
    }
    let referral_code =
        format!("{}-{}", &slug[..slug.len().min(20)].trim_end_matches('-'), random_token(6).to_lowercase());
    let key = generate_key(KeyKind::Agent);
    let claim_token = random_token(32);

    let mut tx = app.db.begin().await?;
    let referred_by = match req.referral_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Some(
            store::id_by_referral_code(&mut tx, code)
                .await?
                .ok_or_else(|| validate::fail("referralCode", "no agent has this referral code"))?,
        ),
        None => None,
    };
    let new = NewAgent {
        id: &id,
        name: &name,
        slug: &slug,
        description: &description,
        owner_email: f.owner_email.as_deref(),
        avatar_url: f.avatar_url.as_deref(),
        webhook_url: f.webhook_url.as_deref(),
        endpoint_url: f.endpoint_url.as_deref(),
        system_prompt: f.system_prompt.as_deref(),
        capabilities: &capabilities,
        tags: &tags,
        price_per_task_cents: price,
        claim_token_hash: &hash_secret(&claim_token),
        referral_code: &referral_code,
        referred_by: referred_by.as_deref(),
        endpoint_secret: &random_token(40),
    };
    if let Err(e) = store::insert(&mut tx, &new).await {
        return Err(if is_unique_violation(&e) {
            ApiError::conflict("name_taken", format!("an agent named {name:?} already exists"))
        } else {
            e.into()
        });
    }
    auth::store_key(&mut tx, &key, Some(&id), "default").await?;
    ledger::open_wallet_in(&mut tx, &id, app.config.signup_credits).await?;
    tx.commit().await?;

    let balance = app.config.signup_credits;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            success: true,
            agent: RegisteredAgent {
                id: id.clone(),
                name: name.clone(),
                slug,
                api_key: key.key.clone(),
                status: "ACTIVE".into(),
                referral_code,
                claim_token,
                capabilities: capabilities.clone(),
                balance_cents: balance,
            },
            data: RegisteredAgentSnake { id, name, api_key: key.key, capabilities },
            balance,
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
    let mut tx = app.db.begin().await?;
    let outcome = store::claim(&mut tx, &hash_secret(req.token.trim())).await?;
    tx.commit().await?;
    match outcome {
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "invalid_claim_token", "no agent has this claim token")),
        Some((_, false)) => Err(ApiError::conflict("already_claimed", "this agent has already been claimed")),
        Some((id, true)) => {
            let a = store::get(&app.db, &id).await?;
            Ok(Json(ClaimResponse { success: true, agent: ClaimedAgent { id: a.id, name: a.name, status: a.status } }))
        }
    }
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
    let row = store::get(&app.db, agent_id).await?;
    let services = store::services_of(&app.db, &[agent_id]).await?.remove(agent_id).unwrap_or_default();
    let component = store::components_of(&app.db, &[&row]).await?.into_values().next();
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
    let mut changes: Vec<(&'static str, Arg)> = Vec::new();
    let text_or_null = |v: Option<String>| v.map_or(Arg::Null, Arg::Text);
    if let Some(name) = &req.name {
        changes.push(("name", Arg::Text(validate::text("name", name, 100)?)));
    }
    if let Some(d) = &req.description {
        changes.push(("description", Arg::Text(validate::optional_text("description", d, 5_000)?)));
    }
    let as_register = RegisterRequest {
        name: String::new(),
        description: None,
        owner_email: req.owner_email.clone(),
        capabilities: None,
        tags: None,
        price_per_task: None,
        endpoint_url: req.endpoint_url.clone(),
        system_prompt: req.system_prompt.clone(),
        webhook_url: req.webhook_url.clone(),
        avatar_url: req.avatar_url.clone(),
        referral_code: None,
    };
    let f = check_fields(&app, &as_register)?;
    for (column, given, value) in [
        ("owner_email", req.owner_email.is_some(), f.owner_email),
        ("avatar_url", req.avatar_url.is_some(), f.avatar_url),
        ("webhook_url", req.webhook_url.is_some(), f.webhook_url),
        ("endpoint_url", req.endpoint_url.is_some(), f.endpoint_url),
        ("system_prompt", req.system_prompt.is_some(), f.system_prompt),
    ] {
        if given {
            changes.push((column, text_or_null(value)));
        }
    }
    let capabilities = req.capabilities.as_deref().map(|c| validate::labels("capabilities", c, 32)).transpose()?;
    if let Some(caps) = &capabilities {
        changes.push(("capabilities", Arg::Text(serde_json::to_string(caps).unwrap_or_default())));
    }
    if let Some(tags) = &req.tags {
        let tags = validate::labels("tags", tags, 32)?;
        changes.push(("tags", Arg::Text(serde_json::to_string(&tags).unwrap_or_default())));
    }
    if let Some(p) = req.price_per_task {
        changes.push(("price_per_task_cents", Arg::Int(validate::cents("price_per_task", p, 0, MAX_PRICE_CENTS)?)));
    }
    if let Some(a) = req.available_for_hire {
        changes.push(("available_for_hire", Arg::Int(a.into())));
    }
    if let Some(id) = req.component_id.as_deref().map(str::trim) {
        if id.is_empty() {
            changes.push(("component_id", Arg::Null));
        } else {
            let c = crate::components::store::get(&app.db, id)
                .await?
                .ok_or_else(|| validate::fail("componentId", "no such component"))?;
            if c.publisher_id != who.agent_id {
                return Err(ApiError::forbidden("an agent can only run components it published"));
            }
            if c.kind != "agent" {
                return Err(validate::fail("componentId", &format!("this is a {} component, not an agent", c.kind)));
            }
            changes.push(("component_id", Arg::Text(c.id)));
        }
    }
    let mut tx = app.db.begin().await?;
    if !store::update(&mut tx, &who.agent_id, changes).await? {
        return Err(ApiError::not_found("agent"));
    }
    if let Some(caps) = &capabilities {
        store::set_capabilities(&mut tx, &who.agent_id, caps).await?;
    }
    tx.commit().await?;
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
    let a = store::get(&app.db, &who.agent_id).await?;
    let has_services = store::services_of(&app.db, &[&a.id]).await?.contains_key(&a.id);
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
    let ready = described && runnable && a.status == "ACTIVE";
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
pub struct WebhookView {
    /// Masked: only the last characters are shown.
    pub webhook_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookResponse {
    pub success: bool,
    pub data: WebhookView,
    pub balance: i64,
}

fn mask(url: &str) -> String {
    let tail: String = url.chars().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
    format!("...{tail}")
}

async fn webhook_response(app: &App, agent_id: &str) -> ApiResult<Json<WebhookResponse>> {
    let a = store::get(&app.db, agent_id).await?;
    let balance = app.ledger.balance(agent_id).await?.balance_cents;
    Ok(Json(WebhookResponse {
        success: true,
        data: WebhookView { webhook_url: a.webhook_url.as_deref().map(mask) },
        balance,
    }))
}

/// Your webhook URL, masked.
#[utoipa::path(get, path = "/api/agents/me/webhook", tag = "agents", security(("api_key" = [])),
    responses((status = 200, body = WebhookResponse), (status = 401, body = ErrorBody)))]
async fn get_webhook(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<WebhookResponse>> {
    webhook_response(&app, &who.agent_id).await
}

/// Set your webhook URL (https).
#[utoipa::path(put, path = "/api/agents/me/webhook", tag = "agents", security(("api_key" = [])),
    request_body = WebhookRequest,
    responses((status = 200, body = WebhookResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_webhook(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<WebhookRequest>,
) -> ApiResult<Json<WebhookResponse>> {
    let url = validate::web_url("webhook_url", &req.webhook_url, app.config.allow_insecure_urls)?;
    let mut tx = app.db.begin().await?;
    store::update(&mut tx, &who.agent_id, vec![("webhook_url", Arg::Text(url))]).await?;
    tx.commit().await?;
    webhook_response(&app, &who.agent_id).await
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
    match &who.0 {
        Some(Principal::Agent { agent_id }) => Ok(Some(app.ledger.balance(agent_id).await?.balance_cents)),
        _ => Ok(None),
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
    let (limit, offset) = validate::page(q.limit, q.offset)?;
    let page = store::directory(&app.db, &q, limit, offset).await?;
    let ids: Vec<&str> = page.rows.iter().map(|r| r.id.as_str()).collect();
    let mut services = store::services_of(&app.db, &ids).await?;
    let components = store::components_of(&app.db, &page.rows.iter().collect::<Vec<_>>()).await?;
    let next_cursor = page.rows.last().filter(|_| page.has_more).map(|r| store::encode_cursor(r.created_at, &r.id));
    let data: Vec<PublicProfile> = page
        .rows
        .iter()
        .map(|r| {
            let component = r.component_id.as_ref().and_then(|id| components.get(id).cloned());
            r.public(services.remove(&r.id).unwrap_or_default(), component)
        })
        .collect();
    Ok(Json(DirectoryResponse {
        success: true,
        meta: PageMeta { total: page.total, count: data.len(), limit, offset, has_more: page.has_more, next_cursor },
        data,
        balance: caller_balance(&app, &who).await?,
    }))
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
    Path(id): Path<String>,
) -> ApiResult<Json<ProfileResponse>> {
    let row = store::find(&app.db, &id).await?.ok_or_else(|| ApiError::not_found("agent"))?;
    let services = store::services_of(&app.db, &[&row.id]).await?.remove(&row.id).unwrap_or_default();
    let component = store::components_of(&app.db, &[&row]).await?.into_values().next();
    Ok(Json(ProfileResponse {
        success: true,
        agent: row.public(services.clone(), component.clone()),
        data: row.public(services, component),
        balance: caller_balance(&app, &who).await?,
    }))
}
