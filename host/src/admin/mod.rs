//! Operator endpoints.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::OperatorAuth;
use crate::http::json::ApiJson;
use crate::identity::service as identity;
use crate::state::App;
use crate::validate;
use crate::wallet::check::{self, LedgerReport};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(ledger_check)).routes(routes!(create_operator_key))
}

/// `POST /api/admin/clock`, served only with `test_clock` on and left out of the API's
/// description: it is a test's way to be days later.
pub fn test_clock_router() -> axum::Router<Arc<App>> {
    axum::Router::new().route("/api/admin/clock", axum::routing::post(advance_clock))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdvanceClock {
    advance_ms: i64,
}

async fn advance_clock(_op: OperatorAuth, ApiJson(req): ApiJson<AdvanceClock>) -> ApiResult<Json<serde_json::Value>> {
    if !(0..=3_650 * 24 * 3_600_000).contains(&req.advance_ms) {
        return Err(validate::fail("advanceMs", "must be from 0 to ten years in milliseconds").into());
    }
    crate::db::advance_clock(req.advance_ms);
    Ok(Json(serde_json::json!({ "now": crate::db::rfc3339(crate::db::now_ms()) })))
}

/// Verify the ledger: balances sum to zero, no wallet is negative, credit stays within
/// balances, every balance equals the sum of its transfers, every escrow matches its hold, and
/// the withdrawable money in wallets never exceeds the funded money in less the money out.
#[utoipa::path(get, path = "/api/admin/ledger/check", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = LedgerReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ledger_check(State(app): State<Arc<App>>, _op: OperatorAuth) -> ApiResult<Json<LedgerReport>> {
    Ok(Json(check::check(&app.db).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct NewOperatorKeyRequest {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct NewOperatorKey {
    pub id: String,
    pub name: String,
    /// Shown once.
    pub key: String,
    pub prefix: String,
}

/// Create another operator key.
#[utoipa::path(post, path = "/api/admin/operator-keys", tag = "admin", security(("api_key" = [])),
    request_body = NewOperatorKeyRequest,
    responses((status = 201, body = NewOperatorKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_operator_key(
    State(app): State<Arc<App>>,
    _op: OperatorAuth,
    ApiJson(req): ApiJson<NewOperatorKeyRequest>,
) -> ApiResult<(StatusCode, Json<NewOperatorKey>)> {
    let name = validate::text("name", &req.name, 100)?;
    let key = identity::create_operator_key(&app.db, &name).await?;
    Ok((StatusCode::CREATED, Json(NewOperatorKey { id: key.id, name, key: key.key, prefix: key.prefix })))
}
