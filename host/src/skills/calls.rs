//! `skills.call` from a component: the calling agent must hold an active licence of the skill
//! (its author needs none); a `PER_CALL` licence pays the price it was bought at on every
//! call. The call is a paid run of its own: the caller's wallet holds the price plus up to
//! `skill_call_compute_cents` of metered compute, the skill's component runs in a fresh
//! sandbox with its own grants, the author is paid the price less the fee on success, the
//! compute is billed, and the rest goes back. A call the caller may not make costs nothing.

use std::sync::Arc;

use agora_runtime::CallError;

use super::model::LicenseStatus;
use super::store;
use crate::agents::store as agents;
use crate::db::now_ms;
use crate::executions::nested::{self, Nesting};
use crate::executions::run::{ensure_prepared, invocation, RunOutcome, Runner};
use crate::executions::service::{self as executions, Charge, Plan};
use crate::executions::ExecutionError;
use crate::gateway::inside::RunModelBudget;
use crate::guardrails::enforce::{clear, HostAction};
use crate::state::App;
use crate::transaction;
use crate::wallet::ledger::Payee;

pub async fn call(
    app: &App,
    caller: &str,
    skill_id: &str,
    input: String,
    nesting: Nesting,
) -> Result<String, CallError> {
    let failed = |e: sqlx::Error| {
        tracing::error!(error = %e, "skill call failed");
        CallError::Unavailable("the host could not look the skill up".into())
    };
    let skill = store::get(&app.db, skill_id).await.map_err(failed)?;
    let skill = skill.ok_or_else(|| CallError::Invalid(format!("there is no skill {skill_id}")))?;
    let Some(component_id) = &skill.component_id else {
        return Err(CallError::Invalid(format!(
            "skill {skill_id} is downloaded, not run on Agora: it cannot be called"
        )));
    };
    let price = match skill.author_id == caller {
        true => 0,
        false => {
            let license = store::live_license(&app.db, skill_id, caller).await.map_err(failed)?;
            match license.filter(|l| l.standing(now_ms()) == LicenseStatus::Active) {
                Some(l) if l.model() == super::model::PricingModel::PerCall => l.price_cents,
                Some(_) => 0,
                None => {
                    return Err(CallError::Denied(format!(
                        "no active licence for skill {skill_id}: buy one with POST /api/skills/{skill_id}/purchase"
                    )))
                }
            }
        }
    };
    let component = app.components.get(&app.db, component_id).await.map_err(failed)?;
    let component = component.ok_or_else(|| CallError::Unavailable(format!("skill {skill_id}'s component is gone")))?;
    let author = agents::get(&app.db, &skill.author_id).await.map_err(failed)?;
    let author = author.ok_or_else(|| CallError::Unavailable(format!("skill {skill_id}'s author is gone")))?;
    let compute = i64::from(app.config.skills.skill_call_compute_cents);
    let action = HostAction {
        tool_ref: "agora.skill",
        action_type: "spend",
        access_level: None,
        operation: Some(skill_id.to_string()),
        amount_cents: Some(price + compute),
        approval_id: None,
        metadata: None,
    };
    let cleared = clear(app, caller, action).await.map_err(|e| nested::hire_error(e.into()))?;
    let runner = Runner::Component(component.clone());
    let plan = Plan {
        agent: &author,
        runner: &runner,
        buyer_id: caller,
        payer_id: caller,
        hold_cents: price + compute,
        hold_description: "Skill call",
        compute_cents: compute,
        task_id: None,
        input: &input,
        params: None,
        nesting,
        cleared: Some(&cleared),
    };
    let started = executions::begin(app, &plan).await.map_err(nested::hire_error)?;
    let models = Arc::new(RunModelBudget::new(caller, &started.execution_id, compute));
    let mut outcome = match ensure_prepared(app, &component).await {
        Ok(()) => {
            let inv = invocation(app, &component, author.id.clone(), started.fuel());
            let inv = nested::attach(app, inv, &started.execution_id, &author.id, &plan.nesting, &models);
            RunOutcome::from_run(app.runtime.skill_invoke(&component.digest, input.clone(), inv).await)
        }
        Err(e) => {
            tracing::error!(component = %component.id, error = %e, "skill component not runnable");
            RunOutcome::failed("unavailable", "the skill's component cannot be loaded".into())
        }
    };
    outcome.model_micros = models.spent_micros();
    let billed = outcome.compute_cents(app, compute);
    let settled = transaction!(app.db, |c| async {
        let payee = Payee::new(&author.id, author.referred_by.as_deref());
        let charge = Charge { payee, price, compute: billed, paid_elsewhere: None };
        executions::settle_in(c, app, &started, &outcome, charge).await?;
        Ok::<_, ExecutionError>(())
    });
    settled.map_err(nested::hire_error)?;
    outcome.result.map_err(|e| match e.code {
        "guest_error" if e.message.starts_with("invalid-input") => CallError::Invalid(e.message),
        "busy" | "unavailable" | "not_prepared" => CallError::Unavailable(e.message),
        _ => CallError::Failed(format!("{} ({}); nothing was charged but its compute", e.message, e.code)),
    })
}
