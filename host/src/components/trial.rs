//! `POST /api/components/{id}/run`: a publisher runs its own component once, of any kind,
//! under the host's normal limits and the component's grants, and gets the full report
//! (result or error, usage, logs, stdio). No money moves; nothing is recorded.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::store;
use crate::app::App;
use crate::db::{new_id, now_ms};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::execute::model::{ErrorView, LogView, UsageView};
use crate::execute::run::{ensure_prepared, limits};
use crate::http::auth::AgentAuth;
use crate::http::json::ApiJson;
use crate::http::validate;
use crate::runtime::{
    Execution, Grants, HandlerAction, IncomingMessage, Invocation, Kind, PolicyDecision, ProposedAction,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialMessage {
    pub from: String,
    pub to: String,
    pub content: String,
    pub thread_id: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialAction {
    pub kind: String,
    pub actor: Option<String>,
    pub amount_cents: Option<u64>,
    pub target: Option<String>,
    /// JSON text with more detail.
    pub detail: Option<String>,
}

/// What to run, by the component's kind: an agent takes `input` (and `params`), a skill
/// `input` (or `describe: true`), a handler a `message`, a policy an `action`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TrialRequest {
    pub input: Option<String>,
    pub params: Option<String>,
    #[serde(default)]
    pub describe: bool,
    pub message: Option<TrialMessage>,
    pub action: Option<TrialAction>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialReport {
    /// `succeeded` or `failed`.
    pub status: String,
    /// The output: text for agents and skills, `{name, version, ...}` for a skill's
    /// description, `{action, ...}` for handlers, `{decision, reason}` for policies.
    pub result: Option<Value>,
    pub error: Option<ErrorView>,
    pub usage: UsageView,
    pub logs: Vec<LogView>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrialResponse {
    pub success: bool,
    pub data: TrialReport,
}

fn report<T>(e: Execution<T>, to_json: impl FnOnce(T) -> Value) -> TrialReport {
    let (result, error, status) = match e.result {
        Ok(v) => (Some(to_json(v)), None, "succeeded"),
        Err(err) => (None, Some(ErrorView { code: err.code().to_string(), message: err.to_string() }), "failed"),
    };
    TrialReport {
        status: status.into(),
        result,
        error,
        usage: UsageView {
            fuel: e.usage.fuel as i64,
            wall_ms: e.usage.wall_ms as i64,
            memory_bytes: e.usage.memory_bytes as i64,
        },
        logs: e.logs.into_iter().map(|l| LogView { level: l.level, message: l.message }).collect(),
        stdout: e.stdout,
        stderr: e.stderr,
    }
}

fn required<T>(v: Option<T>, field: &str, kind: Kind) -> Result<T, ApiError> {
    v.ok_or_else(|| validate::fail(field, &format!("a {kind} component needs it")))
}

/// Run one of your components once and see exactly what it did.
#[utoipa::path(post, path = "/api/components/{id}/run", tag = "components", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = TrialRequest,
    responses((status = 200, body = TrialResponse), (status = 404, description = "no such component of yours", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn run_component(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TrialRequest>,
) -> ApiResult<Json<TrialResponse>> {
    let c = store::get(&app.db, &id)
        .await?
        .filter(|c| c.publisher_id == who.agent_id)
        .ok_or_else(|| ApiError::not_found("component"))?;
    let kind: Kind = c.kind.parse().map_err(|_| ApiError::internal())?;
    ensure_prepared(&app, &c).await.map_err(|e| {
        tracing::error!(component = %c.id, error = %e, "component not runnable");
        ApiError::unavailable("the component cannot be loaded right now")
    })?;
    let caps = c.capabilities();
    let invocation = Invocation {
        namespace: format!("trial:{}", who.agent_id),
        grants: Grants { kv: caps.kv, http_hosts: caps.http, allow_private_http: app.config.allow_private_http },
        limits: limits(&app, app.config.exec_fuel),
        kv: app.kv.clone(),
    };
    let rt = &app.runtime;
    let data = match kind {
        Kind::Agent => {
            let task = crate::runtime::AgentTask {
                id: new_id(),
                input: required(req.input, "input", kind)?,
                params: req.params,
                budget_cents: 0,
                caller: Some(who.agent_id.clone()),
            };
            report(rt.run_agent(&c.digest, task, invocation).await, |o| Value::String(o.output))
        }
        Kind::Skill if req.describe => report(rt.skill_describe(&c.digest, invocation).await, |i| {
            json!({"name": i.name, "version": i.version, "description": i.description,
                   "inputSchema": i.input_schema, "outputSchema": i.output_schema})
        }),
        Kind::Skill => {
            let input = required(req.input, "input", kind)?;
            report(rt.skill_invoke(&c.digest, input, invocation).await, Value::String)
        }
        Kind::Handler => {
            let m = required(req.message, "message", kind)?;
            let message = IncomingMessage {
                id: new_id(),
                thread_id: m.thread_id.unwrap_or_else(new_id),
                from: m.from,
                to: m.to,
                content: m.content,
                content_type: m.content_type.unwrap_or_else(|| "text/plain".into()),
                timestamp_ms: now_ms().max(0) as u64,
            };
            report(rt.run_handler(&c.digest, message, invocation).await, |a| match a {
                HandlerAction::Reply(content) => json!({"action": "reply", "content": content}),
                HandlerAction::Forward { to, note } => json!({"action": "forward", "to": to, "note": note}),
                HandlerAction::CloseThread => json!({"action": "close-thread"}),
                HandlerAction::Ignore => json!({"action": "ignore"}),
            })
        }
        Kind::Policy => {
            let a = required(req.action, "action", kind)?;
            let action = ProposedAction {
                kind: a.kind,
                actor: a.actor.unwrap_or_else(|| who.agent_id.clone()),
                amount_cents: a.amount_cents,
                target: a.target,
                detail: a.detail.unwrap_or_else(|| "{}".into()),
            };
            report(rt.run_policy(&c.digest, action, invocation).await, |d| match d {
                PolicyDecision::Allow(reason) => json!({"decision": "allow", "reason": reason}),
                PolicyDecision::Deny(reason) => json!({"decision": "deny", "reason": reason}),
                PolicyDecision::RequireApproval(reason) => json!({"decision": "require-approval", "reason": reason}),
            })
        }
    };
    Ok(Json(TrialResponse { success: true, data }))
}
