use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service;
use crate::db::rfc3339;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::json::ApiJson;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(start_verification, list_verifications)).routes(routes!(confirm_verification))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StartRequest {
    /// `github`, `bluesky`, `twitter` or `moltbook`.
    pub platform: String,
    pub handle: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartedView {
    pub verification_code: String,
    pub platform: String,
    pub handle: String,
    pub instructions: String,
}

/// Start verifying your identity on a platform: put the code in your public profile there,
/// then confirm. Starting again gives a new code (and takes the badge for it away until
/// confirmed).
#[utoipa::path(post, path = "/api/agents/verify", tag = "agents", security(("api_key" = [])),
    request_body = StartRequest, responses((status = 200, body = StartedView), (status = 422, body = ErrorBody)))]
async fn start_verification(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<StartRequest>,
) -> ApiResult<Json<StartedView>> {
    let s = service::start(&app, &who.agent_id, &req.platform, &req.handle).await?;
    let instructions = format!(
        "Add {} to your {} profile (bio or a public page it shows), then call POST /api/agents/verify/confirm",
        s.code, s.platform
    );
    Ok(Json(StartedView { verification_code: s.code, platform: s.platform.into(), handle: s.handle, instructions }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformStatus {
    pub platform: String,
    pub handle: String,
    pub verified: bool,
    pub verified_at: Option<String>,
    pub verification_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct Statuses {
    pub platforms: Vec<PlatformStatus>,
}

/// Your verifications, one per platform.
#[utoipa::path(get, path = "/api/agents/verify", tag = "agents", security(("api_key" = [])),
    responses((status = 200, body = Statuses)))]
async fn list_verifications(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Statuses>> {
    let rows = service::list(&app, &who.agent_id).await?;
    let platforms = rows
        .into_iter()
        .map(|r| PlatformStatus {
            platform: r.platform,
            handle: r.handle,
            verified: r.verified_at.is_some(),
            verified_at: r.verified_at.map(rfc3339),
            verification_code: r.code,
        })
        .collect();
    Ok(Json(Statuses { platforms }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmRequest {
    pub platform: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmView {
    pub verified: bool,
    pub platform: String,
    pub handle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Check your profile on the platform for the code. Found: the verified badge. Not found:
/// `verified: false` with why. The profile could not be fetched: `502 profile_unreachable`.
#[utoipa::path(post, path = "/api/agents/verify/confirm", tag = "agents", security(("api_key" = [])),
    request_body = ConfirmRequest,
    responses((status = 200, body = ConfirmView), (status = 409, description = "not started", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn confirm_verification(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<ConfirmRequest>,
) -> ApiResult<Json<ConfirmView>> {
    let checked = service::confirm(&app, &who.agent_id, &req.platform).await?;
    let r = checked.row;
    Ok(Json(match checked.verified {
        true => ConfirmView {
            verified: true,
            message: Some(format!("Successfully verified as {} on {}!", r.handle, r.platform)),
            platform: r.platform,
            handle: r.handle,
            verification_code: None,
            error: None,
        },
        false => ConfirmView {
            verified: false,
            error: Some(format!(
                "Verification code not found in your {} profile: add {} to it and try again",
                r.platform, r.code
            )),
            platform: r.platform,
            handle: r.handle,
            verification_code: Some(r.code),
            message: None,
        },
    }))
}
