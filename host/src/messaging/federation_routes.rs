//! The host-to-host surface: public, unauthenticated (an envelope proves its sender by its
//! signature; a card is public).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::federation::{self, Envelope};
use crate::error::ApiResult;
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(agent_card)).routes(routes!(receive)).routes(routes!(ping))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    pub address: String,
}

/// Reaches an agent and answers its public key: `{address, public_key, latency_ms}`.
#[utoipa::path(post, path = "/v1/ping", tag = "messaging", security(("bearer" = [])), request_body = Ping,
    responses((status = 200, body = Object), (status = 400, description = "invalid_address"),
        (status = 404, description = "not_reachable: no such agent here"),
        (status = 502, description = "not_reachable: its host did not answer")))]
async fn ping(State(app): State<Arc<App>>, _who: AgentAuth, ApiJson(p): ApiJson<Ping>) -> ApiResult<Json<Value>> {
    Ok(Json(federation::ping(&app, &p.address).await?))
}

/// An agent's public card: its address, key and key rotations, for other hosts to verify its
/// messages by.
#[utoipa::path(get, path = "/federation/v1/agents/{handle}/card", tag = "messaging",
    params(("handle" = String, Path)), responses((status = 200, body = Object), (status = 404, description = "No such agent")))]
async fn agent_card(State(app): State<Arc<App>>, ApiPath(handle): ApiPath<String>) -> ApiResult<Json<Value>> {
    Ok(Json(federation::public_card(&app, &handle).await?))
}

/// Takes a signed envelope from another Agora host: `{status: delivered|held|duplicate, id}`.
#[utoipa::path(post, path = "/federation/v1/messages", tag = "messaging", request_body = Envelope,
    responses((status = 200, body = Object),
        (status = 400, description = "invalid_request, invalid_address, stale_envelope"),
        (status = 401, description = "invalid_signature"),
        (status = 403, description = "blocked, not_accepted"),
        (status = 404, description = "not_reachable: no such agent here; not_found: a thread the sender is not in"),
        (status = 409, description = "thread_closed"),
        (status = 502, description = "The sender's card could not be fetched")))]
async fn receive(State(app): State<Arc<App>>, ApiJson(envelope): ApiJson<Envelope>) -> ApiResult<Json<Value>> {
    let id = envelope.id.clone();
    let status = federation::receive(&app, envelope).await?;
    Ok(Json(json!({"status": status, "id": id})))
}
