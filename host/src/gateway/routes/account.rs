//! The account's runtime keys and workspaces (agent key only: Tokaroo's "dashboard session"),
//! and its usage history (the agent key sees the whole account, a runtime key its own scope).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::rfc3339;
use crate::gateway::keys::{self, CreatedKey};
use crate::gateway::model::micros_to_usd;
use crate::gateway::workspaces::{self, WorkspaceView};
use crate::gateway::{GatewayError, OpenAiError};
use crate::http::auth::{AccountAuth, AgentAuth};
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(delete_key))
        .routes(routes!(create_workspace, list_workspaces))
        .routes(routes!(update_workspace))
        .routes(routes!(usage))
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UsageQuery {
    /// 1 to 1000; default 100.
    limit: Option<i64>,
    /// Rows created before this time (RFC 3339), for the next page.
    before: Option<String>,
    api_key_id: Option<String>,
    workspace_id: Option<String>,
    request_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct UsageRow {
    id: String,
    api_key_id: Option<String>,
    workspace_id: Option<String>,
    workspace_name: Option<String>,
    #[schema(value_type = Object)]
    metadata: Value,
    tier: String,
    model: String,
    /// The upstream that served it: shown to the account's agent key, empty for runtime keys.
    provider: String,
    routing_method: String,
    execution_source: String,
    billing_mode: String,
    request_type: String,
    input_tokens: i64,
    output_tokens: i64,
    actual_cost_usd: f64,
    charged_usd: f64,
    baseline_usd: f64,
    latency_ms: Option<i64>,
    created_at: String,
}

/// The account's settled requests, newest first. A runtime key sees only its own.
#[utoipa::path(get, path = "/v1/usage", tag = "gateway", security(("bearer" = [])), params(UsageQuery),
    responses((status = 200, body = Object), (status = 404, description = "No such workspace")))]
async fn usage(State(app): State<Arc<App>>, who: AccountAuth, ApiQuery(q): ApiQuery<UsageQuery>) -> Answer<Value> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(GatewayError::Invalid("limit must be 1 to 1000".into()).into());
    }
    let before = match &q.before {
        None => i64::MAX,
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|_| GatewayError::Invalid("before must be an RFC 3339 time".into()))?
            .timestamp_millis(),
    };
    let (key, workspace) = match &who.runtime {
        Some(k) => (k.key_id.clone(), k.workspace_id.clone().unwrap_or_default()),
        None => {
            let workspace = match &q.workspace_id {
                Some(slug) => {
                    workspaces::find(&app.db, &who.agent_id, slug)
                        .await
                        .map_err(GatewayError::from)?
                        .ok_or(GatewayError::NotFound("workspace"))?
                        .id
                }
                None => String::new(),
            };
            (q.api_key_id.clone().unwrap_or_default(), workspace)
        }
    };
    let rows = crate::db::query(
        "SELECT u.*, w.slug, w.name AS workspace_name FROM gateway_usage u \
         LEFT JOIN gateway_workspaces w ON w.id = u.workspace_id \
         WHERE u.agent_id = $1 AND u.status = 'settled' AND u.created_at < $2 \
         AND ($3 = '' OR u.api_key_id = $3) AND ($4 = '' OR u.workspace_id = $4) AND ($5 = '' OR u.request_type = $5) \
         ORDER BY u.created_at DESC, u.id DESC LIMIT $6",
    )
    .bind(&who.agent_id)
    .bind(before)
    .bind(&key)
    .bind(&workspace)
    .bind(q.request_type.clone().unwrap_or_default())
    .bind(limit + 1)
    .fetch_all(&app.db.read)
    .await
    .map_err(GatewayError::from)?;
    let has_more = rows.len() as i64 > limit;
    let owner = who.runtime.is_none();
    let data: Vec<UsageRow> = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            let metadata: String = r.get("metadata");
            let tier: String = r.get("tier");
            UsageRow {
                id: r.get("id"),
                api_key_id: r.get("api_key_id"),
                workspace_id: r.get("slug"),
                workspace_name: r.get("workspace_name"),
                metadata: serde_json::from_str(&metadata).unwrap_or_default(),
                model: tier.clone(),
                tier,
                provider: if owner { r.get("provider") } else { String::new() },
                routing_method: r.get("routing_method"),
                execution_source: r.get("execution_source"),
                billing_mode: r.get("billing_mode"),
                request_type: r.get("request_type"),
                input_tokens: r.get("input_tokens"),
                output_tokens: r.get("output_tokens"),
                actual_cost_usd: micros_to_usd(r.get("cost_micros")),
                charged_usd: micros_to_usd(r.get("charged_micros")),
                baseline_usd: micros_to_usd(r.get("baseline_micros")),
                latency_ms: r.get("latency_ms"),
                created_at: rfc3339(r.get("created_at")),
            }
        })
        .collect();
    Ok(Json(json!({"data": data, "has_more": has_more})))
}
