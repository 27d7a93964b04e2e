//! `/v1/actions/*`: policies, checks, approvals and the audit log. Agent keys and runtime keys
//! act for their account (a runtime key only checks, records and reads: policies and decisions
//! need the agent key); operator keys manage the operator's policies and see every account.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::check::{self, CheckAnswer};
use super::listing::{self, ApprovalQuery, AuditQuery, RecordedEvent};
use super::model::Action;
use super::service::{self, NewPolicy, PolicyView, Who};
use super::GuardrailError;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::AnyAuth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::identity::Principal;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(upsert_policy, list_policies))
        .routes(routes!(delete_policy))
        .routes(routes!(check))
        .routes(routes!(list_approvals))
        .routes(routes!(decide))
        .routes(routes!(record_event, list_audit))
}

async fn who(app: &App, auth: AnyAuth) -> Result<Who, GuardrailError> {
    Ok(match auth.0 {
        Principal::Agent { agent_id } => Who::Account { agent_id, key_id: None, workspace: None },
        Principal::Runtime(k) => {
            let workspace = match &k.workspace_id {
                Some(id) => crate::gateway::workspaces::slug_of(&app.db, id).await?,
                None => None,
            };
            Who::Account { agent_id: k.agent_id, key_id: Some(k.key_id), workspace }
        }
        Principal::Operator { key_id } => Who::Operator { key_id },
    })
}

/// Creates a policy, or changes the caller's policy of the same `name`. `201` when new.
#[utoipa::path(post, path = "/v1/actions/policies", tag = "guardrails", security(("bearer" = [])),
    request_body = NewPolicy,
    responses((status = 200, body = PolicyView), (status = 201, body = PolicyView),
        (status = 400, description = "A bad name, effect, match or settings"), (status = 403, description = "A runtime key"),
        (status = 404, description = "No such policy component of yours"),
        (status = 422, description = "The policy component refuses the settings (invalid_settings)")))]
async fn upsert_policy(
    State(app): State<Arc<App>>,
    auth: AnyAuth,
    ApiJson(new): ApiJson<NewPolicy>,
) -> ApiResult<(StatusCode, Json<PolicyView>)> {
    let who = who(&app, auth).await?;
    let (policy, created) = service::upsert_policy(&app, &who, new).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(policy)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PolicyQuery {
    /// Operators only: the operator's policies and this account's.
    agent_id: Option<String>,
}

/// The policies that apply to the caller's actions: the operator's and its own.
#[utoipa::path(get, path = "/v1/actions/policies", tag = "guardrails", security(("bearer" = [])), params(PolicyQuery),
    responses((status = 200, body = Object)))]
async fn list_policies(
    State(app): State<Arc<App>>,
    auth: AnyAuth,
    ApiQuery(q): ApiQuery<PolicyQuery>,
) -> ApiResult<Json<Value>> {
    let who = who(&app, auth).await?;
    let data = service::list_policies(&app, &who, q.agent_id.as_deref()).await?;
    Ok(Json(json!({"object": "list", "data": data})))
}

/// Deletes one of the caller's policies (an operator: any).
#[utoipa::path(delete, path = "/v1/actions/policies/{id}", tag = "guardrails", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 403, description = "A runtime key"),
        (status = 404, description = "No such policy of yours")))]
async fn delete_policy(
    State(app): State<Arc<App>>,
    auth: AnyAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let who = who(&app, auth).await?;
    service::delete_policy(&app, &who, &id).await?;
    Ok(Json(json!({"deleted": true, "id": id})))
}

/// Whether an action may go ahead: `allow`, `deny` or `require_approval` (with the approval to
/// wait for; the same action sent again with `approval_id` once it is approved is allowed once).
#[utoipa::path(post, path = "/v1/actions/check", tag = "guardrails", security(("bearer" = [])),
    request_body = Action,
    responses((status = 200, body = CheckAnswer), (status = 400, description = "A bad action"),
        (status = 403, description = "An operator key")))]
async fn check(
    State(app): State<Arc<App>>,
    auth: AnyAuth,
    ApiJson(action): ApiJson<Action>,
) -> ApiResult<Json<CheckAnswer>> {
    let who = who(&app, auth).await?;
    Ok(Json(check::check(&app, &who, action).await?))
}

/// Approvals, newest first: `{object, data, next_cursor}`.
#[utoipa::path(get, path = "/v1/actions/approvals", tag = "guardrails", security(("bearer" = [])),
    params(ApprovalQuery), responses((status = 200, body = Object), (status = 400, description = "A bad filter")))]
async fn list_approvals(
    State(app): State<Arc<App>>,
    auth: AnyAuth,
    ApiQuery(q): ApiQuery<ApprovalQuery>,
) -> ApiResult<Json<Value>> {
    let who = who(&app, auth).await?;
    let (data, next) = listing::approvals(&app, &who, &q).await?;
    Ok(Json(json!({"object": "list", "data": data, "next_cursor": next})))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Decision {
    /// `approve` or `reject`.
    decision: String,
    note: Option<String>,
}

/// Approves or rejects a pending approval: the account's agent key or an operator, once, before
/// it expires (`409 approval_expired`; a decided one is `409 invalid_transition`).
#[utoipa::path(post, path = "/v1/actions/approvals/{id}/decide", tag = "guardrails", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Decision,
    responses((status = 200, body = Object), (status = 400, description = "A bad decision"),
        (status = 403, description = "A runtime key"), (status = 404, description = "No such approval of yours"),
        (status = 409, description = "Expired or already decided")))]
async fn decide(
    State(app): State<Arc<App>>,
    auth: AnyAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Json<Value>> {
    let approve = match d.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ApiError::invalid("decision must be approve or reject")),
    };
    let who = who(&app, auth).await?;
    Ok(Json(service::decide(&app, &who, &id, approve, d.note).await?))
}

/// Records what an app did with an action: `executed`, `failed`, `blocked`, `approved` or
/// `rejected`.
#[utoipa::path(post, path = "/v1/actions/audit", tag = "guardrails", security(("bearer" = [])),
    request_body = RecordedEvent,
    responses((status = 201, body = Object), (status = 400, description = "A bad event"),
        (status = 403, description = "An operator key")))]
async fn record_event(
    State(app): State<Arc<App>>,
    auth: AnyAuth,
    ApiJson(e): ApiJson<RecordedEvent>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let who = who(&app, auth).await?;
    let id = listing::record(&app, &who, e).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "recorded": true}))))
}

/// The audit log, newest first: `{object, data, next_cursor}`.
#[utoipa::path(get, path = "/v1/actions/audit", tag = "guardrails", security(("bearer" = [])),
    params(AuditQuery), responses((status = 200, body = Object), (status = 400, description = "A bad filter")))]
async fn list_audit(
    State(app): State<Arc<App>>,
    auth: AnyAuth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let who = who(&app, auth).await?;
    let (data, next) = listing::audit(&app, &who, &q).await?;
    Ok(Json(json!({"object": "list", "data": data, "next_cursor": next})))
}
