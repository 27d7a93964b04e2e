//! Policies decided by a `policy` component (as Kubewarden's are by Wasm modules): the component
//! gets the action as a `proposed-action` (`kind` the action type, `actor` the agent, the amount
//! in cents, `target` the operation, `detail` a JSON object with the rest of the action, the
//! policy's `settings` and the host's time `now_ms`) and answers allow, deny or require-approval with a reason. It runs in a
//! fresh instance per decision with nothing but `log`, bounded by `guardrails_module_fuel`,
//! `guardrails_module_timeout_ms` and `guardrails_module_memory_bytes`. A module that fails
//! (traps, runs out, is gone) decides `deny`, or `allow` when its policy fails open; either way
//! the failure is the decision's reason.
//!
//! A component that exports the optional `settings` interface (the SDK's policies do) checks the
//! settings of a policy that uses it when the policy is created or changed, within the same
//! limits: settings it refuses, or a check that fails, refuse the policy (`invalid_settings`).

use std::time::Duration;

use agora_runtime::{Grants, Invocation, PolicyDecision, ProposedAction};
use serde_json::{json, Value};

use super::model::{Action, Effect, Module};
use super::GuardrailError;
use crate::components::model::ComponentRow;
use crate::executions::run::{ensure_prepared, limits};
use crate::state::App;

/// What a module decided, and which build of it did.
pub struct Verdict {
    pub effect: Effect,
    pub reason: String,
    pub digest: Option<String>,
}

fn failed(m: &Module, why: String, digest: Option<String>) -> Verdict {
    let (effect, how) = if m.fail_open { (Effect::Allow, "fails open") } else { (Effect::Deny, "fails closed") };
    Verdict { effect, reason: format!("the policy module failed ({why}); the policy {how}"), digest }
}

pub async fn decide(app: &App, m: &Module, agent_id: &str, action: &Action) -> Verdict {
    let component = match app.components.get(&app.db, &m.component_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return failed(m, "its component is gone".into(), None),
        Err(e) => return failed(m, format!("reading its component: {e}"), None),
    };
    // As the API shows a component's digest.
    let digest = Some(format!("sha256:{}", component.digest));
    if let Err(e) = ensure_prepared(app, &component).await {
        return failed(m, format!("it cannot be loaded: {e}"), digest);
    }
    let detail = json!({
        "app": action.app, "tool_ref": action.tool_ref, "access_level": action.access_level,
        "risk_level": action.risk_level, "workspace_id": action.workspace_id, "mission_id": action.mission_id,
        "task_id": action.task_id, "metadata": action.metadata, "settings": m.settings,
        // The host's clock, so that a policy that decides by time stays a function of its input.
        "now_ms": crate::db::now_ms(),
    });
    let proposed = ProposedAction {
        kind: action.action_type.clone(),
        actor: agent_id.to_string(),
        amount_cents: action.requested_amount_usd.map(|usd| (usd * 100.0).round().max(0.0) as u64),
        target: action.operation.clone(),
        detail: detail.to_string(),
    };
    let run = app.runtime.run_policy(&component.digest, proposed, sandbox(app, &component)).await;
    match run.result {
        Ok(PolicyDecision::Allow(reason)) => Verdict { effect: Effect::Allow, reason, digest },
        Ok(PolicyDecision::Deny(reason)) => Verdict { effect: Effect::Deny, reason, digest },
        Ok(PolicyDecision::RequireApproval(reason)) => Verdict { effect: Effect::RequireApproval, reason, digest },
        Err(e) => failed(m, format!("{}: {e}", e.code()), digest),
    }
}

/// A policy component's run: nothing granted, the guardrails' tight limits.
fn sandbox(app: &App, component: &ComponentRow) -> Invocation {
    let g = &app.config.guardrails;
    let mut bounds = limits(app, g.guardrails_module_fuel);
    bounds.timeout = Duration::from_millis(g.guardrails_module_timeout_ms);
    bounds.memory_bytes = g.guardrails_module_memory_bytes as usize;
    Invocation {
        namespace: format!("policy:{}", component.id),
        grants: Grants::default(),
        limits: bounds,
        kv: app.kv.clone(),
        nested: None,
    }
}

/// Settings the component accepts, or why not; settings of a component without a settings
/// check are accepted as they are.
pub async fn check_settings(app: &App, component: &ComponentRow, settings: &Value) -> Result<(), GuardrailError> {
    let refused = |why: String| GuardrailError::InvalidSettings(why);
    ensure_prepared(app, component)
        .await
        .map_err(|e| refused(format!("the policy component cannot be loaded: {e}")))?;
    let run = app.runtime.check_policy_settings(&component.digest, settings.to_string(), sandbox(app, component)).await;
    match run.result {
        Ok(None | Some(Ok(()))) => Ok(()),
        Ok(Some(Err(why))) => Err(refused(why)),
        Err(e) => Err(refused(format!("the policy component's settings check failed ({}: {e})", e.code()))),
    }
}
