//! Runs an agent once, whatever it is made of, and reports the outcome without moving money.

use std::sync::Arc;
use std::time::Duration;

use agora_runtime::{AgentOutput, AgentTask, ExecError, Execution, Grants, Invocation, Kind, Limits};

use super::endpoint::{self, EndpointCall};
use super::nested::{self, Nesting};
use super::ExecutionError;
use crate::agents::model::AgentRow;
use crate::components::model::ComponentRow;
use crate::components::store as components;
use crate::gateway::inside::{self, InsideError, RunModelBudget};
use crate::gateway::model::cents_up;
use crate::state::App;

/// How an agent does its work.
pub enum Runner {
    Component(Arc<ComponentRow>),
    Endpoint(String),
    /// A system prompt answered through the model gateway in a mode or model.
    Prompt {
        system_prompt: String,
        model: String,
    },
}

impl Runner {
    pub fn name(&self) -> &'static str {
        match self {
            Runner::Component(_) => "component",
            Runner::Endpoint(_) => "endpoint",
            Runner::Prompt { .. } => "system_prompt",
        }
    }
    pub fn component_id(&self) -> Option<&str> {
        match self {
            Runner::Component(c) => Some(&c.id),
            _ => None,
        }
    }
}

/// Why a run failed: a stable error code (the API's) and a message.
#[derive(Debug, Clone)]
pub struct RunError {
    pub code: &'static str,
    pub message: String,
}

impl From<InsideError> for RunError {
    fn from(e: InsideError) -> RunError {
        match e {
            InsideError::QuotaExceeded(m) => RunError { code: "budget_exceeded", message: m },
            InsideError::Unavailable(m) => RunError { code: "unavailable", message: m },
            InsideError::Invalid(m) => RunError { code: "invalid_input", message: m },
            InsideError::Failed(m) => RunError { code: "upstream_error", message: m },
        }
    }
}

impl RunError {
    /// Nothing ran: no free execution slot, or the component could not be loaded on this host.
    /// Such a failure is the platform's, not the agent's, and the same request can succeed later.
    pub fn never_started(&self) -> bool {
        matches!(self.code, "busy" | "unavailable" | "not_prepared")
    }
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub result: Result<String, RunError>,
    pub fuel: i64,
    /// What the run's model calls cost, in micro-USD (paid from its budget).
    pub model_micros: i64,
    pub wall_ms: i64,
    pub memory_bytes: i64,
    pub logs: Vec<(String, String)>,
    pub stdout: String,
    pub stderr: String,
}

impl Default for RunOutcome {
    fn default() -> Self {
        RunOutcome {
            result: Ok(String::new()),
            fuel: 0,
            model_micros: 0,
            wall_ms: 0,
            memory_bytes: 0,
            logs: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
        }
    }
}

impl RunOutcome {
    /// The compute the run is billed, at most `allowance` cents: its model calls (their sum
    /// rounded up to a cent; they never pass the allowance) first, then its fuel from what is left.
    pub fn compute_cents(&self, app: &App, allowance: i64) -> i64 {
        let model = cents_up(self.model_micros).min(allowance.max(0));
        model + super::service::compute_cents(app, self.fuel).min(allowance - model).max(0)
    }

    pub fn usage(&self) -> super::model::UsageView {
        super::model::UsageView { fuel: self.fuel, wall_ms: self.wall_ms, memory_bytes: self.memory_bytes }
    }

    pub fn remote(result: Result<String, RunError>, elapsed: Duration) -> RunOutcome {
        RunOutcome { result, wall_ms: elapsed.as_millis() as i64, ..RunOutcome::default() }
    }

    pub fn failed(code: &'static str, message: String) -> RunOutcome {
        RunOutcome::remote(Err(RunError { code, message }), Duration::ZERO)
    }

    fn from_execution(e: Execution<AgentOutput>) -> RunOutcome {
        let Execution { result, usage, logs, stdout, stderr } = e;
        RunOutcome::from_run(Execution { result: result.map(|o| o.output), usage, logs, stdout, stderr })
    }

    /// The outcome of a run whose result is text (an agent's output, a skill's JSON).
    pub fn from_run(e: Execution<String>) -> RunOutcome {
        RunOutcome {
            result: e.result.map_err(|err| RunError { code: err.code(), message: err.to_string() }),
            fuel: e.usage.fuel as i64,
            model_micros: 0,
            wall_ms: e.usage.wall_ms as i64,
            memory_bytes: e.usage.memory_bytes as i64,
            logs: e.logs.into_iter().map(|l| (l.level, l.message)).collect(),
            stdout: e.stdout,
            stderr: e.stderr,
        }
    }
}

/// Decides how the agent runs; refuses before any money moves when it cannot.
pub async fn runner_for(app: &App, agent: &AgentRow) -> Result<Runner, ExecutionError> {
    if let Some(id) = &agent.component_id {
        let c = app.components.get(&app.db, id).await?.ok_or(ExecutionError::ComponentMissing)?;
        return Ok(Runner::Component(c));
    }
    if let Some(url) = &agent.endpoint_url {
        return Ok(Runner::Endpoint(url.clone()));
    }
    if let Some(system_prompt) = &agent.system_prompt {
        if app.gateway.upstreams.list.is_empty() {
            return Err(ExecutionError::GatewayUnavailable);
        }
        let model = agent.model.clone().unwrap_or_else(|| "auto".into());
        return Ok(Runner::Prompt { system_prompt: system_prompt.clone(), model });
    }
    Err(ExecutionError::NotRunnable("this agent has no component, endpoint_url or system_prompt to run".into()))
}

/// Compiles the component on this host if it is not ready yet: from this host's artifact
/// cache when it has one, else from the stored bytes.
pub async fn ensure_prepared(app: &App, c: &ComponentRow) -> Result<(), String> {
    if app.runtime.is_prepared(&c.digest) {
        return Ok(());
    }
    let kind: Kind = c.kind().ok_or_else(|| format!("unknown component kind {}", c.kind))?;
    let bytes = components::blob(&app.db, &c.digest)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("component bytes {} are missing", c.digest))?;
    let (runtime, digest) = (app.runtime.clone(), c.digest.clone());
    tokio::task::spawn_blocking(move || {
        if runtime.load_cached(&digest, kind).unwrap_or(false) {
            return Ok(());
        }
        runtime.prepare(&digest, &bytes, kind).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

pub struct RunRequest<'a> {
    pub agent: &'a AgentRow,
    pub runner: &'a Runner,
    pub execution_id: &'a str,
    pub input: &'a str,
    pub caller_id: &'a str,
    /// Who pays the run's compute (its model calls included).
    pub payer_id: &'a str,
    pub budget_cents: i64,
    /// What the run's compute (fuel and model calls) may cost.
    pub compute_cents: i64,
    pub params: Option<String>,
    pub fuel: u64,
    pub nesting: &'a Nesting,
}

pub fn limits(app: &App, fuel: u64) -> Limits {
    let e = &app.config.execution;
    Limits {
        fuel,
        timeout: Duration::from_millis(e.exec_timeout_ms),
        memory_bytes: e.exec_memory_bytes as usize,
        max_output_bytes: e.exec_max_output_bytes as usize,
        ..Limits::default()
    }
}

/// What the component of `c` is granted when it runs for `namespace`.
pub fn invocation(app: &App, c: &ComponentRow, namespace: String, fuel: u64) -> Invocation {
    let caps = c.capabilities();
    Invocation {
        namespace,
        grants: Grants {
            kv: caps.kv,
            http_hosts: caps.http,
            allow_private_http: app.config.execution.allow_private_http,
            skills: caps.skills,
            marketplace: caps.marketplace,
            llm: caps.llm,
            messaging: caps.messaging,
        },
        limits: limits(app, fuel),
        kv: app.kv.clone(),
        nested: None,
    }
}

/// How many times a run prepares its component and calls it while the call finds it evicted.
const PREPARE_ATTEMPTS: u32 = 3;

pub async fn run(app: &App, r: RunRequest<'_>) -> RunOutcome {
    let models = Arc::new(RunModelBudget::new(r.payer_id, r.execution_id, r.compute_cents));
    let mut outcome = run_with(app, &r, &models).await;
    outcome.model_micros = models.spent_micros();
    outcome
}

async fn run_with(app: &App, r: &RunRequest<'_>, models: &Arc<RunModelBudget>) -> RunOutcome {
    match r.runner {
        Runner::Component(c) => {
            let task = || AgentTask {
                id: r.execution_id.to_string(),
                input: r.input.to_string(),
                params: r.params.clone(),
                budget_cents: r.budget_cents.max(0) as u64,
                caller: Some(r.caller_id.to_string()),
            };
            // Another component's preparation can evict this one from the compiled cache
            // between the check and the call; a refused call ran nothing, so it is tried again.
            let mut attempt = 0;
            let execution = loop {
                attempt += 1;
                if let Err(e) = ensure_prepared(app, c).await {
                    tracing::error!(component = %c.id, error = %e, "component not runnable");
                    return RunOutcome::failed("unavailable", "the agent's component cannot be loaded".into());
                }
                let invocation = invocation(app, c, r.agent.id.clone(), r.fuel);
                let invocation = nested::attach(app, invocation, r.execution_id, &r.agent.id, r.nesting, models);
                let run = app.runtime.run_agent(&c.digest, task(), invocation).await;
                if attempt == PREPARE_ATTEMPTS || !matches!(run.result, Err(ExecError::NotPrepared)) {
                    break run;
                }
            };
            if let Err(ExecError::Busy) = &execution.result {
                tracing::warn!("execution pool full");
            }
            RunOutcome::from_execution(execution)
        }
        Runner::Prompt { system_prompt, model } => {
            let started = std::time::Instant::now();
            let mut body = serde_json::json!({"model": model, "messages": [
                {"role": "system", "content": system_prompt},
                {"role": "user", "content": r.input},
            ]});
            if let Some(max) = r.params.as_deref().and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok()) {
                if let Some(n) = max.get("max_tokens").filter(|n| n.is_u64()) {
                    body["max_tokens"] = n.clone();
                }
            }
            let result = inside::chat(app, models, body).await.map(|a| a.content).map_err(RunError::from);
            RunOutcome::remote(result, started.elapsed())
        }
        Runner::Endpoint(url) => {
            let secret = r.agent.endpoint_secret.clone().unwrap_or_default();
            endpoint::call(
                app,
                EndpointCall {
                    agent: r.agent,
                    secret: &secret,
                    url,
                    execution_id: r.execution_id,
                    input: r.input,
                    budget_cents: r.budget_cents,
                    caller_id: r.caller_id,
                },
            )
            .await
        }
    }
}
