//! The account's own connections (agent key only, Tokaroo's "dashboard session"): provider keys
//! it brings (BYOK) and its self-hosted endpoints.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateway::local_endpoints::{self, EndpointChange, EndpointView, NewEndpoint};
use crate::gateway::provider_keys::{self, NewProviderKey};
use crate::gateway::OpenAiError;
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_provider_key, list_provider_keys))
        .routes(routes!(delete_provider_key))
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(update_endpoint, delete_endpoint))
        .routes(routes!(recheck_endpoint))
        .routes(routes!(endpoint_models))
}

type Answer<T> = Result<Json<T>, OpenAiError>;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InWorkspace {
    /// Only those of this workspace.
    workspace_id: Option<String>,
}

/// Stores a provider key, sealed; the secret is never returned.
#[utoipa::path(post, path = "/v1/provider-keys", tag = "gateway", security(("bearer" = [])),
    request_body = NewProviderKey,
    responses((status = 200, body = Object), (status = 400, description = "A bad provider, label or secret"),
        (status = 404, description = "No such workspace")))]
async fn create_provider_key(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(new): ApiJson<NewProviderKey>,
) -> Answer<Value> {
    Ok(Json(provider_keys::create(&app, &who.agent_id, new).await?))
}

/// The account's provider keys and their status (never their secrets).
#[utoipa::path(get, path = "/v1/provider-keys", tag = "gateway", security(("bearer" = [])), params(InWorkspace),
    responses((status = 200, body = Object), (status = 404, description = "No such workspace")))]
async fn list_provider_keys(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(q): ApiQuery<InWorkspace>,
) -> Answer<Value> {
    let data = provider_keys::list(&app, &who.agent_id, q.workspace_id.as_deref()).await?;
    Ok(Json(json!({"object": "list", "data": data})))
}

/// Deletes a provider key; no later request uses it.
#[utoipa::path(delete, path = "/v1/provider-keys/{id}", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, description = "No such key")))]
async fn delete_provider_key(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> Answer<Value> {
    provider_keys::delete(&app, &who.agent_id, &id).await?;
    Ok(Json(json!({"deleted": true, "id": id})))
}

/// Registers a self-hosted endpoint, checking its health and models at once (unreachable is
/// saved as `unreachable`).
#[utoipa::path(post, path = "/v1/local-endpoints", tag = "gateway", security(("bearer" = [])),
    request_body = NewEndpoint,
    responses((status = 200, body = EndpointView), (status = 400, description = "A bad or refused URL, label or header"),
        (status = 404, description = "No such workspace")))]
async fn create_endpoint(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(new): ApiJson<NewEndpoint>,
) -> Answer<EndpointView> {
    Ok(Json(local_endpoints::create(&app, &who.agent_id, new).await?))
}

#[utoipa::path(get, path = "/v1/local-endpoints", tag = "gateway", security(("bearer" = [])), params(InWorkspace),
    responses((status = 200, body = Object), (status = 404, description = "No such workspace")))]
async fn list_endpoints(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(q): ApiQuery<InWorkspace>,
) -> Answer<Value> {
    let data = local_endpoints::list(&app, &who.agent_id, q.workspace_id.as_deref()).await?;
    Ok(Json(json!({"object": "list", "data": data})))
}

/// Changes `url`, `label`, `default_model` or `headers`; a new URL or headers are checked at once.
#[utoipa::path(patch, path = "/v1/local-endpoints/{id}", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Object),
    responses((status = 200, body = EndpointView), (status = 400, description = "A bad field"),
        (status = 404, description = "No such endpoint")))]
async fn update_endpoint(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Answer<EndpointView> {
    let change = EndpointChange::parse(body)?;
    Ok(Json(local_endpoints::update(&app, &who.agent_id, &id, change).await?))
}

#[utoipa::path(delete, path = "/v1/local-endpoints/{id}", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, description = "No such endpoint")))]
async fn delete_endpoint(State(app): State<Arc<App>>, who: AgentAuth, ApiPath(id): ApiPath<String>) -> Answer<Value> {
    local_endpoints::delete(&app, &who.agent_id, &id).await?;
    Ok(Json(json!({"deleted": true, "id": id})))
}

/// Checks the endpoint's health and models now.
#[utoipa::path(post, path = "/v1/local-endpoints/{id}/recheck", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, description = "No such endpoint")))]
async fn recheck_endpoint(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> Answer<EndpointView> {
    Ok(Json(local_endpoints::recheck(&app, &who.agent_id, &id).await?))
}

/// The models the endpoint listed at its last check.
#[utoipa::path(get, path = "/v1/local-endpoints/{id}/models", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, description = "No such endpoint")))]
async fn endpoint_models(State(app): State<Arc<App>>, who: AgentAuth, ApiPath(id): ApiPath<String>) -> Answer<Value> {
    let endpoint = local_endpoints::get(&app, &who.agent_id, &id).await?;
    let data: Vec<Value> =
        endpoint.models.iter().map(|m| json!({"id": m, "object": "model", "owned_by": "local"})).collect();
    Ok(Json(
        json!({"object": "list", "data": data, "status": endpoint.status, "default_model": endpoint.default_model}),
    ))
}
