//! The gateway's usage: history, breakdown and statistics. A runtime key reads its own scope,
//! an agent key its account, an operator every account (`agent_id` picks one).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateway::usage::{self, Filters, GroupBy, Scope};
use crate::gateway::{GatewayError, OpenAiError};
use crate::http::auth::AnyAuth;
use crate::http::json::ApiQuery;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(history)).routes(routes!(breakdown)).routes(routes!(stats))
}

type Answer = Result<Json<Value>, OpenAiError>;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// 1 to 1000; default 100.
    limit: Option<i64>,
    /// Rows created before this time (RFC 3339), for the next page.
    before: Option<String>,
    /// Operators only: one account.
    agent_id: Option<String>,
    api_key_id: Option<String>,
    workspace_id: Option<String>,
    request_type: Option<String>,
}

/// Settled requests, newest first (`{data: UsageRow[], has_more}`).
#[utoipa::path(get, path = "/v1/usage", tag = "gateway", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = Object), (status = 400, description = "A bad filter"),
        (status = 404, description = "No such workspace")))]
async fn history(State(app): State<Arc<App>>, who: AnyAuth, ApiQuery(q): ApiQuery<HistoryQuery>) -> Answer {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(GatewayError::Invalid("limit must be 1 to 1000".into()).into());
    }
    let before = match &q.before {
        None => i64::MAX,
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|_| GatewayError::Invalid("before must be an RFC 3339 time".into()))?
            .timestamp_millis(),
    };
    let filters = Filters {
        agent_id: q.agent_id,
        api_key_id: q.api_key_id,
        workspace_id: q.workspace_id,
        request_type: q.request_type,
    };
    let scope = usage::scope(&app.db, &who.0, &filters).await?;
    let (data, has_more) = usage::history(&app.db, &scope, before, limit).await?;
    Ok(Json(json!({"data": data, "has_more": has_more})))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WindowQuery {
    /// `api_key` or `workspace` (breakdown only; default `workspace`).
    group_by: Option<String>,
    /// The window in days, 1 to 366; default 30.
    days: Option<i64>,
    /// The daily series' window in days (stats only), 1 to 366; default `days`.
    daily_days: Option<i64>,
    /// Operators only: one account.
    agent_id: Option<String>,
    api_key_id: Option<String>,
    workspace_id: Option<String>,
    request_type: Option<String>,
}

impl WindowQuery {
    async fn scope(&self, app: &App, who: &AnyAuth) -> Result<Scope, GatewayError> {
        let filters = Filters {
            agent_id: self.agent_id.clone(),
            api_key_id: self.api_key_id.clone(),
            workspace_id: self.workspace_id.clone(),
            request_type: self.request_type.clone(),
        };
        usage::scope(&app.db, &who.0, &filters).await
    }
}

fn window(value: Option<i64>, default: i64, name: &str) -> Result<i64, GatewayError> {
    let days = value.unwrap_or(default);
    if !(1..=366).contains(&days) {
        return Err(GatewayError::Invalid(format!("{name} must be 1 to 366")));
    }
    Ok(days)
}

/// Totals over the window per runtime key or per workspace, most charged first.
#[utoipa::path(get, path = "/v1/usage/breakdown", tag = "gateway", security(("bearer" = [])), params(WindowQuery),
    responses((status = 200, body = Object), (status = 400, description = "A bad filter"),
        (status = 404, description = "No such workspace")))]
async fn breakdown(State(app): State<Arc<App>>, who: AnyAuth, ApiQuery(q): ApiQuery<WindowQuery>) -> Answer {
    let group_by = GroupBy::parse(q.group_by.as_deref().unwrap_or("workspace"))?;
    let days = window(q.days, 30, "days")?;
    let scope = q.scope(&app, &who).await?;
    let data = usage::breakdown(&app.db, &scope, group_by, days).await?;
    Ok(Json(json!({"object": "list", "group_by": group_by.as_str(), "window_days": days, "data": data})))
}

/// Totals over the window, tier and request-type breakdowns, and a daily series.
#[utoipa::path(get, path = "/v1/stats", tag = "gateway", security(("bearer" = [])), params(WindowQuery),
    responses((status = 200, body = Object), (status = 400, description = "A bad filter"),
        (status = 404, description = "No such workspace")))]
async fn stats(State(app): State<Arc<App>>, who: AnyAuth, ApiQuery(q): ApiQuery<WindowQuery>) -> Answer {
    let days = window(q.days, 30, "days")?;
    let daily_days = window(q.daily_days, days, "daily_days")?;
    let scope = q.scope(&app, &who).await?;
    Ok(Json(usage::stats(&app.db, &scope, days, daily_days).await?))
}
