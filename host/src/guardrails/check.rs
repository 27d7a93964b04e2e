//! A check in two steps: the action is decided by the policies (`decide`: no writes, module
//! policies run), then the decision is recorded (`record_in`: the audit event, and an approval
//! when one is needed or used) in one transaction. `check` records in a transaction of its own;
//! a host action the policies allow outright records in the action's first transaction instead
//! (`enforce::Cleared`), so that enforcing adds no commit to it.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use utoipa::ToSchema;

use super::evaluate::evaluate;
use super::model::{Action, Effect, Outcome, Policy, Risk};
use super::modules;
use super::service::Who;
use super::store::{self, AuditEvent, NewApproval};
use super::GuardrailError;
use crate::db::{new_id, now_ms, Conn};
use crate::state::App;
use crate::transaction;

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckAnswer {
    /// `allow`, `deny` or `require_approval`.
    pub decision: String,
    pub policy_id: Option<String>,
    pub reason: String,
    pub approval_id: Option<String>,
    pub audit_id: String,
}

/// An action decided by the policies, not yet recorded.
pub struct Decided {
    agent_id: String,
    actor: String,
    action: Action,
    outcome: Outcome,
    module_digest: Option<String>,
    fingerprint: String,
    input: String,
    audit_id: String,
    /// The in-host decision time: policies read or taken from the cache, evaluated, modules run.
    elapsed_us: i64,
    /// Without an approval id, the newest approval of the same action stands for it.
    standing: bool,
    approval_ttl_ms: i64,
}

/// What a recorded decision came to: an approved approval turns `require_approval` into a
/// single `allow`.
pub struct Recorded {
    pub decision: Effect,
    pub reason: String,
    pub approval_id: Option<String>,
}

impl Decided {
    pub fn reason(&self) -> &str {
        &self.outcome.reason
    }

    /// Allowed by the policies themselves, with no approval to use or ask for.
    pub fn allowed_outright(&self) -> bool {
        self.outcome.effect == Effect::Allow
    }

    pub fn answer(&self, recorded: Recorded) -> CheckAnswer {
        CheckAnswer {
            decision: recorded.decision.as_str().into(),
            policy_id: self.outcome.policy_id.clone(),
            reason: recorded.reason,
            approval_id: recorded.approval_id,
            audit_id: self.audit_id.clone(),
        }
    }

    /// The check's audit event.
    pub fn audit_in(&self, c: &mut Conn, decision: Effect, reason: &str, approval_id: Option<&str>) {
        let a = &self.action;
        let event = AuditEvent {
            id: &self.audit_id,
            agent_id: Some(&self.agent_id),
            actor: &self.actor,
            event: "check",
            decision: Some(decision.as_str()),
            policy_id: self.outcome.policy_id.as_deref(),
            module_digest: self.module_digest.as_deref(),
            approval_id,
            app: Some(&a.app),
            tool_ref: Some(&a.tool_ref),
            action_type: Some(&a.action_type),
            workspace_id: a.workspace_id.as_deref(),
            mission_id: a.mission_id.as_deref(),
            input: &self.input,
            reason: Some(reason),
            elapsed_us: Some(self.elapsed_us),
        };
        store::append_audit(c, &event);
    }
}

fn check_action(a: &Action) -> Result<(), GuardrailError> {
    let short = |field: &str, v: &str, required: bool| {
        if (required && v.trim().is_empty()) || v.chars().count() > 200 {
            Err(GuardrailError::Invalid(format!(
                "{field} must be {}at most 200 characters",
                if required { "1 to " } else { "" }
            )))
        } else {
            Ok(())
        }
    };
    short("app", &a.app, true)?;
    short("tool_ref", &a.tool_ref, true)?;
    short("action_type", &a.action_type, true)?;
    for (field, v) in [
        ("operation", &a.operation),
        ("access_level", &a.access_level),
        ("mission_id", &a.mission_id),
        ("task_id", &a.task_id),
        ("actor_ref", &a.actor_ref),
        ("workspace_id", &a.workspace_id),
        ("external_source", &a.external_source),
        ("external_id", &a.external_id),
    ] {
        short(field, v.as_deref().unwrap_or(""), false)?;
    }
    if let Some(r) = &a.risk_level {
        r.parse::<Risk>()
            .map_err(|_| GuardrailError::Invalid("risk_level must be low, medium, high or critical".into()))?;
    }
    if a.requested_amount_usd.is_some_and(|v| !v.is_finite() || v < 0.0) {
        return Err(GuardrailError::Invalid("requested_amount_usd must be a number of 0 or more".into()));
    }
    if a.metadata.as_ref().is_some_and(|m| !m.is_object() || m.to_string().len() > 16_384) {
        return Err(GuardrailError::Invalid("metadata must be a JSON object of at most 16 KiB".into()));
    }
    Ok(())
}

/// Decides an action of the account `agent_id` and records the decision. An approved approval
/// of the same action lets it through once.
pub async fn check(app: &App, who: &Who, action: Action) -> Result<CheckAnswer, GuardrailError> {
    let decided = decide(app, who, action, false).await?;
    record(app, &decided).await
}

/// Records a decision in a transaction of its own.
pub async fn record(app: &App, decided: &Decided) -> Result<CheckAnswer, GuardrailError> {
    let recorded = transaction!(app.db, |c| record_in(c, decided))?;
    Ok(decided.answer(recorded))
}

/// Decides an action; writes nothing. With `standing`, an action that carries no approval id
/// stands on the newest approval of the same action (the host's own actions, which a component
/// cannot give an id).
pub async fn decide(app: &App, who: &Who, mut action: Action, standing: bool) -> Result<Decided, GuardrailError> {
    let started = Instant::now();
    let Who::Account { agent_id, workspace, .. } = who else {
        return Err(GuardrailError::Forbidden("checks are made for an account: use its agent key or a runtime key"));
    };
    check_action(&action)?;
    if workspace.is_some() {
        // A runtime key bound to a workspace always acts in it.
        action.workspace_id = workspace.clone();
    }
    let default: Effect = app.config.guardrails.guardrails_default_decision.parse().unwrap_or(Effect::Allow);
    let cached = app.policies.for_account(&app.db, agent_id).await?;
    let deciding_module = |p: &Policy| p.module.is_some() && p.applies(agent_id, &action);
    let mut decided = Vec::new();
    let mut digests = HashMap::new();
    if cached.iter().any(deciding_module) {
        // Module policies take the effect their module decides for this action.
        decided = (*cached).clone();
        for p in decided.iter_mut().filter(|p| deciding_module(p)) {
            let verdict = modules::decide(app, p.module.as_ref().expect("filtered"), agent_id, &action).await;
            p.effect = verdict.effect;
            p.description = verdict.reason;
            if let Some(digest) = verdict.digest {
                digests.insert(p.id.clone(), digest);
            }
        }
    }
    let policies: &[Policy] = if decided.is_empty() { &cached } else { &decided };
    let outcome = evaluate(policies, agent_id, &action, default);
    let elapsed_us = started.elapsed().as_micros() as i64;
    Ok(Decided {
        module_digest: outcome.policy_id.as_ref().and_then(|id| digests.get(id)).cloned(),
        fingerprint: action.fingerprint(agent_id),
        input: serde_json::to_string(&action).expect("an action serialises"),
        agent_id: agent_id.clone(),
        actor: who.actor(),
        audit_id: new_id(),
        approval_ttl_ms: app.config.guardrails.guardrails_approval_ttl_ms as i64,
        action,
        outcome,
        elapsed_us,
        standing,
    })
}

/// Writes the decision: uses the approval that lets it through, or makes the one it waits for,
/// and the audit event.
pub async fn record_in(c: &mut Conn, d: &Decided) -> Result<Recorded, GuardrailError> {
    let (a, agent_id, f) = (&d.action, d.agent_id.as_str(), d.fingerprint.as_str());
    let mut decision = d.outcome.effect;
    let mut reason = d.outcome.reason.clone();
    let mut approval_id = None;
    if decision == Effect::RequireApproval {
        let granted = match &a.approval_id {
            None if d.standing => store::standing_approval(&mut *c, agent_id, f).await?,
            carried => carried.clone(),
        };
        if let Some(granted) = &granted {
            let same =
                store::approval_in(&mut *c, granted).await?.filter(|r| r.agent_id == agent_id && r.fingerprint == f);
            let approved = same.as_ref().is_some_and(|r| r.status == "approved");
            let waiting = same.as_ref().is_some_and(|r| r.status == "pending" && r.expires_at > now_ms());
            if approved && store::move_approval(&mut *c, granted, "approved", "used", None, None).await? {
                let by = same.and_then(|r| r.decided_by).unwrap_or_default();
                decision = Effect::Allow;
                reason = format!("approved ({by}); used once");
                approval_id = Some(granted.clone());
            } else if waiting {
                approval_id = Some(granted.clone());
            }
        }
        if approval_id.is_none() {
            let id = new_id();
            let new = NewApproval {
                id: &id,
                agent_id,
                workspace_id: a.workspace_id.as_deref(),
                mission_id: a.mission_id.as_deref(),
                task_id: a.task_id.as_deref(),
                policy_id: d.outcome.policy_id.as_deref(),
                fingerprint: f,
                action: &d.input,
                reason: &d.outcome.reason,
                expires_at: now_ms() + d.approval_ttl_ms,
            };
            store::insert_approval(&mut *c, &new).await?;
            approval_id = Some(id);
        }
    }
    d.audit_in(c, decision, &reason, approval_id.as_deref());
    Ok(Recorded { decision, reason, approval_id })
}
