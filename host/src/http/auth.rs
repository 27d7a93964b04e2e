//! Who is calling: a middleware resolves the presented key once per request into a `Caller`
//! (kept in the request's extensions, where the rate limiter and the extractors find it);
//! the extractors below turn it into the principal a handler needs, or the right refusal.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::identity::{service as identity, AuthError, Principal, RuntimeKey};
use crate::state::App;

/// The key presented with a request: `Authorization: Bearer <key>` or `X-API-Key: <key>`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    let auth = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The caller of one request, as resolved by `identify`.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Known(Principal),
    /// A key was presented and refused: 401, or 403 for a suspended agent.
    Refused(ApiError),
}

/// The client's address (the TCP peer).
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip())
}

/// Resolves the presented key into a `Caller` extension.
pub async fn identify(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let caller = match presented_key(req.headers()) {
        None => Caller::Anonymous,
        Some(key) => match identity::authenticate(&app.db, &app.keys, key).await {
            Ok(principal) => Caller::Known(principal),
            Err(AuthError::Invalid) => Caller::Refused(ApiError::unauthorized("invalid API key")),
            Err(AuthError::Suspended) => Caller::Refused(ApiError::forbidden("this agent is suspended")),
            Err(AuthError::Db(e)) => Caller::Refused(e.into()),
        },
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

fn caller(parts: &Parts) -> Caller {
    parts.extensions.get::<Caller>().cloned().unwrap_or(Caller::Anonymous)
}

/// Any authenticated caller.
pub struct Auth(pub Principal);

/// An authenticated agent.
pub struct AgentAuth {
    pub agent_id: String,
}

/// An authenticated operator.
pub struct OperatorAuth {
    pub key_id: String,
}

/// An optional caller: anonymous requests pass, a bad key does not.
pub struct MaybeAuth(pub Option<Principal>);

impl MaybeAuth {
    pub fn agent_id(&self) -> Option<&str> {
        match &self.0 {
            Some(Principal::Agent { agent_id }) => Some(agent_id),
            _ => None,
        }
    }
}

/// The principal of an authenticated request, whatever its kind.
fn known(parts: &Parts) -> Result<Principal, ApiError> {
    match caller(parts) {
        Caller::Known(principal) => Ok(principal),
        Caller::Refused(error) => Err(error),
        Caller::Anonymous => {
            Err(ApiError::unauthorized("missing API key: send Authorization: Bearer <key> or X-API-Key: <key>"))
        }
    }
}

/// Agents and operators only: runtime keys reach the gateway's routes (`AccountAuth`) alone.
fn not_runtime(principal: Principal) -> Result<Principal, ApiError> {
    match principal {
        Principal::Runtime(_) => Err(runtime_key_refused()),
        other => Ok(other),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        known(parts).and_then(not_runtime).map(Auth)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match caller(parts) {
            Caller::Anonymous => Ok(MaybeAuth(None)),
            Caller::Known(principal) => not_runtime(principal).map(|p| MaybeAuth(Some(p))),
            Caller::Refused(error) => Err(error),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AgentAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Auth::from_request_parts(parts, state).await?.0 {
            Principal::Agent { agent_id } => Ok(AgentAuth { agent_id }),
            Principal::Operator { .. } => Err(ApiError::forbidden("this endpoint needs an agent API key")),
            Principal::Runtime(_) => Err(runtime_key_refused()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OperatorAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Auth::from_request_parts(parts, state).await?.0 {
            Principal::Operator { key_id } => Ok(OperatorAuth { key_id }),
            Principal::Agent { .. } => Err(ApiError::forbidden("this endpoint needs an operator key")),
            Principal::Runtime(_) => Err(runtime_key_refused()),
        }
    }
}

/// A runtime key on a route that manages the account.
fn runtime_key_refused() -> ApiError {
    ApiError::forbidden(
        "Session authentication required: this route manages the account and needs its agent key (ak_...); \
         a tok_ runtime key reaches only the gateway's runtime routes",
    )
}

/// An account on the gateway's runtime routes: the agent itself (its agent key), or one of its
/// runtime keys, which scopes what it sees to itself and its workspace.
pub struct AccountAuth {
    pub agent_id: String,
    pub runtime: Option<RuntimeKey>,
}

impl<S: Send + Sync> FromRequestParts<S> for AccountAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match known(parts)? {
            Principal::Agent { agent_id } => Ok(AccountAuth { agent_id, runtime: None }),
            Principal::Runtime(key) => Ok(AccountAuth { agent_id: key.agent_id.clone(), runtime: Some(key) }),
            Principal::Operator { .. } => {
                Err(ApiError::forbidden("this endpoint needs an agent key or one of its tok_ runtime keys"))
            }
        }
    }
}

/// Any authenticated caller, runtime keys included: for reads whose scope follows the key (the
/// gateway's usage).
pub struct AnyAuth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for AnyAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        known(parts).map(AnyAuth)
    }
}

/// The client's address, when the server knows it.
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(&parts.extensions)))
    }
}
