//! Reading approvals and the audit log, newest first a page at a time, and recording what an
//! app says it did. An account reads its own (a runtime key: its workspace's), an operator
//! everyone's or one account's.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::service::Who;
use super::store::{self, ApprovalRow, AuditEvent, APPROVAL_COLUMNS};
use super::GuardrailError;
use crate::db::page::{decode_cursor, encode_cursor};
use crate::db::{new_id, now_ms, rfc3339};
use crate::state::App;
use crate::transaction;

/// A page's place: the keyset cursor of the previous page's last row (`db::page`).
fn cursor(before: Option<&str>) -> Result<(i64, String), GuardrailError> {
    match before {
        None => Ok((i64::MAX, String::new())),
        Some(c) => decode_cursor(c)
            .map_err(|_| GuardrailError::Invalid("before must be a next_cursor from an earlier page".into())),
    }
}

fn limit(limit: Option<i64>) -> Result<i64, GuardrailError> {
    let n = limit.unwrap_or(50);
    if !(1..=500).contains(&n) {
        return Err(GuardrailError::Invalid("limit must be 1 to 500".into()));
    }
    Ok(n)
}

/// The account a reader sees (`""`: every account) and the workspace it is bound to.
fn scope(who: &Who, agent: Option<&str>) -> (String, Option<String>) {
    match who {
        Who::Account { agent_id, workspace, .. } => (agent_id.clone(), workspace.clone()),
        Who::Operator { .. } => (agent.unwrap_or_default().to_string(), None),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalQuery {
    pub workspace_id: Option<String>,
    pub mission_id: Option<String>,
    /// `pending`, `approved`, `rejected`, `expired` or `used`.
    pub status: Option<String>,
    /// Operators only: one account.
    pub agent_id: Option<String>,
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub before: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    pub id: String,
    pub agent_id: String,
    pub workspace_id: Option<String>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    pub policy_id: Option<String>,
    /// `pending`, `approved`, `rejected`, `expired` (undecided in time) or `used`.
    pub status: String,
    pub reason: String,
    #[schema(value_type = Object)]
    pub action: Value,
    pub decided_by: Option<String>,
    pub note: Option<String>,
    pub decided_at: Option<String>,
    pub used_at: Option<String>,
    pub expires_at: String,
    pub created_at: String,
}

impl From<ApprovalRow> for ApprovalView {
    fn from(r: ApprovalRow) -> Self {
        let expired = r.status == "pending" && r.expires_at <= now_ms();
        ApprovalView {
            status: if expired { "expired".into() } else { r.status },
            action: serde_json::from_str(&r.action).unwrap_or_default(),
            decided_at: r.decided_at.map(rfc3339),
            used_at: r.used_at.map(rfc3339),
            expires_at: rfc3339(r.expires_at),
            created_at: rfc3339(r.created_at),
            id: r.id,
            agent_id: r.agent_id,
            workspace_id: r.workspace_id,
            mission_id: r.mission_id,
            task_id: r.task_id,
            policy_id: r.policy_id,
            reason: r.reason,
            decided_by: r.decided_by,
            note: r.note,
        }
    }
}

pub async fn approvals(
    app: &App,
    who: &Who,
    q: &ApprovalQuery,
) -> Result<(Vec<ApprovalView>, Option<String>), GuardrailError> {
    let (agent_id, bound) = scope(who, q.agent_id.as_deref());
    let workspace = bound.or(q.workspace_id.clone()).unwrap_or_default();
    let status = q.status.clone().unwrap_or_default();
    if !matches!(status.as_str(), "" | "pending" | "approved" | "rejected" | "expired" | "used") {
        return Err(GuardrailError::Invalid("status must be pending, approved, rejected, expired or used".into()));
    }
    let (at, id) = cursor(q.before.as_deref())?;
    let n = limit(q.limit)?;
    let now = now_ms();
    let rows = crate::db::query_as::<ApprovalRow>(&format!(
        "SELECT {APPROVAL_COLUMNS} FROM guardrail_approvals \
         WHERE ($1 = '' OR agent_id = $1) AND ($2 = '' OR workspace_id = $2) AND ($3 = '' OR mission_id = $3) \
         AND ($4 = '' OR (status = $4 AND NOT ($4 = 'pending' AND expires_at <= $5)) \
              OR ($4 = 'expired' AND status = 'pending' AND expires_at <= $5)) \
         AND (created_at < $6 OR (created_at = $6 AND id < $7)) \
         ORDER BY created_at DESC, id DESC LIMIT $8"
    ))
    .bind(agent_id)
    .bind(workspace)
    .bind(q.mission_id.clone().unwrap_or_default())
    .bind(status)
    .bind(now)
    .bind(at)
    .bind(id)
    .bind(n + 1)
    .fetch_all(&app.db.read)
    .await?;
    page(rows, n, |r| (r.created_at, r.id.clone()), ApprovalView::from)
}

fn page<R, V>(
    mut rows: Vec<R>,
    n: i64,
    key: impl Fn(&R) -> (i64, String),
    view: impl Fn(R) -> V,
) -> Result<(Vec<V>, Option<String>), GuardrailError> {
    let more = rows.len() as i64 > n;
    rows.truncate(n as usize);
    let next = if more { rows.last().map(&key).map(|(at, id)| encode_cursor(at, &id)) } else { None };
    Ok((rows.into_iter().map(view).collect(), next))
}

crate::row_struct! {
    pub struct AuditRow {
        pub id: String,
        pub agent_id: Option<String>,
        pub actor: String,
        pub event: String,
        pub decision: Option<String>,
        pub policy_id: Option<String>,
        pub module_digest: Option<String>,
        pub approval_id: Option<String>,
        pub app: Option<String>,
        pub tool_ref: Option<String>,
        pub action_type: Option<String>,
        pub workspace_id: Option<String>,
        pub mission_id: Option<String>,
        pub input: String,
        pub reason: Option<String>,
        pub elapsed_us: Option<i64>,
        pub created_at: i64,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    pub agent_id: Option<String>,
    /// Who: `agent:<id>`, `key:<runtime key id>` or `operator:<key id>`.
    pub actor: String,
    /// `check`, `approved`, `rejected`, or what an app recorded: `executed`, `failed`,
    /// `blocked`.
    pub event: String,
    pub decision: Option<String>,
    pub policy_id: Option<String>,
    pub module_digest: Option<String>,
    pub approval_id: Option<String>,
    pub app: Option<String>,
    pub tool_ref: Option<String>,
    pub action_type: Option<String>,
    pub workspace_id: Option<String>,
    pub mission_id: Option<String>,
    #[schema(value_type = Object)]
    pub input: Value,
    pub reason: Option<String>,
    pub elapsed_us: Option<i64>,
    pub created_at: String,
}

impl From<AuditRow> for AuditView {
    fn from(r: AuditRow) -> Self {
        AuditView {
            input: serde_json::from_str(&r.input).unwrap_or_default(),
            created_at: rfc3339(r.created_at),
            id: r.id,
            agent_id: r.agent_id,
            actor: r.actor,
            event: r.event,
            decision: r.decision,
            policy_id: r.policy_id,
            module_digest: r.module_digest,
            approval_id: r.approval_id,
            app: r.app,
            tool_ref: r.tool_ref,
            action_type: r.action_type,
            workspace_id: r.workspace_id,
            mission_id: r.mission_id,
            reason: r.reason,
            elapsed_us: r.elapsed_us,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub event: Option<String>,
    pub decision: Option<String>,
    pub tool_ref: Option<String>,
    pub workspace_id: Option<String>,
    pub mission_id: Option<String>,
    /// Operators only: one account.
    pub agent_id: Option<String>,
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub before: Option<String>,
}

pub async fn audit(app: &App, who: &Who, q: &AuditQuery) -> Result<(Vec<AuditView>, Option<String>), GuardrailError> {
    let (agent_id, bound) = scope(who, q.agent_id.as_deref());
    let workspace = bound.or(q.workspace_id.clone()).unwrap_or_default();
    let (at, id) = cursor(q.before.as_deref())?;
    let n = limit(q.limit)?;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let rows = crate::db::query_as::<AuditRow>(
        "SELECT id, agent_id, actor, event, decision, policy_id, module_digest, approval_id, app, tool_ref, \
         action_type, workspace_id, mission_id, input, reason, elapsed_us, created_at FROM guardrail_audit \
         WHERE ($1 = '' OR agent_id = $1) AND ($2 = '' OR workspace_id = $2) AND ($3 = '' OR mission_id = $3) \
         AND ($4 = '' OR event = $4) AND ($5 = '' OR decision = $5) AND ($6 = '' OR tool_ref = $6) \
         AND (created_at < $7 OR (created_at = $7 AND id < $8)) ORDER BY created_at DESC, id DESC LIMIT $9",
    )
    .bind(agent_id)
    .bind(workspace)
    .bind(text(&q.mission_id))
    .bind(text(&q.event))
    .bind(text(&q.decision))
    .bind(text(&q.tool_ref))
    .bind(at)
    .bind(id)
    .bind(n + 1)
    .fetch_all(&app.db.read)
    .await?;
    page(rows, n, |r| (r.created_at, r.id.clone()), AuditView::from)
}

/// What an app says happened to an action (`POST /v1/actions/audit`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedEvent {
    /// `executed`, `failed`, `blocked`, `approved` or `rejected`.
    pub event: String,
    pub app: String,
    pub tool_ref: String,
    pub action_type: Option<String>,
    pub workspace_id: Option<String>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    pub approval_id: Option<String>,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Option<Value>,
}

pub async fn record(app: &App, who: &Who, e: RecordedEvent) -> Result<String, GuardrailError> {
    let Who::Account { agent_id, workspace, .. } = who else {
        return Err(GuardrailError::Forbidden(
            "events are recorded for an account: use its agent key or a runtime key",
        ));
    };
    if !matches!(e.event.as_str(), "executed" | "failed" | "blocked" | "approved" | "rejected") {
        return Err(GuardrailError::Invalid("event must be executed, failed, blocked, approved or rejected".into()));
    }
    if e.app.trim().is_empty() || e.tool_ref.trim().is_empty() {
        return Err(GuardrailError::Invalid("app and tool_ref are required".into()));
    }
    let input = serde_json::to_string(&serde_json::json!({
        "event": e.event, "app": e.app, "tool_ref": e.tool_ref, "action_type": e.action_type,
        "task_id": e.task_id, "metadata": e.metadata, "reason": e.reason,
    }))
    .expect("JSON serialises");
    if input.len() > 32_768 {
        return Err(GuardrailError::Invalid("the event must be at most 32 KiB".into()));
    }
    let id = new_id();
    let actor = who.actor();
    let workspace_id = workspace.clone().or(e.workspace_id.clone());
    let event = AuditEvent {
        id: &id,
        agent_id: Some(agent_id),
        actor: &actor,
        event: &e.event,
        approval_id: e.approval_id.as_deref(),
        app: Some(&e.app),
        tool_ref: Some(&e.tool_ref),
        action_type: e.action_type.as_deref(),
        workspace_id: workspace_id.as_deref(),
        mission_id: e.mission_id.as_deref(),
        input: &input,
        reason: e.reason.as_deref(),
        ..AuditEvent::default()
    };
    let ev = &event;
    transaction!(app.db, |c| async move {
        store::append_audit(c, ev);
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(id)
}
