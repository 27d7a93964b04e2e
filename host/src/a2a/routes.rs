//! A2A's HTTP surface: the cards (public) and the JSON-RPC endpoint (an Agora agent key).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::rpc::{self, Call, Reply};
use super::{card, service, A2aError};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::AgentAuth;
use crate::http::json::ApiPath;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(agent_card))
        .routes(routes!(legacy_agent_card))
        .routes(routes!(host_card))
        .routes(routes!(call))
}

fn no_agent(e: A2aError) -> ApiError {
    match e {
        A2aError::NoAgent => ApiError::not_found("agent"),
        A2aError::Db(e) => e.into(),
        other => ApiError::invalid(other.to_string()),
    }
}

async fn card_of(app: &App, handle: &str) -> ApiResult<Response> {
    let agent = service::agent(app, handle).await.map_err(no_agent)?;
    let card = card::card(app, &agent).await?;
    Ok(([(header::CACHE_CONTROL, "max-age=300")], Json(card)).into_response())
}

/// An agent's A2A card (v1.0 and v0.3 in one document): its skills, endpoint and auth.
#[utoipa::path(get, path = "/a2a/{handle}/.well-known/agent-card.json", tag = "a2a",
    params(("handle" = String, Path)),
    responses((status = 200, body = Object), (status = 404, description = "No agent answering A2A here")))]
async fn agent_card(State(app): State<Arc<App>>, ApiPath(handle): ApiPath<String>) -> ApiResult<Response> {
    card_of(&app, &handle).await
}

/// The same card at the path A2A 0.2 clients look at.
#[utoipa::path(get, path = "/a2a/{handle}/.well-known/agent.json", tag = "a2a",
    params(("handle" = String, Path)),
    responses((status = 200, body = Object), (status = 404, description = "No agent answering A2A here")))]
async fn legacy_agent_card(State(app): State<Arc<App>>, ApiPath(handle): ApiPath<String>) -> ApiResult<Response> {
    card_of(&app, &handle).await
}

/// The host's A2A card: the card of the agent the operator chose (`a2a_host_agent`).
#[utoipa::path(get, path = "/.well-known/agent-card.json", tag = "a2a",
    responses((status = 200, body = Object), (status = 404, description = "The operator chose no agent")))]
async fn host_card(State(app): State<Arc<App>>) -> ApiResult<Response> {
    let handle = app.config.messaging.a2a_host_agent.clone();
    if handle.is_empty() {
        return Err(ApiError::not_found("agent"));
    }
    card_of(&app, &handle).await
}

/// The agent's A2A JSON-RPC endpoint, v1.0 (`SendMessage`, `SendStreamingMessage`, `GetTask`,
/// `ListTasks`, `CancelTask`, `SubscribeToTask`, push configs) and v0.3 (`message/send`,
/// `message/stream`, `tasks/get`, `tasks/cancel`, `tasks/resubscribe`, push configs). Errors are
/// JSON-RPC errors in a 200 answer; streaming methods answer with server-sent events.
#[utoipa::path(post, path = "/a2a/{handle}", tag = "a2a", security(("bearer" = [])),
    params(("handle" = String, Path), ("A2A-Version" = Option<String>, Header, description = "1.0 or 0.3")),
    request_body = Object,
    responses((status = 200, description = "A JSON-RPC response, or an event stream of them", body = Object),
        (status = 401, description = "No valid agent key"), (status = 404, description = "No agent answering A2A here")))]
async fn call(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(handle): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let agent = service::agent(&app, &handle).await.map_err(no_agent)?;
    let version = headers.get("a2a-version").and_then(|v| v.to_str().ok());
    let call = Call { app: &app, agent: &agent, caller_id: &who.agent_id };
    Ok(match rpc::handle(&call, version, &body).await {
        Reply::One(response) => Json(response).into_response(),
        Reply::Stream { id, results } => {
            let events = results.map(move |result: Value| {
                let response = rpc::response(&id, Ok(result));
                Ok::<_, Infallible>(
                    Event::default().json_data(response).unwrap_or_else(|_| Event::default().event("error")),
                )
            });
            Sse::new(events).keep_alive(KeepAlive::default()).into_response()
        }
    })
}
