//! The host-to-host surface: public, unauthenticated (an envelope proves its sender by its
//! signature; a card is public).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::discovery::{self, Discovered};
use super::federation::{self, Envelope};
use super::remote_streams::{self, ChunkEnvelope};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(agent_card))
        .routes(routes!(receive))
        .routes(routes!(receive_chunk))
        .routes(routes!(ping))
        .routes(routes!(discover))
        .routes(routes!(discover_local))
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

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiscoverParams {
    /// The domain whose agents to find (its `_toq.<host>` TXT records).
    pub host: String,
}

/// The agents a domain publishes in DNS TXT records at `_toq.<host>`.
#[utoipa::path(get, path = "/v1/discover", tag = "messaging", security(("bearer" = [])), params(DiscoverParams),
    responses((status = 200, body = Discovered), (status = 400, description = "invalid_request: not a domain name"),
        (status = 502, description = "not_reachable: the DNS lookup failed")))]
async fn discover(
    State(app): State<Arc<App>>,
    _who: AgentAuth,
    ApiQuery(p): ApiQuery<DiscoverParams>,
) -> ApiResult<Json<Discovered>> {
    Ok(Json(discovery::discover(&app, &p.host).await?))
}

/// Agents on the local network by mDNS: not available on this host (see the answer's message).
#[utoipa::path(get, path = "/v1/discover/local", tag = "messaging", security(("bearer" = [])),
    responses((status = 501, description = "not_available: mDNS discovery is not built in")))]
async fn discover_local(_who: AgentAuth) -> ApiError {
    let why = "mDNS discovery is not built into this host: it needs multicast UDP on the local network \
               (224.0.0.251 and ff02::fb, port 5353), which hosts in containers and clouds rarely have; \
               publish and find agents with DNS TXT records instead (GET /v1/discover?host=)";
    ApiError::new(axum::http::StatusCode::NOT_IMPLEMENTED, "not_available", why)
}

/// Takes a signed chunk of a stream from another Agora host: `{status: delivered|duplicate}`.
#[utoipa::path(post, path = "/federation/v1/stream-chunks", tag = "messaging", request_body = ChunkEnvelope,
    responses((status = 200, body = Object),
        (status = 400, description = "invalid_request, invalid_address, stale_envelope"),
        (status = 401, description = "invalid_signature"),
        (status = 403, description = "blocked, not_accepted"),
        (status = 404, description = "not_reachable: no such agent here"),
        (status = 502, description = "The sender's card could not be fetched")))]
async fn receive_chunk(State(app): State<Arc<App>>, ApiJson(chunk): ApiJson<ChunkEnvelope>) -> ApiResult<Json<Value>> {
    let status = remote_streams::receive_chunk(&app, chunk).await?;
    Ok(Json(json!({"status": status})))
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
