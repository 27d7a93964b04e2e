//! toq's `/v1/*` routes, per agent: each acts for the agent whose key calls it (a daemon is one
//! agent, a host many; toq's routes are local-only, Agora's authenticate).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::identity::{self, Card, RotationView};
use super::live;
use super::model::{MessageRow, MessageView, NewMessage, Sent};
use super::service::{self, HistoryQuery};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiQuery};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(card))
        .routes(routes!(rotate_key))
        .routes(routes!(send_message, stream_incoming))
        .routes(routes!(history))
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
        (status = 502, description = "not_reachable (another host), a2a_send_failed")))]
async fn send_message(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(params): ApiQuery<SendParams>,
    ApiJson(req): ApiJson<NewMessage>,
) -> ApiResult<Json<Sent>> {
    if params.wait == Some(true) && params.timeout.is_some_and(|t| !(1..=60).contains(&t)) {
        return Err(ApiError::invalid("timeout must be 1 to 60 seconds"));
    }
    Ok(Json(service::send(&app, &who.agent_id, req).await?))
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
    let events = live::incoming(app, who.agent_id, last_seen, filter).map(|m| {
        Ok(match m {
            Ok(m) => Event::default()
                .id(m.inbox_seq.unwrap_or_default().to_string())
                .event("message")
                .json_data(m.view())
                .unwrap_or_else(|_| Event::default().event("error")),
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
