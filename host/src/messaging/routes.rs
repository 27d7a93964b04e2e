//! toq's `/v1/*` routes, per agent: each acts for the agent whose key calls it (a daemon is one
//! agent, a host many; toq's routes are local-only, Agora's authenticate).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::federation;
use super::handlers::{self, HandlerSpec, HandlerView};
use super::identity::{self, Card, RotationView};
use super::live::{self, InboxEvent};
use super::model::{MessageRow, MessageView, NewMessage, Sent};
use super::service::{self, HistoryQuery};
use super::streams::{self, Chunk, EndStream, StartStream, StreamStarted};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(card))
        .routes(routes!(rotate_key))
        .routes(routes!(send_message, stream_incoming))
        .routes(routes!(history))
        .routes(routes!(list_handlers, add_handler))
        .routes(routes!(change_handler, remove_handler))
        .routes(routes!(stop_handler))
        .routes(routes!(reload_handlers))
        .routes(routes!(start_stream))
        .routes(routes!(stream_chunk))
        .routes(routes!(end_stream))
}

/// This agent's card: its address, its public key and the keys it had before.
#[utoipa::path(get, path = "/v1/card", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Card)))]
async fn card(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Card>> {
    Ok(Json(identity::card(&app, &who.agent_id).await?))
}

/// Replaces the agent's key pair at once (no restart): the old key signs a statement naming the
/// new one, published on the card.
#[utoipa::path(post, path = "/v1/keys/rotate", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = RotationView), (status = 409, description = "Rotated by another request meanwhile")))]
async fn rotate_key(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<RotationView>> {
    Ok(Json(identity::rotate(&app, &who.agent_id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SendParams {
    /// Answer once every recipient has acknowledged the message (delivery to an agent on this
    /// host is acknowledged as it commits).
    pub wait: Option<bool>,
    /// Seconds to wait with `wait=true` (1-60, default 10); past it, `delivery_timeout`.
    pub timeout: Option<u64>,
}

/// Sends a message to one or more agents, all or none: every address, the size, the thread
/// and the sender's policies are checked before anything is delivered.
#[utoipa::path(post, path = "/v1/messages", tag = "messaging", security(("bearer" = [])),
    params(SendParams), request_body = NewMessage,
    responses((status = 200, body = Sent),
        (status = 400, description = "invalid_request, or invalid_address"),
        (status = 403, description = "A guardrail policy refuses the message (policy_denied, approval_required)"),
        (status = 404, description = "not_reachable: no agent at the address; or not_found: a thread you are not in"),
        (status = 409, description = "thread_closed"),
        (status = 413, description = "message_too_large"),
        (status = 502, description = "not_reachable (another host refused it, with wait), a2a_send_failed"),
        (status = 504, description = "delivery_timeout: no acknowledgement within the timeout (with wait)")))]
async fn send_message(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(params): ApiQuery<SendParams>,
    ApiJson(req): ApiJson<NewMessage>,
) -> ApiResult<Json<Sent>> {
    if params.timeout.is_some_and(|t| !(1..=60).contains(&t)) {
        return Err(ApiError::invalid("timeout must be 1 to 60 seconds"));
    }
    let mut sent = service::send(&app, &who.agent_id, req).await?;
    let queued: Vec<String> = sent.messages.iter().filter(|m| m.status == "queued").map(|m| m.id.clone()).collect();
    if params.wait == Some(true) && !queued.is_empty() {
        let timeout = std::time::Duration::from_secs(params.timeout.unwrap_or(10));
        if !federation::wait_for(&app, &queued, timeout).await? {
            let message =
                format!("no acknowledgement within {} s; delivery goes on in the background", timeout.as_secs());
            return Err(ApiError::new(StatusCode::GATEWAY_TIMEOUT, "delivery_timeout", message));
        }
        sent = service::refresh(&app, sent).await?;
        let failed = |a2a: bool| sent.messages.iter().any(|m| m.status == "failed" && m.to.starts_with("http") == a2a);
        if failed(true) {
            let why = "the A2A agent refused the message or could not be reached; see GET /v1/logs";
            return Err(ApiError::new(StatusCode::BAD_GATEWAY, "a2a_send_failed", why));
        }
        if failed(false) {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "not_reachable",
                "the receiving host refused the message",
            ));
        }
    }
    Ok(Json(sent))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Only messages from this address.
    pub from: Option<String>,
    /// Only messages of this content type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Start after this inbox position (as `Last-Event-ID` does); without either, only messages
    /// arriving from now on.
    pub after: Option<i64>,
}

/// Incoming messages as server-sent events (`event: message`, `id:` the inbox position, `data:`
/// the message), live; reconnect with `Last-Event-ID` to resume where the stream stopped.
#[utoipa::path(get, path = "/v1/messages", tag = "messaging", security(("bearer" = [])),
    params(StreamParams, ("Last-Event-ID" = Option<String>, Header, description = "The last event seen")),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = MessageView),
        (status = 400, description = "A bad filter or Last-Event-ID")))]
async fn stream_incoming(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let filter = service::stream_filter(params.from, params.kind)?;
    let last_seen = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::invalid("Last-Event-ID must be an event id this stream sent"))?,
        ),
        None => params.after,
    };
    if last_seen.is_some_and(|n| n < 0) {
        return Err(ApiError::invalid("after must be 0 or more"));
    }
    let events = live::incoming(app, who.agent_id, last_seen, filter).map(|e| {
        Ok(match e {
            Ok(e) => {
                let event = Event::default().id(e.seq().to_string());
                match e {
                    InboxEvent::Message(m) => event.event("message").json_data(m.view()),
                    InboxEvent::Chunk(c) => event.event("stream.chunk").json_data(c.view()),
                }
                .unwrap_or_else(|_| Event::default().event("error"))
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading an inbox for its stream failed");
                Event::default().event("error").data("the inbox could not be read; reconnect with Last-Event-ID")
            }
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// 1-500, default 50.
    pub limit: Option<i64>,
    /// Only messages from this address.
    pub from: Option<String>,
    /// Only messages at or after this time (RFC 3339, or ms since the epoch).
    pub since: Option<String>,
    pub thread_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub messages: Vec<MessageView>,
    pub next_cursor: Option<String>,
}

/// Messages this agent sent or received, newest first.
#[utoipa::path(get, path = "/v1/messages/history", tag = "messaging", security(("bearer" = [])),
    params(HistoryParams), responses((status = 200, body = History), (status = 400, description = "A bad filter")))]
async fn history(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> ApiResult<Json<History>> {
    let since = match p.since.as_deref() {
        None | Some("") => None,
        Some(s) => {
            Some(parse_time(s).ok_or_else(|| ApiError::invalid("since must be RFC 3339 or ms since the epoch"))?)
        }
    };
    let q =
        HistoryQuery { limit: p.limit.unwrap_or(50), from: p.from, since, thread_id: p.thread_id, cursor: p.cursor };
    let (rows, more) = service::history(&app, &who.agent_id, q).await?;
    let next_cursor =
        rows.last().filter(|_| more).map(|m: &MessageRow| crate::db::page::encode_cursor(m.created_at, &m.id));
    Ok(Json(History { messages: rows.iter().map(MessageRow::view).collect(), next_cursor }))
}

fn parse_time(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return (ms >= 0).then_some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp_millis())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Handlers {
    pub handlers: Vec<HandlerView>,
}

/// The agent's handlers, with how many messages each has waiting or in hand.
#[utoipa::path(get, path = "/v1/handlers", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Handlers)))]
async fn list_handlers(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Handlers>> {
    Ok(Json(Handlers { handlers: handlers::list(&app, &who.agent_id).await? }))
}

/// Registers a handler: a `handler` component of yours (`component_id`) or an LLM (`provider`,
/// `model`, `prompt`). A shell `command` is refused.
#[utoipa::path(post, path = "/v1/handlers", tag = "messaging", security(("bearer" = [])),
    request_body = HandlerSpec,
    responses((status = 201, body = HandlerView), (status = 400, description = "A bad field, or a shell command"),
        (status = 404, description = "No such handler component of yours"), (status = 409, description = "The name is taken")))]
async fn add_handler(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(spec): ApiJson<HandlerSpec>,
) -> ApiResult<(StatusCode, Json<HandlerView>)> {
    Ok((StatusCode::CREATED, Json(handlers::create(&app, &who.agent_id, spec).await?)))
}

/// Changes a handler: the fields given replace its own.
#[utoipa::path(put, path = "/v1/handlers/{name}", tag = "messaging", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = HandlerSpec,
    responses((status = 200, body = HandlerView), (status = 400, description = "A bad field"),
        (status = 404, description = "No such handler (or component) of yours")))]
async fn change_handler(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(name): ApiPath<String>,
    ApiJson(spec): ApiJson<HandlerSpec>,
) -> ApiResult<Json<HandlerView>> {
    Ok(Json(handlers::update(&app, &who.agent_id, &name, spec).await?))
}

/// Removes a handler; messages already waiting for it are not handled.
#[utoipa::path(delete, path = "/v1/handlers/{name}", tag = "messaging", security(("bearer" = [])),
    params(("name" = String, Path)), responses((status = 200, body = Object), (status = 404, description = "No such handler")))]
async fn remove_handler(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    handlers::delete(&app, &who.agent_id, &name).await?;
    Ok(Json(serde_json::json!({"name": name, "removed": true})))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopHandler {
    pub name: String,
}

/// Drops the messages waiting for a handler (a run in progress ends within its limits).
#[utoipa::path(post, path = "/v1/handlers/stop", tag = "messaging", security(("bearer" = [])),
    request_body = StopHandler, responses((status = 200, body = Object), (status = 404, description = "No such handler")))]
async fn stop_handler(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<StopHandler>,
) -> ApiResult<Json<serde_json::Value>> {
    let stopped = handlers::stop(&app, &who.agent_id, &req.name).await?;
    Ok(Json(serde_json::json!({"name": req.name, "stopped": stopped})))
}

/// Reads the handlers again from the agent's stored configuration (the database: every host
/// reads it for each message, so a change is in force at once) and lists them.
#[utoipa::path(post, path = "/v1/handlers/reload", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Handlers)))]
async fn reload_handlers(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Handlers>> {
    Ok(Json(Handlers { handlers: handlers::list(&app, &who.agent_id).await? }))
}

/// Opens a stream to one agent; its chunks reach the recipient's event stream live.
#[utoipa::path(post, path = "/v1/stream/start", tag = "messaging", security(("bearer" = [])),
    request_body = StartStream,
    responses((status = 200, body = StreamStarted), (status = 400, description = "invalid_request, invalid_address"),
        (status = 403, description = "blocked, not_accepted (also while a first contact waits), or a policy's refusal"),
        (status = 404, description = "not_reachable, or a thread you are not in"), (status = 409, description = "thread_closed"),
        (status = 502, description = "not_reachable (another host), a2a_send_failed")))]
async fn start_stream(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<StartStream>,
) -> ApiResult<Json<StreamStarted>> {
    Ok(Json(streams::start(&app, &who.agent_id, req).await?))
}

/// Sends a piece of an open stream: `{stream_id, index}`.
#[utoipa::path(post, path = "/v1/stream/chunk", tag = "messaging", security(("bearer" = [])),
    request_body = Chunk,
    responses((status = 200, body = Object), (status = 400, description = "Empty text"),
        (status = 404, description = "No such stream of yours"), (status = 409, description = "The stream has ended"),
        (status = 413, description = "message_too_large: the stream's text would pass the limit")))]
async fn stream_chunk(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<Chunk>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(streams::chunk(&app, &who.agent_id, req).await?))
}

/// Ends a stream: the assembled text is delivered as one message (`{"text", "stream_id",
/// "chunks"}`), which this answers.
#[utoipa::path(post, path = "/v1/stream/end", tag = "messaging", security(("bearer" = [])),
    request_body = EndStream,
    responses((status = 200, body = MessageView), (status = 403, description = "The recipient no longer takes your messages"),
        (status = 404, description = "No such stream of yours"), (status = 409, description = "The stream has ended, or the thread closed")))]
async fn end_stream(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<EndStream>,
) -> ApiResult<Json<MessageView>> {
    Ok(Json(streams::end(&app, &who.agent_id, req).await?))
}
