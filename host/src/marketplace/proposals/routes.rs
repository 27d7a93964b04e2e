use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, Reader, Submission};
use super::store::ProposalRow;
use super::ProposalError;
use crate::db::rfc3339;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::{AgentAuth, MaybeAuth, OperatorAuth};
use crate::http::idempotency::{json_answer, MaybeClaim};
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{Answer, Recorded};
use crate::identity::model::Principal;
use crate::marketplace::jobs::routes::HireResponse;
use crate::marketplace::jobs::service::JobOutcome;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(submit, list_proposals)).routes(routes!(get_proposal, quote_proposal))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(accept_proposal))
}

/// A guest's access token: `X-Proposal-Token`.
const TOKEN_HEADER: &str = "x-proposal-token";

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewProposalRequest {
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub attachments: Vec<String>,
    /// A guest's name (required without a key).
    pub name: Option<String>,
    /// A guest's e-mail (required without a key).
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Requester {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProposalJob {
    pub id: String,
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposalView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub attachments: Vec<String>,
    /// `pending`, `quoted` or `accepted`.
    pub status: String,
    pub price_cents: Option<i64>,
    pub response_message: Option<String>,
    /// The agent that will do the work, once quoted.
    pub agent_id: Option<String>,
    pub user: Requester,
    pub job: Option<ProposalJob>,
    pub created_at: String,
}

fn view(p: &ProposalRow) -> ProposalView {
    ProposalView {
        id: p.id.clone(),
        title: p.title.clone(),
        description: p.description.clone(),
        attachments: serde_json::from_str(&p.attachments).unwrap_or_default(),
        status: p.status.clone(),
        price_cents: p.price_cents,
        response_message: p.response_message.clone(),
        agent_id: p.worker_id.clone(),
        user: Requester {
            id: p.agent_id.clone(),
            name: p.agent_name.clone().or_else(|| p.guest_name.clone()),
            email: p.agent_email.clone().or_else(|| p.guest_email.clone()),
        },
        job: p.job_id.clone().map(|id| ProposalJob { id, status: p.job_status.clone() }),
        created_at: rfc3339(p.created_at),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Submitted {
    pub proposal: ProposalView,
    /// A guest's token to read and accept the proposal (`X-Proposal-Token`); shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

/// Ask for custom work: with an agent key, or as a guest with `name` and `email`. Every active
/// agent is told.
#[utoipa::path(post, path = "/api/custom-proposals", tag = "marketplace", request_body = NewProposalRequest,
    responses((status = 201, body = Submitted), (status = 422, body = ErrorBody)))]
async fn submit(
    State(app): State<Arc<App>>,
    who: MaybeAuth,
    ApiJson(req): ApiJson<NewProposalRequest>,
) -> ApiResult<(StatusCode, Json<Submitted>)> {
    let s = Submission {
        title: &req.title,
        description: &req.description,
        attachments: &req.attachments,
        name: req.name.as_deref(),
        email: req.email.as_deref(),
    };
    let (row, token) = service::submit(&app, who.agent_id(), &s).await?;
    Ok((StatusCode::CREATED, Json(Submitted { proposal: view(&row), access_token: token })))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ProposalList {
    pub proposals: Vec<ProposalView>,
    pub total: i64,
}

/// Every proposal, newest first (operators).
#[utoipa::path(get, path = "/api/custom-proposals", tag = "marketplace", security(("api_key" = [])),
    params(ProposalQuery), responses((status = 200, body = ProposalList), (status = 403, body = ErrorBody)))]
async fn list_proposals(
    State(app): State<Arc<App>>,
    _op: OperatorAuth,
    ApiQuery(q): ApiQuery<ProposalQuery>,
) -> ApiResult<Json<ProposalList>> {
    let (rows, total) = service::list(&app, q.limit.unwrap_or(20), q.offset.unwrap_or(0)).await?;
    Ok(Json(ProposalList { proposals: rows.iter().map(view).collect(), total }))
}

#[derive(Serialize, ToSchema)]
pub struct ProposalResponse {
    pub proposal: ProposalView,
}

fn token(headers: &HeaderMap) -> Option<&str> {
    headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
}

/// A proposal: for the agent that made it, an operator, or a guest with `X-Proposal-Token`.
#[utoipa::path(get, path = "/api/custom-proposals/{id}", tag = "marketplace", params(("id" = String, Path)),
    responses((status = 200, body = ProposalResponse), (status = 404, body = ErrorBody)))]
async fn get_proposal(
    State(app): State<Arc<App>>,
    who: MaybeAuth,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProposalResponse>> {
    let reader = match (&who.0, token(&headers)) {
        (Some(Principal::Operator { .. }), _) => Reader::Operator,
        (_, Some(token)) => Reader::Guest(token),
        (Some(Principal::Agent { agent_id }), None) => Reader::Agent(agent_id),
        (None | Some(Principal::Runtime(_)), None) => return Err(ProposalError::NotFound.into()),
    };
    Ok(Json(ProposalResponse { proposal: view(&service::get(&app, reader, &id).await?) }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuoteRequest {
    pub price_cents: i64,
    #[serde(default)]
    pub response_message: String,
    /// The agent (id or handle) that will do the work.
    pub agent_id: String,
}

/// Quote a proposal (operators): the price, a message, and the agent that will do the work.
#[utoipa::path(patch, path = "/api/custom-proposals/{id}", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = QuoteRequest,
    responses((status = 200, body = ProposalResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn quote_proposal(
    State(app): State<Arc<App>>,
    _op: OperatorAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<QuoteRequest>,
) -> ApiResult<Json<ProposalResponse>> {
    let row = service::quote(&app, &id, req.price_cents, &req.response_message, &req.agent_id).await?;
    Ok(Json(ProposalResponse { proposal: view(&row) }))
}

fn render_accepted(o: &JobOutcome) -> Recorded {
    json_answer(StatusCode::CREATED, &HireResponse::from(o))
}

/// Accept a quote with your agent key (a guest adds its `X-Proposal-Token`): a job with the
/// quoted agent, paid from your wallet, or `PENDING_PAYMENT` with a `checkoutUrl` when it is
/// short.
#[utoipa::path(post, path = "/api/custom-proposals/{id}/accept", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = HireResponse), (status = 404, body = ErrorBody),
        (status = 409, description = "not quoted", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept_proposal(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<HireResponse>)> {
    let answer = Answer::new(claim.get(), render_accepted);
    let done = service::accept(&app, &who.agent_id, &id, token(&headers), answer).await?;
    Ok((StatusCode::CREATED, Json(HireResponse::from(&done))))
}
