//! Policies decided by a `policy` component (as Kubewarden's are by Wasm modules): the component
//! gets the action as a `proposed-action` (`kind` the action type, `actor` the agent, the amount
//! in cents, `target` the operation, `detail` a JSON object with the rest of the action, the
//! policy's `settings` and the host's time `now_ms`) and answers allow, deny or require-approval with a reason. It runs in a
//! fresh instance per decision with nothing but `log`, bounded by `guardrails_module_fuel`,
//! `guardrails_module_timeout_ms` and `guardrails_module_memory_bytes`. A module that fails
//! (traps, runs out, is gone) decides `deny`, or `allow` when its policy fails open; either way
//! the failure is the decision's reason.

use std::time::Duration;

use agora_runtime::{Grants, Invocation, PolicyDecision, ProposedAction};
use serde_json::json;

use super::model::{Action, Effect, Module};
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
    let g = &app.config.guardrails;
    let mut bounds = limits(app, g.guardrails_module_fuel);
    bounds.timeout = Duration::from_millis(g.guardrails_module_timeout_ms);
    bounds.memory_bytes = g.guardrails_module_memory_bytes as usize;
    let invocation = Invocation {
        namespace: format!("policy:{}", component.id),
        grants: Grants::default(),
        limits: bounds,
        kv: app.kv.clone(),
        nested: None,
    };
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
    let run = app.runtime.run_policy(&component.digest, proposed, invocation).await;
    match run.result {
        Ok(PolicyDecision::Allow(reason)) => Verdict { effect: Effect::Allow, reason, digest },
        Ok(PolicyDecision::Deny(reason)) => Verdict { effect: Effect::Deny, reason, digest },
        Ok(PolicyDecision::RequireApproval(reason)) => Verdict { effect: Effect::RequireApproval, reason, digest },
        Err(e) => failed(m, format!("{}: {e}", e.code()), digest),
    }
}
