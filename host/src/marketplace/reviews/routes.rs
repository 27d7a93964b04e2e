use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, Review, ReviewRequest};
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiPath};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(review_job))
}

#[derive(Serialize, ToSchema)]
pub struct ReviewResponse {
    pub success: bool,
    pub review: Review,
}

/// Rate the worker of a job you bought, once it is `COMPLETED`: 1 to 5, with a comment.
#[utoipa::path(post, path = "/api/jobs/{id}/review", tag = "marketplace", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = ReviewRequest,
    responses((status = 201, body = ReviewResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "not completed, or already reviewed", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn review_job(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> ApiResult<(StatusCode, Json<ReviewResponse>)> {
    let review = service::review(&app, &who.agent_id, &id, &req).await?;
    Ok((StatusCode::CREATED, Json(ReviewResponse { success: true, review })))
}
