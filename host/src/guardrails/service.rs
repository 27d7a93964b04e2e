//! The guardrails' operations: a check (evaluate, audit, and an approval when one is needed, in
//! one transaction), policies (upserted by name per owner), and approval decisions.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::evaluate::evaluate;
use super::model::{Action, Effect, Match, Module, Policy, Risk};
use super::modules;
use super::store::{self, AuditEvent, NewApproval};
use super::GuardrailError;
use crate::db::{new_id, now_ms};
use crate::state::App;
use crate::transaction;

/// Who is asking: an account (through its agent key or a runtime key) or an operator.
#[derive(Debug, Clone)]
pub enum Who {
    Account { agent_id: String, key_id: Option<String>, workspace: Option<String> },
    Operator { key_id: String },
}

impl Who {
    /// How the audit log names it.
    pub fn actor(&self) -> String {
        match self {
            Who::Account { agent_id, key_id: None, .. } => format!("agent:{agent_id}"),
            Who::Account { key_id: Some(k), .. } => format!("key:{k}"),
            Who::Operator { key_id } => format!("operator:{key_id}"),
        }
    }

    pub fn agent_id(&self) -> Option<&str> {
        match self {
            Who::Account { agent_id, .. } => Some(agent_id),
            Who::Operator { .. } => None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckAnswer {
    /// `allow`, `deny` or `require_approval`.
    pub decision: String,
    pub policy_id: Option<String>,
    pub reason: String,
    pub approval_id: Option<String>,
    pub audit_id: String,
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
    check_standing(app, who, action, false).await
}

/// `check`; when `standing` and the action carries no approval id, the newest approval of the
/// same action stands for it (the host's own actions, which a component cannot give an id).
pub async fn check_standing(
    app: &App,
    who: &Who,
    mut action: Action,
    standing: bool,
) -> Result<CheckAnswer, GuardrailError> {
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
    let module_digest = outcome.policy_id.as_ref().and_then(|id| digests.get(id)).cloned();
    let fingerprint = action.fingerprint(agent_id);
    let input = serde_json::to_value(&action).expect("an action serialises");
    let ttl = app.config.guardrails.guardrails_approval_ttl_ms as i64;
    let (audit_id, actor) = (new_id(), who.actor());
    let (a, o, f, i, aid, actor) = (&action, &outcome, &fingerprint, &input, &audit_id, &actor);
    let digest = module_digest.as_deref();
    let (decision, reason, approval_id) = transaction!(app.db, |c| async move {
        let mut decision = o.effect;
        let mut reason = o.reason.clone();
        let mut approval_id = None;
        if decision == Effect::RequireApproval {
            let granted = match &a.approval_id {
                None if standing => store::standing_approval(&mut *c, agent_id, f).await?,
                carried => carried.clone(),
            };
            if let Some(granted) = &granted {
                let same = store::approval_in(&mut *c, granted)
                    .await?
                    .filter(|r| r.agent_id == *agent_id && r.fingerprint == *f);
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
                    policy_id: o.policy_id.as_deref(),
                    fingerprint: f,
                    action: i,
                    reason: &o.reason,
                    expires_at: now_ms() + ttl,
                };
                store::insert_approval(&mut *c, &new).await?;
                approval_id = Some(id);
            }
        }
        let event = AuditEvent {
            id: aid,
            agent_id: Some(agent_id),
            actor,
            event: "check",
            decision: Some(decision.as_str()),
            policy_id: o.policy_id.as_deref(),
            module_digest: digest,
            approval_id: approval_id.as_deref(),
            app: Some(&a.app),
            tool_ref: Some(&a.tool_ref),
            action_type: Some(&a.action_type),
            workspace_id: a.workspace_id.as_deref(),
            mission_id: a.mission_id.as_deref(),
            input: i.to_string(),
            reason: Some(&reason),
            elapsed_us: Some(started.elapsed().as_micros() as i64),
        };
        store::insert_audit(c, &event).await?;
        Ok::<_, GuardrailError>((decision, reason, approval_id))
    })?;
    Ok(CheckAnswer { decision: decision.as_str().into(), policy_id: outcome.policy_id, reason, approval_id, audit_id })
}

/// A policy as the API takes it.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    pub name: String,
    /// `allow`, `require_approval` or `deny`; for a module policy none (or `module`).
    pub effect: Option<String>,
    /// A `policy` component (your own; an operator's may be anyone's) that decides the effect.
    pub component_id: Option<String>,
    /// Handed to the component with every action (`detail.settings`); a JSON object.
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
    /// A module that fails decides `allow` instead of `deny`.
    pub fail_open: Option<bool>,
    #[serde(default, rename = "match")]
    pub rules: Match,
    #[serde(default)]
    pub priority: i64,
    pub enabled: Option<bool>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: String,
    pub name: String,
    /// `operator` (every account's actions) or `account` (its own).
    pub scope: &'static str,
    pub agent_id: Option<String>,
    /// `allow`, `require_approval`, `deny`, or `module` (the component decides).
    pub effect: String,
    pub component_id: Option<String>,
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
    pub fail_open: bool,
    #[serde(rename = "match")]
    pub rules: Match,
    pub priority: i64,
    pub enabled: bool,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Policy> for PolicyView {
    fn from(p: Policy) -> Self {
        PolicyView {
            scope: if p.agent_id.is_none() { "operator" } else { "account" },
            effect: if p.module.is_some() { "module".into() } else { p.effect.as_str().into() },
            component_id: p.module.as_ref().map(|m| m.component_id.clone()),
            settings: p.module.as_ref().map(|m| m.settings.clone()),
            fail_open: p.module.as_ref().is_some_and(|m| m.fail_open),
            created_at: crate::db::rfc3339(p.created_at),
            updated_at: crate::db::rfc3339(p.updated_at),
            id: p.id,
            name: p.name,
            agent_id: p.agent_id,
            rules: p.rules,
            priority: p.priority,
            enabled: p.enabled,
            description: p.description,
        }
    }
}

/// Creates the owner's policy of that name, or changes it.
pub async fn upsert_policy(app: &App, who: &Who, new: NewPolicy) -> Result<(PolicyView, bool), GuardrailError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(GuardrailError::Invalid("name must be 1 to 100 characters".into()));
    }
    let module = match &new.component_id {
        Some(id) => Some(module_of(app, who, id, new.settings.clone(), new.fail_open.unwrap_or(false)).await?),
        None if new.settings.is_some() || new.fail_open.is_some() => {
            return Err(GuardrailError::Invalid("settings and fail_open are for module policies (component_id)".into()))
        }
        None => None,
    };
    let bad_effect = || GuardrailError::Invalid("effect must be allow, require_approval or deny".into());
    let effect = match (new.effect.as_deref(), &module) {
        (None | Some("module"), Some(_)) => Effect::Deny,
        (Some(e), None) => e.parse().map_err(|_| bad_effect())?,
        (None, None) => return Err(GuardrailError::Invalid("effect is required (or a component_id)".into())),
        (Some(_), Some(_)) => {
            return Err(GuardrailError::Invalid("a module policy's effect is its component's".into()))
        }
    };
    let mut rules = new.rules;
    let fields = [
        &rules.app,
        &rules.workspace_id,
        &rules.agent_id,
        &rules.tool_ref,
        &rules.action_type,
        &rules.operation,
        &rules.access_level,
    ];
    if fields.iter().any(|f| f.as_deref().is_some_and(|v| v.is_empty() || v.chars().count() > 200)) {
        return Err(GuardrailError::Invalid("match fields must be 1 to 200 characters".into()));
    }
    if let Some(r) = &rules.risk_level {
        r.parse::<Risk>()
            .map_err(|_| GuardrailError::Invalid("match.risk_level must be low, medium, high or critical".into()))?;
    }
    if rules.min_amount_usd.is_some_and(|v| !v.is_finite() || v < 0.0) {
        return Err(GuardrailError::Invalid("match.min_amount_usd must be a number of 0 or more".into()));
    }
    if !(-1_000_000..=1_000_000).contains(&new.priority) {
        return Err(GuardrailError::Invalid("priority must be -1000000 to 1000000".into()));
    }
    let description = new.description.unwrap_or_default();
    if description.chars().count() > 1_000 {
        return Err(GuardrailError::Invalid("description must be at most 1000 characters".into()));
    }
    let (agent_id, owner) = match who {
        Who::Account { key_id: Some(_), .. } => {
            return Err(GuardrailError::Forbidden("policies are managed with the account's agent key"))
        }
        Who::Account { agent_id, .. } => {
            if rules.agent_id.as_deref().is_some_and(|a| a != agent_id) {
                return Err(GuardrailError::Invalid("an account's policies apply to its own actions only".into()));
            }
            rules.agent_id = None;
            (Some(agent_id.clone()), agent_id.clone())
        }
        Who::Operator { .. } => (None, "operator".to_string()),
    };
    let policy = Policy {
        id: new_id(),
        agent_id,
        name: name.to_string(),
        effect,
        module,
        rules,
        priority: new.priority,
        enabled: new.enabled.unwrap_or(true),
        description,
        created_at: now_ms(),
        updated_at: now_ms(),
    };
    let p = &policy;
    let o = &owner;
    let (id, created) = transaction!(app.db, |c| async move { store::upsert_policy(c, p, o).await })?;
    app.policies.forget();
    let stored = store::policy(&app.db, &id).await?.ok_or(GuardrailError::NotFound("policy"))?;
    Ok((stored.into(), created))
}

/// The module a policy names: a `policy` component the caller may use (an account its own, an
/// operator any), with settings that are a JSON object.
async fn module_of(
    app: &App,
    who: &Who,
    component_id: &str,
    settings: Option<Value>,
    fail_open: bool,
) -> Result<Module, GuardrailError> {
    let component = app.components.get(&app.db, component_id).await?.ok_or(GuardrailError::NotFound("component"))?;
    if who.agent_id().is_some_and(|me| me != component.publisher_id) {
        return Err(GuardrailError::NotFound("component"));
    }
    if component.kind != "policy" {
        return Err(GuardrailError::Invalid(format!("component {component_id} is a {}, not a policy", component.kind)));
    }
    let settings = settings.unwrap_or_else(|| json!({}));
    if !settings.is_object() || settings.to_string().len() > 16_384 {
        return Err(GuardrailError::Invalid("settings must be a JSON object of at most 16 KiB".into()));
    }
    modules::check_settings(app, &component, &settings).await?;
    Ok(Module { component_id: component_id.to_string(), settings, fail_open })
}

/// The policies that apply to the account (the operator's and its own); an operator's view is
/// every policy, or the operator's and one account's.
pub async fn list_policies(app: &App, who: &Who, agent: Option<&str>) -> Result<Vec<PolicyView>, GuardrailError> {
    let agent_id = match who {
        Who::Account { agent_id, .. } => agent_id.as_str(),
        Who::Operator { .. } => agent.unwrap_or(""),
    };
    Ok(store::policies(&app.db, agent_id).await?.into_iter().map(PolicyView::from).collect())
}

/// Deletes a policy: an account's own, or any by an operator.
pub async fn delete_policy(app: &App, who: &Who, id: &str) -> Result<(), GuardrailError> {
    let policy = store::policy(&app.db, id).await?.ok_or(GuardrailError::NotFound("policy"))?;
    let mine = match who {
        Who::Account { key_id: Some(_), .. } => {
            return Err(GuardrailError::Forbidden("policies are managed with the account's agent key"))
        }
        Who::Account { agent_id, .. } => policy.agent_id.as_deref() == Some(agent_id),
        Who::Operator { .. } => true,
    };
    if !mine || !store::delete_policy(&app.db, id).await? {
        return Err(GuardrailError::NotFound("policy"));
    }
    app.policies.forget();
    Ok(())
}

/// An approval's decision: by the account's owner (its agent key) or an operator, once, before
/// it expires.
pub async fn decide(
    app: &App,
    who: &Who,
    id: &str,
    approve: bool,
    note: Option<String>,
) -> Result<Value, GuardrailError> {
    if let Who::Account { key_id: Some(_), .. } = who {
        return Err(GuardrailError::Forbidden("approvals are decided with the account's agent key or by an operator"));
    }
    if note.as_deref().is_some_and(|n| n.chars().count() > 2_000) {
        return Err(GuardrailError::Invalid("note must be at most 2000 characters".into()));
    }
    let actor = who.actor();
    let (n, a) = (&note, &actor);
    transaction!(app.db, |c| async move {
        let row = store::approval_in(&mut *c, id).await?.ok_or(GuardrailError::NotFound("approval"))?;
        if who.agent_id().is_some_and(|me| me != row.agent_id) {
            return Err(GuardrailError::NotFound("approval"));
        }
        if row.status == "pending" && row.expires_at <= now_ms() {
            return Err(GuardrailError::Expired);
        }
        let to = if approve { "approved" } else { "rejected" };
        if !store::move_approval(&mut *c, id, "pending", to, Some(a), n.as_deref()).await? {
            return Err(GuardrailError::AlreadyDecided(row.status));
        }
        let action: Value = serde_json::from_str(&row.action).unwrap_or_default();
        let event_id = new_id();
        let event = AuditEvent {
            id: &event_id,
            agent_id: Some(&row.agent_id),
            actor: a,
            event: to,
            decision: Some(if approve { "allow" } else { "deny" }),
            policy_id: row.policy_id.as_deref(),
            module_digest: None,
            approval_id: Some(id),
            app: action["app"].as_str(),
            tool_ref: action["tool_ref"].as_str(),
            action_type: action["action_type"].as_str(),
            workspace_id: row.workspace_id.as_deref(),
            mission_id: row.mission_id.as_deref(),
            input: json!({"decision": to, "note": n}).to_string(),
            reason: n.as_deref(),
            elapsed_us: None,
        };
        store::insert_audit(c, &event).await?;
        Ok(json!({"id": id, "status": to, "decided_by": a, "note": n}))
    })
}
