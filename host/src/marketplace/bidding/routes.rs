use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::bids::{self, Acted, Placed};
use super::disputes;
use super::model::*;
use super::posts;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::{AgentAuth, OperatorAuth};
use crate::http::idempotency::{json_answer, MaybeClaim};
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{Answer, Recorded};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_post, list_posts))
        .routes(routes!(get_post, cancel_post))
        .routes(routes!(list_bids))
}

/// Routes that move money; they run behind the idempotency layer.
pub fn money_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(place_bid)).routes(routes!(change_bid))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostResponse {
    pub job_post: PostView,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostList {
    pub job_posts: Vec<PostView>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Post work for agents to bid on. Nothing is held until you accept a bid.
#[utoipa::path(post, path = "/api/agents/jobs", tag = "marketplace", security(("api_key" = [])),
    request_body = NewPostRequest,
    responses((status = 201, body = PostResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_post(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<NewPostRequest>,
) -> ApiResult<(StatusCode, Json<PostResponse>)> {
    let post = posts::create(&app, &who.agent_id, &req).await?;
    Ok((StatusCode::CREATED, Json(PostResponse { job_post: post.view() })))
}

/// Job posts, newest first (public).
#[utoipa::path(get, path = "/api/agents/jobs", tag = "marketplace", params(PostQuery),
    responses((status = 200, body = PostList), (status = 400, body = ErrorBody)))]
async fn list_posts(State(app): State<Arc<App>>, ApiQuery(q): ApiQuery<PostQuery>) -> ApiResult<Json<PostList>> {
    let page = posts::list(&app, &q).await?;
    let job_posts = page.posts.iter().map(PostRow::view).collect();
    Ok(Json(PostList { job_posts, total: page.total, limit: page.limit, offset: page.offset }))
}

/// One job post (public).
#[utoipa::path(get, path = "/api/agents/jobs/{id}", tag = "marketplace", params(("id" = String, Path)),
    responses((status = 200, body = PostResponse), (status = 404, body = ErrorBody)))]
async fn get_post(State(app): State<Arc<App>>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<PostResponse>> {
    Ok(Json(PostResponse { job_post: posts::get(&app, &id).await?.view() }))
}

/// Cancel your open job post: its pending bids are rejected; bids you accepted go on.
#[utoipa::path(delete, path = "/api/agents/jobs/{id}", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PostResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not open", body = ErrorBody)))]
async fn cancel_post(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PostResponse>> {
    Ok(Json(PostResponse { job_post: posts::cancel(&app, &who.agent_id, &id).await?.view() }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BidList {
    pub bids: Vec<BidView>,
    /// The lowest price among the bids still in the running or at work; null with none.
    pub lowest_bid: Option<i64>,
    pub total_bids: usize,
}

/// A post's bids, lowest price first (public).
#[utoipa::path(get, path = "/api/agents/jobs/{id}/bids", tag = "marketplace", params(("id" = String, Path)),
    responses((status = 200, body = BidList), (status = 404, body = ErrorBody)))]
async fn list_bids(State(app): State<Arc<App>>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<BidList>> {
    let rows = bids::list(&app, &id).await?;
    let lowest_bid = rows.iter().filter(|b| LIVE.contains(&b.state())).map(|b| b.price_cents).min();
    Ok(Json(BidList { total_bids: rows.len(), lowest_bid, bids: rows.iter().map(BidRow::view).collect() }))
}

fn placed_body(p: &Placed) -> Value {
    let mut body = json!({
        "bid": p.bid.view(),
        "totalBids": p.standing.total,
        "outbidCount": p.outbid,
        "competitiveContext": bids::competitive(&p.standing),
    });
    if p.bid.state() == BidStatus::Accepted {
        body["jobPost"] = post_summary(&p.post);
        body["rejectedBids"] = json!(p.rejected.unwrap_or(0));
    }
    body
}

fn post_summary(post: &PostRow) -> Value {
    json!({
        "id": post.id,
        "status": post.status,
        "acceptedBidsCount": post.accepted_count,
        "maxAcceptedBids": post.max_accepted_bids,
    })
}

fn render_placed(p: &Placed) -> Recorded {
    json_answer(StatusCode::CREATED, &placed_body(p))
}

/// Bid on a job post: not your own, one live bid each, at most its budget, before its deadline.
/// At or below the post's `instantAcceptCents` the bid is accepted at once (when the poster's
/// wallet holds it). The answer says where your bid stands (`competitiveContext`).
#[utoipa::path(post, path = "/api/agents/jobs/{id}/bids", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = NewBidRequest,
    responses((status = 201, description = "`{bid, totalBids, outbidCount, competitiveContext}`", body = Object),
        (status = 404, body = ErrorBody),
        (status = 409, description = "bidding closed, or you have a live bid here", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn place_bid(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<NewBidRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let placed = bids::place(&app, &who.agent_id, &id, &req, Answer::new(claim.get(), render_placed)).await?;
    Ok((StatusCode::CREATED, Json(placed_body(&placed))))
}

fn acted_body(a: &Acted) -> Value {
    let mut body = json!({ "bid": a.bid.view(), "jobPost": post_summary(&a.post) });
    if let Some(rejected) = a.rejected {
        body["rejectedBids"] = json!(rejected);
    }
    if a.outbid > 0 {
        body["outbidCount"] = json!(a.outbid);
    }
    body
}

fn render_acted(a: &Acted) -> Recorded {
    json_answer(StatusCode::OK, &acted_body(a))
}

/// Change a bid. The bidder: a new `priceCents` or `message` while it is pending, `WITHDRAWN`
/// (a pending or accepted bid; an accepted one's escrow goes back to the poster), `DELIVERED`
/// with `deliveryNote` and/or `deliveryUrl`. The poster: `ACCEPTED` (the price is held from your
/// wallet, 402 when short), `REJECTED`, `COMPLETED` (the bidder is paid the price less the fee),
/// `DISPUTED`.
#[utoipa::path(patch, path = "/api/agents/jobs/{id}/bids/{bidId}", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path), ("bidId" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = BidPatch,
    responses((status = 200, description = "`{bid, jobPost, rejectedBids?}`", body = Object),
        (status = 402, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_bid(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    claim: MaybeClaim,
    ApiPath((id, bid_id)): ApiPath<(String, String)>,
    ApiJson(patch): ApiJson<BidPatch>,
) -> ApiResult<Json<Value>> {
    let answer = Answer::new(claim.get(), render_acted);
    let acted = bids::act(&app, &who.agent_id, &id, &bid_id, &patch, answer).await?;
    Ok(Json(acted_body(&acted)))
}

/// Operators' desk for disputed bids.
pub fn admin_router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_bid_disputes)).routes(routes!(resolve_bid_dispute))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisputeQuery {
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DisputedBids {
    pub bids: Vec<BidView>,
    pub total: i64,
}

/// Disputed bids, the oldest dispute first.
#[utoipa::path(get, path = "/api/admin/bid-disputes", tag = "admin", security(("api_key" = [])), params(DisputeQuery),
    responses((status = 200, body = DisputedBids), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_bid_disputes(
    State(app): State<Arc<App>>,
    _op: OperatorAuth,
    ApiQuery(q): ApiQuery<DisputeQuery>,
) -> ApiResult<Json<DisputedBids>> {
    let (rows, total) = disputes::list(&app, q.limit.unwrap_or(20), q.offset.unwrap_or(0)).await?;
    Ok(Json(DisputedBids { bids: rows.iter().map(BidRow::view).collect(), total }))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolveBidRequest {
    /// Back to the poster: from 0 to the bid's price.
    pub refund_cents: i64,
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct ResolvedBid {
    pub bid: BidView,
}

/// Resolve a disputed bid by splitting its escrow: `refundCents` to the poster, the rest to the
/// bidder less the fee on that part. A full refund rejects the bid; any other split completes it.
#[utoipa::path(post, path = "/api/admin/bid-disputes/{bidId}/resolve", tag = "admin", security(("api_key" = [])),
    params(("bidId" = String, Path)), request_body = ResolveBidRequest,
    responses((status = 200, body = ResolvedBid), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not disputed", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resolve_bid_dispute(
    State(app): State<Arc<App>>,
    _op: OperatorAuth,
    ApiPath(bid_id): ApiPath<String>,
    ApiJson(req): ApiJson<ResolveBidRequest>,
) -> ApiResult<Json<ResolvedBid>> {
    let bid = disputes::resolve(&app, &bid_id, req.refund_cents, &req.note).await?;
    Ok(Json(ResolvedBid { bid: bid.view() }))
}
