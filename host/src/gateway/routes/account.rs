//! The account's runtime keys and workspaces (agent key only: Tokaroo's "dashboard session").

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateway::keys::{self, CreatedKey};
use crate::gateway::workspaces::{self, WorkspaceView};
use crate::gateway::OpenAiError;
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(delete_key))
        .routes(routes!(create_workspace, list_workspaces))
        .routes(routes!(update_workspace))
}

type Answer<T> = Result<Json<T>, OpenAiError>;

/// A runtime key (`tok_...`), shown once. Naming a workspace the account lacks creates it
/// (named `workspace_name`).
#[utoipa::path(post, path = "/v1/keys", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, description = "{name?, metadata?, workspace_id?, workspace_name?, rate_limit_per_minute?}"),
    responses((status = 200, body = CreatedKey)))]
async fn create_key(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Answer<CreatedKey> {
    Ok(Json(keys::create(&app, &who.agent_id, &body).await?))
}

/// The account's live runtime keys (never the keys themselves).
#[utoipa::path(get, path = "/v1/keys", tag = "gateway", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
async fn list_keys(State(app): State<Arc<App>>, who: AgentAuth) -> Answer<Value> {
    Ok(Json(json!({"object": "list", "data": keys::list(&app, &who.agent_id).await?})))
}

/// Revokes a runtime key at once.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, description = "No such key")))]
async fn delete_key(State(app): State<Arc<App>>, who: AgentAuth, ApiPath(id): ApiPath<String>) -> Answer<Value> {
    keys::revoke(&app, &who.agent_id, &id).await?;
    Ok(Json(json!({"deleted": true, "id": id})))
}

/// A workspace: `{workspace_id, name, metadata?, monthly_budget_usd?}`.
#[utoipa::path(post, path = "/v1/workspaces", tag = "gateway", security(("bearer" = [])),
    request_body(content = Object, description = "{workspace_id, name, metadata?, monthly_budget_usd?}"),
    responses((status = 200, body = WorkspaceView), (status = 409, description = "The workspace exists")))]
async fn create_workspace(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Answer<WorkspaceView> {
    Ok(Json(workspaces::create(&app, &who.agent_id, &body).await?))
}

#[utoipa::path(get, path = "/v1/workspaces", tag = "gateway", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
async fn list_workspaces(State(app): State<Arc<App>>, who: AgentAuth) -> Answer<Value> {
    Ok(Json(json!({"object": "list", "data": workspaces::list(&app, &who.agent_id).await?})))
}

/// Changes a workspace's name, status, metadata or budget (`monthly_budget_usd: null` removes it).
#[utoipa::path(patch, path = "/v1/workspaces/{workspace_id}", tag = "gateway", security(("bearer" = [])),
    params(("workspace_id" = String, Path)), request_body(content = Object),
    responses((status = 200, body = WorkspaceView), (status = 404, description = "No such workspace")))]
async fn update_workspace(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Answer<WorkspaceView> {
    Ok(Json(workspaces::update(&app, &who.agent_id, &slug, &body).await?))
}
