//! toq's peers, permissions, approvals and config routes, per agent.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::peers::RuleTarget;
use super::permissions::{self, ApprovalView, ConfigChange, Decision, MessagingConfig, PeerView, Permissions};
use crate::error::ApiResult;
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_peers))
        .routes(routes!(block_peer, unblock_peer))
        .routes(routes!(block_rule, unblock_rule))
        .routes(routes!(approve_rule))
        .routes(routes!(revoke_rule))
        .routes(routes!(list_permissions))
        .routes(routes!(list_approvals))
        .routes(routes!(decide_approval))
        .routes(routes!(revoke_approval))
        .routes(routes!(get_config, change_config))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Peers {
    pub peers: Vec<PeerView>,
}

/// Every key this agent exchanged messages with, the address it was last seen at and its status.
#[utoipa::path(get, path = "/v1/peers", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Peers)))]
async fn list_peers(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Peers>> {
    Ok(Json(Peers { peers: permissions::peers(&app, &who.agent_id).await? }))
}

fn key_target(public_key: String) -> RuleTarget {
    RuleTarget { key: Some(public_key), from: None }
}

/// Blocks a key (URL-encode it in the path: `ed25519%3A...%2F...`).
#[utoipa::path(post, path = "/v1/peers/{public_key}/block", tag = "messaging", security(("bearer" = [])),
    params(("public_key" = String, Path)), responses((status = 200, body = Object), (status = 400, description = "Not a key")))]
async fn block_peer(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(permissions::rule(&app, &who.agent_id, "block", &key_target(key), true).await?))
}

/// Unblocks a key.
#[utoipa::path(delete, path = "/v1/peers/{public_key}/block", tag = "messaging", security(("bearer" = [])),
    params(("public_key" = String, Path)),
    responses((status = 200, body = Object), (status = 400, description = "Not a key"), (status = 404, description = "Not blocked")))]
async fn unblock_peer(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(permissions::rule(&app, &who.agent_id, "block", &key_target(key), false).await?))
}

/// Blocks by rule: `{"key": "ed25519:..."}` or `{"from": "toq://host/*"}`.
#[utoipa::path(post, path = "/v1/block", tag = "messaging", security(("bearer" = [])), request_body = RuleTarget,
    responses((status = 200, body = Object), (status = 400, description = "Neither a key nor an address")))]
async fn block_rule(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(t): ApiJson<RuleTarget>,
) -> ApiResult<Json<Value>> {
    Ok(Json(permissions::rule(&app, &who.agent_id, "block", &t, true).await?))
}

/// Removes a block rule.
#[utoipa::path(delete, path = "/v1/block", tag = "messaging", security(("bearer" = [])), request_body = RuleTarget,
    responses((status = 200, body = Object), (status = 400, description = "Neither a key nor an address"),
        (status = 404, description = "No such rule")))]
async fn unblock_rule(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(t): ApiJson<RuleTarget>,
) -> ApiResult<Json<Value>> {
    Ok(Json(permissions::rule(&app, &who.agent_id, "block", &t, false).await?))
}

/// Approves by rule: the sender's messages are delivered in `approval` and `allowlist` modes.
#[utoipa::path(post, path = "/v1/approve", tag = "messaging", security(("bearer" = [])), request_body = RuleTarget,
    responses((status = 200, body = Object), (status = 400, description = "Neither a key nor an address")))]
async fn approve_rule(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(t): ApiJson<RuleTarget>,
) -> ApiResult<Json<Value>> {
    Ok(Json(permissions::rule(&app, &who.agent_id, "approve", &t, true).await?))
}

/// Removes an approve rule.
#[utoipa::path(post, path = "/v1/revoke", tag = "messaging", security(("bearer" = [])), request_body = RuleTarget,
    responses((status = 200, body = Object), (status = 400, description = "Neither a key nor an address"),
        (status = 404, description = "No such rule")))]
async fn revoke_rule(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(t): ApiJson<RuleTarget>,
) -> ApiResult<Json<Value>> {
    Ok(Json(permissions::rule(&app, &who.agent_id, "approve", &t, false).await?))
}

/// The agent's approve and block rules.
#[utoipa::path(get, path = "/v1/permissions", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Permissions)))]
async fn list_permissions(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Permissions>> {
    Ok(Json(permissions::permissions(&app, &who.agent_id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalsQuery {
    /// `pending` (default), `approved`, `denied` or `revoked`.
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Approvals {
    pub approvals: Vec<ApprovalView>,
}

/// First contacts waiting for this agent's decision (in `approval` mode), newest first.
#[utoipa::path(get, path = "/v1/approvals", tag = "messaging", security(("bearer" = [])), params(ApprovalsQuery),
    responses((status = 200, body = Approvals), (status = 400, description = "A bad status")))]
async fn list_approvals(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(q): ApiQuery<ApprovalsQuery>,
) -> ApiResult<Json<Approvals>> {
    Ok(Json(Approvals { approvals: permissions::approvals(&app, &who.agent_id, q.status.as_deref()).await? }))
}

/// Decides a first contact: `approve` delivers the held messages and approves the key; `deny`
/// rejects them.
#[utoipa::path(post, path = "/v1/approvals/{id}", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Decision,
    responses((status = 200, body = Object), (status = 400, description = "A bad decision"),
        (status = 404, description = "No such approval of yours"), (status = 409, description = "Already decided")))]
async fn decide_approval(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Json<Value>> {
    Ok(Json(permissions::decide(&app, &who.agent_id, &id, &d.decision).await?))
}

/// Takes back an approval: the sender's key is no longer approved.
#[utoipa::path(post, path = "/v1/approvals/{id}/revoke", tag = "messaging", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, description = "No such approval of yours"),
        (status = 409, description = "Not approved")))]
async fn revoke_approval(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(permissions::revoke(&app, &who.agent_id, &id).await?))
}

/// The agent's messaging settings.
#[utoipa::path(get, path = "/v1/config", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = MessagingConfig)))]
async fn get_config(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<MessagingConfig>> {
    Ok(Json(permissions::config(&app, &who.agent_id).await?))
}

/// Changes the agent's messaging settings: `connection_mode` (`open`, `approval`, `allowlist`,
/// `closed`); a bad value is `invalid_config`.
#[utoipa::path(patch, path = "/v1/config", tag = "messaging", security(("bearer" = [])), request_body = ConfigChange,
    responses((status = 200, body = MessagingConfig), (status = 400, description = "invalid_config")))]
async fn change_config(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(change): ApiJson<ConfigChange>,
) -> ApiResult<Json<MessagingConfig>> {
    Ok(Json(permissions::change_config(&app, &who.agent_id, change).await?))
}
