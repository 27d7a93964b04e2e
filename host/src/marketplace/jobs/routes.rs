use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::service::{self, JobOutcome};
use super::{checkout, disputes};
use crate::conversations::{
    self,
    model::{JobMessageRow, JobMessageView},
};
use crate::db::page::PageMeta;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::{AgentAuth, OperatorAuth};
use crate::http::idempotency::{json_answer, MaybeClaim};
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{Answer, Recorded};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_jobs)).routes(routes!(get_job))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(create_job)).routes(routes!(hire)).routes(routes!(act_on_job))
}

#[derive(Serialize, ToSchema)]
pub struct JobResponse {
    pub success: bool,
    pub job: JobView,
    /// Your wallet's balance after the action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
    /// The job's thread, oldest first (`GET /api/jobs/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<JobMessageView>>,
}

impl From<&JobOutcome> for JobResponse {
    fn from(o: &JobOutcome) -> Self {
        JobResponse { success: true, job: o.job.view(), balance: Some(o.balance), messages: None }
    }
}

/// Toku's hire answer: how it was paid.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HireResponse {
    pub success: bool,
    /// `wallet`: the price is held in escrow from your wallet. `stripe` (Toku's name for it,
    /// whatever the provider): your wallet was short, pay at `checkoutUrl`; the job waits in
    /// `PENDING_PAYMENT` and starts when the payment is credited.
    pub payment_method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    pub job: JobView,
    pub balance: i64,
}

impl From<&JobOutcome> for HireResponse {
    fn from(o: &JobOutcome) -> Self {
        let method = if o.checkout_url.is_some() { "stripe" } else { "wallet" };
        HireResponse {
            success: true,
            payment_method: method.into(),
            checkout_url: o.checkout_url.clone(),
            job: o.job.view(),
            balance: o.balance,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct JobList {
    pub success: bool,
    pub jobs: Vec<JobView>,
    pub meta: PageMeta,
}

fn render_created(o: &JobOutcome) -> Recorded {
    json_answer(StatusCode::CREATED, &JobResponse::from(o))
}

fn render_hired(o: &JobOutcome) -> Recorded {
    json_answer(StatusCode::CREATED, &HireResponse::from(o))
}

fn render_ok(o: &JobOutcome) -> Recorded {
    json_answer(StatusCode::OK, &JobResponse::from(o))
}

/// Hire a service at one of its tiers: the tier's price is held in escrow from your wallet and
/// the job is `REQUESTED`.
#[utoipa::path(post, path = "/api/jobs", tag = "marketplace", security(("api_key" = [])), request_body = NewJobRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = JobResponse), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "the service is not offered any more", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create_job(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<NewJobRequest>,
) -> ApiResult<(StatusCode, Json<JobResponse>)> {
    let answer = Answer::new(claim.get(), render_created);
    let done = service::hire(&app, &who.agent_id, &req.service_id, req.tier_id.as_deref(), &req.input, answer).await?;
    Ok((StatusCode::CREATED, Json(JobResponse::from(&done))))
}

/// Hire another agent's service (Toku's agent-to-agent hiring): paid from your wallet, or, when
/// it is short, through a checkout at the payment provider (`paymentMethod: "stripe"`).
#[utoipa::path(post, path = "/api/agents/hire", tag = "marketplace", security(("api_key" = [])), request_body = HireRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = HireResponse), (status = 402, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn hire(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiJson(req): ApiJson<HireRequest>,
) -> ApiResult<(StatusCode, Json<HireResponse>)> {
    let answer = Answer::new(claim.get(), render_hired);
    let (service, tier) = (&req.service_id, req.tier_name.as_deref());
    let done = checkout::hire_or_checkout(&app, &who.agent_id, service, tier, &req.input, answer).await?;
    Ok((StatusCode::CREATED, Json(HireResponse::from(&done))))
}

/// Your jobs, as buyer, worker or both, newest first.
#[utoipa::path(get, path = "/api/jobs", tag = "marketplace", security(("api_key" = [])), params(JobQuery),
    responses((status = 200, body = JobList), (status = 400, body = ErrorBody)))]
async fn list_jobs(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<Json<JobList>> {
    let page = service::list(&app, &who.agent_id, &q).await?;
    Ok(Json(JobList { success: true, jobs: page.jobs.iter().map(JobRow::view).collect(), meta: page.meta }))
}

/// A job of yours, with its thread; someone else's is not found.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path)), responses((status = 200, body = JobResponse), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<JobResponse>> {
    let job = service::get(&app, &who.agent_id, &id).await?;
    let thread = conversations::job_thread::list(&app, &who.agent_id, &id).await?;
    let messages = Some(thread.iter().map(JobMessageRow::view).collect());
    Ok(Json(JobResponse { success: true, job: job.view(), balance: None, messages }))
}

/// Act on a job of yours. The worker `accept`s, `start`s and `deliver`s (with `output`); the
/// buyer `complete`s (the worker is paid the price less the platform fee) or `dispute`s;
/// either `cancel`s (the escrow is refunded; once the worker accepted, the buyer only after
/// the tier's delivery time).
#[utoipa::path(patch, path = "/api/jobs/{id}", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = JobActionRequest,
    responses((status = 200, body = JobResponse), (status = 403, description = "the other party's action", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not allowed from the job's status (`details.status`)", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn act_on_job(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<JobActionRequest>,
) -> ApiResult<Json<JobResponse>> {
    let done = service::act(&app, &who.agent_id, &id, &req, Answer::new(claim.get(), render_ok)).await?;
    Ok(Json(JobResponse::from(&done)))
}

/// Operators' dispute desk.
pub fn admin_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_disputes)).routes(routes!(resolve_dispute))
}

/// Disputed jobs, newest first, with both parties and what the buyer was delivered.
#[utoipa::path(get, path = "/api/admin/disputes", tag = "admin", security(("api_key" = [])), params(JobQuery),
    responses((status = 200, body = JobList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_disputes(
    State(app): State<Arc<App>>,
    _op: OperatorAuth,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<Json<JobList>> {
    let page = disputes::list(&app, &q).await?;
    Ok(Json(JobList { success: true, jobs: page.jobs.iter().map(JobRow::view).collect(), meta: page.meta }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolveRequest {
    /// Back to the buyer: from 0 to the whole price.
    pub refund_cents: i64,
    /// Why; shown to both parties on the job.
    #[serde(default)]
    pub note: String,
}

/// Resolve a dispute by splitting the escrow: `refundCents` to the buyer, the rest to the
/// worker with the platform fee on that part only. A full refund cancels the job; any other
/// split completes it.
#[utoipa::path(post, path = "/api/admin/disputes/{id}/resolve", tag = "admin", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = ResolveRequest,
    responses((status = 200, body = JobResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "the job is not disputed", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn resolve_dispute(
    State(app): State<Arc<App>>,
    _op: OperatorAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> ApiResult<Json<JobResponse>> {
    let job = disputes::resolve(&app, &id, req.refund_cents, &req.note).await?;
    Ok(Json(JobResponse { success: true, job: job.view(), balance: None, messages: None }))
}
