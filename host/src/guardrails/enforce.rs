//! The host's own actions pass the policies before they happen, whether or not their agent
//! asked: each is checked as an action of `app: "agora"` by the acting agent, audited like any
//! check, and refused (`policy_denied`, or `approval_required` with the approval to wait for)
//! before any money moves. The same request sent again with the approved approval's id goes
//! through once.
//!
//! | tool_ref | action_type | access_level | amount | where |
//! |---|---|---|---|---|
//! | `agora.execute` | `spend` | | the budget | `/api/execute` |
//! | `agora.hire` | `spend` | | the budget | `marketplace.hire` from a component |
//! | `agora.skill` | `spend` | | the call's price and compute | `skills.call` from a component |
//! | `agora.task` | `spend` | | the budget | `POST /api/tasks` |
//! | `agora.withdraw` | `spend` | `destructive` | the amount | withdrawals |
//! | `agora.publish` | `code` | | | publishing a component |
//! | `agora.http` | `communication` | | | a component's `http.send`, and each redirect to another host |
//!
//! `operation` names what the action is about: the hired agent, the skill, the task's title,
//! the component's name; for `agora.http` the method and host (`GET api.example.com`), also
//! given apart as `metadata.method` and `metadata.host`.
//!
//! An action that carries no approval id (a component cannot give one; a client may send its
//! request again without it) stands on the newest approval of the same action: once approved it
//! goes through once, and while that approval waits it is refused with the same approval id
//! rather than a new one.

use super::check::{self, Decided};
use super::model::{Action, Effect};
use super::service::Who;
use super::GuardrailError;
use crate::db::Conn;
use crate::state::App;

/// One of the host's actions, as the policies see it.
pub struct HostAction {
    pub tool_ref: &'static str,
    pub action_type: &'static str,
    pub access_level: Option<&'static str>,
    pub operation: Option<String>,
    pub amount_cents: Option<i64>,
    /// An approval the request carries.
    pub approval_id: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// Passes when the policies allow the action, its check audited; otherwise the refusal, audited.
pub async fn enforce(app: &App, agent_id: &str, h: HostAction) -> Result<(), GuardrailError> {
    clear(app, agent_id, h).await?.record_alone(app).await
}

/// An action the policies allowed outright, whose audit event is still to be written: in the
/// action's first transaction (`record_in`), or on its own (`record_alone`) when the action
/// fails before that transaction commits. Either way every check is audited, and an allowed
/// action costs no transaction of its own.
#[must_use = "the check's audit event must be recorded"]
pub struct Cleared(Option<Decided>);

impl Cleared {
    pub fn record_in(&self, c: &mut Conn) {
        if let Some(d) = &self.0 {
            d.audit_in(c, Effect::Allow, d.reason(), None);
        }
    }

    pub async fn record_alone(&self, app: &App) -> Result<(), GuardrailError> {
        match &self.0 {
            Some(d) => check::record(app, d).await.map(drop),
            None => Ok(()),
        }
    }

    /// `record_alone` after the action failed: the action's own error is what its caller
    /// hears, so a failure to write the event is logged rather than returned.
    pub async fn record_after_failure(&self, app: &App) {
        if let Err(e) = self.record_alone(app).await {
            tracing::error!(error = %e, "the audit event of a failed action could not be written");
        }
    }
}

/// `enforce`, leaving an allowed action's audit event to the action (`Cleared`). A refusal,
/// or an action an approval lets through, is recorded here.
pub async fn clear(app: &App, agent_id: &str, h: HostAction) -> Result<Cleared, GuardrailError> {
    if !app.config.guardrails.guardrails_enforce {
        return Ok(Cleared(None));
    }
    let action = Action {
        app: "agora".into(),
        tool_ref: h.tool_ref.into(),
        action_type: h.action_type.into(),
        access_level: h.access_level.map(str::to_string),
        operation: h.operation.map(|o| o.chars().take(200).collect()),
        requested_amount_usd: h.amount_cents.map(|c| c as f64 / 100.0),
        approval_id: h.approval_id,
        metadata: h.metadata,
        ..Action::default()
    };
    let who = Who::Account { agent_id: agent_id.to_string(), key_id: None, workspace: None };
    let decided = check::decide(app, &who, action, true).await?;
    if decided.allowed_outright() {
        return Ok(Cleared(Some(decided)));
    }
    let answer = check::record(app, &decided).await?;
    match answer.decision.as_str() {
        "allow" => Ok(Cleared(None)),
        "deny" => Err(GuardrailError::Denied {
            reason: answer.reason,
            audit_id: answer.audit_id,
            policy_id: answer.policy_id,
        }),
        _ => Err(GuardrailError::ApprovalRequired {
            reason: answer.reason,
            audit_id: answer.audit_id,
            policy_id: answer.policy_id,
            approval_id: answer.approval_id.unwrap_or_default(),
        }),
    }
}
