//! Plain Rust mirrors of the WIT records passed to and returned by the exports, and their
//! conversions to and from the generated bindings (which stay private to the runtime).

use super::bindings::types as wit;

/// A unit of work given to an agent (WIT `task`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentTask {
    pub id: String,
    pub input: String,
    /// Structured parameters as a JSON document.
    pub params: Option<String>,
    pub budget_cents: u64,
    /// The agent that ordered the task, if an agent did.
    pub caller: Option<String>,
}

/// What an agent produced (WIT `task-output`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentOutput {
    pub output: String,
    pub content_type: String,
}

/// A skill's self-description (WIT `skill-info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub input_schema: String,
    pub output_schema: String,
}

/// A message delivered to a handler (WIT `message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    pub id: String,
    pub thread_id: String,
    pub from: String,
    pub to: String,
    pub content: String,
    pub content_type: String,
    pub timestamp_ms: u64,
}

/// What a handler decided to do with a message (WIT `action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerAction {
    Reply(String),
    Forward { to: String, note: Option<String> },
    CloseThread,
    Ignore,
}

/// Something an agent is about to do, for the policies to decide (WIT `proposed-action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedAction {
    pub kind: String,
    pub actor: String,
    pub amount_cents: Option<u64>,
    pub target: Option<String>,
    /// Kind-specific details as a JSON object ("{}" when none).
    pub detail: String,
}

/// A policy's verdict with its reason (WIT `decision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    Allow(String),
    Deny(String),
    RequireApproval(String),
}

impl From<AgentTask> for wit::Task {
    fn from(t: AgentTask) -> Self {
        wit::Task { id: t.id, input: t.input, params: t.params, budget_cents: t.budget_cents, caller: t.caller }
    }
}

impl From<wit::TaskOutput> for AgentOutput {
    fn from(o: wit::TaskOutput) -> Self {
        AgentOutput { output: o.output, content_type: o.content_type }
    }
}

impl From<wit::SkillInfo> for SkillInfo {
    fn from(i: wit::SkillInfo) -> Self {
        SkillInfo {
            name: i.name,
            version: i.version,
            description: i.description,
            input_schema: i.input_schema,
            output_schema: i.output_schema,
        }
    }
}

impl From<IncomingMessage> for wit::Message {
    fn from(m: IncomingMessage) -> Self {
        wit::Message {
            id: m.id,
            thread_id: m.thread_id,
            from: m.from,
            to: m.to,
            content: m.content,
            content_type: m.content_type,
            timestamp_ms: m.timestamp_ms,
        }
    }
}

impl From<wit::Action> for HandlerAction {
    fn from(a: wit::Action) -> Self {
        match a {
            wit::Action::Reply(text) => HandlerAction::Reply(text),
            wit::Action::Forward(f) => HandlerAction::Forward { to: f.to, note: f.note },
            wit::Action::CloseThread => HandlerAction::CloseThread,
            wit::Action::Ignore => HandlerAction::Ignore,
        }
    }
}

impl From<ProposedAction> for wit::ProposedAction {
    fn from(a: ProposedAction) -> Self {
        wit::ProposedAction {
            kind: a.kind,
            actor: a.actor,
            amount_cents: a.amount_cents,
            target: a.target,
            detail: a.detail,
        }
    }
}

impl From<wit::Decision> for PolicyDecision {
    fn from(d: wit::Decision) -> Self {
        match d {
            wit::Decision::Allow(reason) => PolicyDecision::Allow(reason),
            wit::Decision::Deny(reason) => PolicyDecision::Deny(reason),
            wit::Decision::RequireApproval(reason) => PolicyDecision::RequireApproval(reason),
        }
    }
}

/// The WIT variant name and message of a guest's typed error.
pub(crate) fn task_error_parts(e: wit::TaskError) -> (&'static str, String) {
    match e {
        wit::TaskError::InvalidInput(m) => ("invalid-input", m),
        wit::TaskError::Failed(m) => ("failed", m),
        wit::TaskError::Unavailable(m) => ("unavailable", m),
        wit::TaskError::BudgetExceeded(m) => ("budget-exceeded", m),
    }
}

pub(crate) fn skill_error_parts(e: wit::SkillError) -> (&'static str, String) {
    match e {
        wit::SkillError::InvalidInput(m) => ("invalid-input", m),
        wit::SkillError::Failed(m) => ("failed", m),
        wit::SkillError::Unavailable(m) => ("unavailable", m),
    }
}
