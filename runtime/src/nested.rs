//! The port through which a component calls out of its sandbox: to other components
//! (`skills.call`, `marketplace.hire`), to the host's model gateway (`llm.chat`) and to other
//! agents (`messaging.send`), and through
//! which the host's policies decide the component's other outward actions (`authorize`) before
//! they happen. The host implements it (licences, money, records, guardrails); the runtime only
//! checks the grant, bounds the call by the execution's own deadline and maps the errors.

use futures::future::BoxFuture;
use std::time::Duration;

/// What a nested call may answer, one for one the WIT `capability-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("failed: {0}")]
    Failed(String),
}

/// A hire made from inside a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hired {
    /// The hired run's id (its execution record).
    pub job_id: String,
    /// The hired agent's output when it finished within the call.
    pub output: Option<String>,
    /// What the hire cost the hiring agent, in cents.
    pub charged_cents: u64,
}

/// A chat request from a component: `role` is `system`, `user` or `assistant`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCall {
    /// A mode (`auto`, `fast`, `max`) or a model name; empty for `auto`.
    pub model: String,
    pub messages: Vec<(String, String)>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

/// What the gateway answered, and what it cost the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatReply {
    pub content: String,
    /// What the component asked for (the upstream stays hidden).
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// Whole cents, rounded up (the run is billed its calls' exact sum, rounded up once).
    pub cost_cents: u64,
}

/// An outward action of a component that the host's policies decide before it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded<'a> {
    /// An `http.send` (and each redirect to another host), once its host is known granted.
    Http { method: &'a str, host: &'a str },
}

/// Calls out of one execution. `time_left` is what remains of the calling execution's
/// wall-clock limit: the nested run must end within it.
pub trait NestedCalls: Send + Sync {
    fn call_skill<'a>(
        &'a self,
        skill_id: &'a str,
        input: String,
        time_left: Duration,
    ) -> BoxFuture<'a, Result<String, CallError>>;

    fn hire<'a>(
        &'a self,
        agent_id: &'a str,
        task: String,
        budget_cents: u64,
        time_left: Duration,
    ) -> BoxFuture<'a, Result<Hired, CallError>>;

    /// A chat completion through the model gateway, paid from the run's budget.
    fn chat<'a>(&'a self, call: ChatCall, time_left: Duration) -> BoxFuture<'a, Result<ChatReply, CallError>>;

    /// Sends `content` (text/plain) from the component's agent to address `to`, in `thread_id`
    /// or a new thread; the new message's id.
    fn send_message<'a>(
        &'a self,
        to: &'a str,
        thread_id: Option<&'a str>,
        content: String,
    ) -> BoxFuture<'a, Result<String, CallError>>;

    /// Whether the component may take `action`: `Denied` with the reason when a policy refuses
    /// it or holds it for approval.
    fn authorize<'a>(&'a self, action: Guarded<'a>) -> BoxFuture<'a, Result<(), CallError>>;
}
