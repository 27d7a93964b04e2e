//! Runs made from inside a component: `skills.call` and `marketplace.hire`, served through the
//! runtime's `NestedCalls` port. Each is a paid run of its own, in a fresh sandbox with its
//! own grants and limits, paid by the agent whose component made the call (its wallet; a
//! `PER_CALL` skill's price included), recorded with the calling execution as its parent.
//!
//! A nested run must end within what is left of its caller's wall-clock time; it may nest
//! further up to `nested_call_max_depth`, and a path that would run the same agent (hire) or
//! the same skill (call) twice is a cycle and refused. The work is spawned, so it settles its
//! money even when the caller stops waiting (its own deadline passed).
//!
//! The port also decides the component's outbound `http` calls by the host's policies
//! (`agora.http`, see `guardrails::enforce`) when guardrails are enforced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_runtime::{CallError, ChatCall, ChatReply, Guarded, Hired, Invocation, NestedCalls};
use futures::future::BoxFuture;

use super::model::ExecuteRequest;
use super::service::{self, Executed};
use super::ExecutionError;
use crate::gateway::inside::{self, InsideError, RunModelBudget};
use crate::gateway::model::cents_up;
use crate::guardrails::enforce::{enforce, HostAction};
use crate::idempotency::Answer;
use crate::state::App;
use crate::wallet::ledger::LedgerError;

/// Where a run sits among nested runs: what it was called from and what is above it.
#[derive(Debug, Clone, Default)]
pub struct Nesting {
    /// The execution whose component made this run.
    pub parent_id: Option<String>,
    /// The skill this run is a call of.
    pub skill_id: Option<String>,
    /// 0 for a run nobody's component made.
    pub depth: u32,
    /// The agents whose components run on the path down to this run, and the skills called on
    /// it: this run's included once it starts.
    pub hired: Vec<String>,
    pub skills: Vec<String>,
    /// When the caller's time runs out.
    pub deadline: Option<Instant>,
}

/// The context of one running component: who pays its calls and where they nest.
struct Port {
    app: Arc<App>,
    execution_id: String,
    /// The agent whose component runs: it pays for its skill calls and hires and holds their
    /// licences.
    agent_id: String,
    nesting: Nesting,
    /// What its model calls may spend: the run's budget.
    models: Arc<RunModelBudget>,
}

impl Nesting {
    /// The nesting of a run made from execution `parent_id`, which must end within
    /// `time_left`; refused past the depth cap.
    fn below(&self, app: &App, parent_id: &str, time_left: Duration) -> Result<Nesting, CallError> {
        let max = app.config.skills.nested_call_max_depth;
        if self.depth + 1 > max {
            return Err(CallError::Denied(format!("nested calls may go {max} deep; this one would go deeper")));
        }
        Ok(Nesting {
            parent_id: Some(parent_id.to_string()),
            skill_id: None,
            depth: self.depth + 1,
            hired: self.hired.clone(),
            skills: self.skills.clone(),
            deadline: Some(Instant::now() + time_left),
        })
    }

    /// How long a run at this nesting may take, at most `limit`.
    pub fn cap(&self, limit: Duration) -> Duration {
        match self.deadline {
            Some(at) => limit.min(at.saturating_duration_since(Instant::now())),
            None => limit,
        }
    }
}

/// Gives the run's component (of `agent_id`) the port, when it may call skills, hire or chat,
/// and caps its time by its caller's.
pub fn attach(
    app: &App,
    mut inv: Invocation,
    execution_id: &str,
    agent_id: &str,
    nesting: &Nesting,
    models: &Arc<RunModelBudget>,
) -> Invocation {
    inv.limits.timeout = nesting.cap(inv.limits.timeout);
    let outward = !inv.grants.http_hosts.is_empty() && app.config.guardrails.guardrails_enforce;
    if inv.grants.skills || inv.grants.marketplace || inv.grants.llm || inv.grants.messaging || outward {
        if let Some(app) = app.arc() {
            let mut nesting = nesting.clone();
            if !nesting.hired.iter().any(|a| a == agent_id) {
                nesting.hired.push(agent_id.to_string());
            }
            let port = Port {
                app,
                execution_id: execution_id.into(),
                agent_id: agent_id.into(),
                nesting,
                models: models.clone(),
            };
            inv.nested = Some(Arc::new(port));
        }
    }
    inv
}

impl NestedCalls for Port {
    fn call_skill<'a>(
        &'a self,
        skill_id: &'a str,
        input: String,
        time_left: Duration,
    ) -> BoxFuture<'a, Result<String, CallError>> {
        Box::pin(async move {
            if self.nesting.skills.iter().any(|s| s == skill_id) {
                return Err(CallError::Denied(format!("skill {skill_id} is already running above this call: a cycle")));
            }
            let mut nesting = self.nesting.below(&self.app, &self.execution_id, time_left)?;
            nesting.skills.push(skill_id.to_string());
            nesting.skill_id = Some(skill_id.to_string());
            let (app, caller, skill) = (self.app.clone(), self.agent_id.clone(), skill_id.to_string());
            spawned(tokio::spawn(
                async move { crate::skills::calls::call(&app, &caller, &skill, input, nesting).await },
            ))
            .await
        })
    }

    fn hire<'a>(
        &'a self,
        agent_id: &'a str,
        task: String,
        budget_cents: u64,
        time_left: Duration,
    ) -> BoxFuture<'a, Result<Hired, CallError>> {
        Box::pin(async move {
            if self.nesting.hired.iter().any(|a| a == agent_id) {
                return Err(CallError::Denied(format!("agent {agent_id} is already working above this call: a cycle")));
            }
            let nesting = self.nesting.below(&self.app, &self.execution_id, time_left)?;
            let (app, caller) = (self.app.clone(), self.agent_id.clone());
            let req = ExecuteRequest {
                agent_id: agent_id.to_string(),
                task_description: task,
                budget: i64::try_from(budget_cents).unwrap_or(i64::MAX),
                params: None,
                approval_id: None,
            };
            spawned(tokio::spawn(async move { hire(&app, &caller, req, nesting).await })).await
        })
    }

    fn chat<'a>(&'a self, call: ChatCall, _time_left: Duration) -> BoxFuture<'a, Result<ChatReply, CallError>> {
        Box::pin(async move {
            let requested = if call.model.is_empty() { "auto".to_string() } else { call.model.clone() };
            let messages: Vec<_> = call
                .messages
                .iter()
                .map(|(role, content)| serde_json::json!({"role": role, "content": content}))
                .collect();
            let mut body = serde_json::json!({"model": requested, "messages": messages});
            if let Some(n) = call.max_tokens {
                body["max_tokens"] = n.into();
            }
            if let Some(t) = call.temperature {
                body["temperature"] = f64::from(t).into();
            }
            // Spawned so that a call the component stops waiting for still counts its cost.
            let (app, models) = (self.app.clone(), self.models.clone());
            let answered = spawned(tokio::spawn(async move {
                inside::chat(&app, &models, body).await.map_err(|e| match e {
                    InsideError::QuotaExceeded(m) => CallError::QuotaExceeded(m),
                    InsideError::Unavailable(m) => CallError::Unavailable(m),
                    InsideError::Invalid(m) => CallError::Invalid(m),
                    InsideError::Failed(m) => CallError::Failed(m),
                })
            }))
            .await?;
            Ok(ChatReply {
                content: answered.content,
                model: requested,
                prompt_tokens: answered.tokens.input.clamp(0, u32::MAX as i64) as u32,
                completion_tokens: answered.tokens.output.clamp(0, u32::MAX as i64) as u32,
                cost_cents: cents_up(answered.charged_micros) as u64,
            })
        })
    }

    fn send_message<'a>(
        &'a self,
        to: &'a str,
        thread_id: Option<&'a str>,
        content: String,
    ) -> BoxFuture<'a, Result<String, CallError>> {
        Box::pin(async move {
            let message = crate::messaging::model::NewMessage {
                to: crate::messaging::model::Recipients::One(to.to_string()),
                body: serde_json::json!({"text": content}),
                thread_id: thread_id.map(str::to_string),
                reply_to: None,
                content_type: None,
                close_thread: false,
                a2a_auth: None,
            };
            let sent = crate::messaging::service::send(&self.app, &self.agent_id, message).await;
            sent.map(|s| s.id).map_err(crate::messaging::call_error)
        })
    }

    fn authorize<'a>(&'a self, action: Guarded<'a>) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            let Guarded::Http { method, host } = action;
            let action = HostAction {
                tool_ref: "agora.http",
                action_type: "communication",
                access_level: None,
                operation: Some(format!("{method} {host}")),
                amount_cents: None,
                approval_id: None,
                metadata: Some(serde_json::json!({"method": method, "host": host})),
            };
            enforce(&self.app, &self.agent_id, action).await.map_err(|e| hire_error(e.into()))
        })
    }
}

async fn spawned<T>(task: tokio::task::JoinHandle<Result<T, CallError>>) -> Result<T, CallError> {
    task.await.unwrap_or_else(|e| Err(CallError::Failed(format!("the nested run stopped: {e}"))))
}

/// A hire from a component: `/api/execute` on behalf of the calling agent, one level down.
async fn hire(app: &App, caller: &str, req: ExecuteRequest, nesting: Nesting) -> Result<Hired, CallError> {
    let done: Executed =
        service::execute_within(app, caller, &req, nesting, Answer::none()).await.map_err(hire_error)?;
    let charged = done.cost.price_cents + done.cost.compute_cents;
    match done.result {
        Ok(output) => {
            Ok(Hired { job_id: done.execution_id, output: Some(output), charged_cents: charged.max(0) as u64 })
        }
        Err(e) => {
            Err(CallError::Failed(format!("{} ({}); execution {}, refunded", e.message, e.code, done.execution_id)))
        }
    }
}

/// What a refused hire means to the calling component.
pub fn hire_error(e: ExecutionError) -> CallError {
    let message = e.to_string();
    match e {
        ExecutionError::Invalid(_) | ExecutionError::AgentNotFound | ExecutionError::BudgetTooLow(_) => {
            CallError::Invalid(message)
        }
        ExecutionError::Ledger(LedgerError::InsufficientFunds) => CallError::QuotaExceeded(message),
        ExecutionError::Guardrail(_) => CallError::Denied(message),
        ExecutionError::TooManyExecutions { .. }
        | ExecutionError::AgentUnavailable
        | ExecutionError::GatewayUnavailable
        | ExecutionError::ComponentMissing => CallError::Unavailable(message),
        ExecutionError::NotRunnable(_) => CallError::Invalid(message),
        other => {
            tracing::error!(error = %other, "nested run failed");
            CallError::Failed("the host could not make the run".into())
        }
    }
}
