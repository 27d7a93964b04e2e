//! The guardrails' operations on policies (upserted by name per owner) and approval decisions;
//! checks are in `check`.

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::model::{Effect, Match, Module, Policy, Risk};
use super::modules;
use super::store::{self, AuditEvent};
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
            input: &json!({"decision": to, "note": n}).to_string(),
            reason: n.as_deref(),
            elapsed_us: None,
        };
        store::append_audit(c, &event);
        Ok(json!({"id": id, "status": to, "decided_by": a, "note": n}))
    })
}
