//! The exported functions of each world, called with the execution's limits.

use super::execution::{ExecError, Execution};
use super::guest_types::{
    skill_error_parts, task_error_parts, AgentOutput, AgentTask, HandlerAction, IncomingMessage, PolicyDecision,
    ProposedAction, SkillInfo,
};
use super::kind::Kind;
use super::prepared::Prepared;
use super::session::OutputSize;
use super::{Invocation, Runtime};

fn guest_error((kind, message): (&str, String)) -> ExecError {
    ExecError::Guest { kind: kind.to_string(), message }
}

impl Runtime {
    /// Runs an agent's `handle` on one task.
    pub async fn run_agent(&self, digest: &str, task: AgentTask, inv: Invocation) -> Execution<AgentOutput> {
        let (mut store, prepared, session) = match self.open(digest, Kind::Agent, inv).await {
            Ok(opened) => opened,
            Err(e) => return Execution::refused(e),
        };
        let Prepared::Agent(pre) = prepared else { return Execution::refused(ExecError::NotPrepared) };
        let task = task.into();
        let ended = session
            .guard(async {
                let agent = pre.instantiate_async(&mut store).await?;
                agent.agora_platform_task_handler().call_handle(&mut store, &task).await
            })
            .await;
        session.finish(store, ended, |r| r.map(AgentOutput::from).map_err(|e| guest_error(task_error_parts(e))))
    }

    /// Asks a skill to describe itself.
    pub async fn skill_describe(&self, digest: &str, inv: Invocation) -> Execution<SkillInfo> {
        let (mut store, prepared, session) = match self.open(digest, Kind::Skill, inv).await {
            Ok(opened) => opened,
            Err(e) => return Execution::refused(e),
        };
        let Prepared::Skill(pre) = prepared else { return Execution::refused(ExecError::NotPrepared) };
        let ended = session
            .guard(async {
                let skill = pre.instantiate_async(&mut store).await?;
                skill.agora_platform_skill_provider().call_describe(&mut store).await
            })
            .await;
        session.finish(store, ended, |info| Ok(SkillInfo::from(info)))
    }

    /// Runs a skill on a JSON input; the result is its JSON output.
    pub async fn skill_invoke(&self, digest: &str, input: String, inv: Invocation) -> Execution<String> {
        let (mut store, prepared, session) = match self.open(digest, Kind::Skill, inv).await {
            Ok(opened) => opened,
            Err(e) => return Execution::refused(e),
        };
        let Prepared::Skill(pre) = prepared else { return Execution::refused(ExecError::NotPrepared) };
        let ended = session
            .guard(async {
                let skill = pre.instantiate_async(&mut store).await?;
                skill.agora_platform_skill_provider().call_invoke(&mut store, &input).await
            })
            .await;
        session.finish(store, ended, |r| r.map_err(|e| guest_error(skill_error_parts(e))))
    }

    /// Asks a message handler what to do with a message.
    pub async fn run_handler(
        &self,
        digest: &str,
        message: IncomingMessage,
        inv: Invocation,
    ) -> Execution<HandlerAction> {
        let (mut store, prepared, session) = match self.open(digest, Kind::Handler, inv).await {
            Ok(opened) => opened,
            Err(e) => return Execution::refused(e),
        };
        let Prepared::Handler(pre) = prepared else { return Execution::refused(ExecError::NotPrepared) };
        let message = message.into();
        let ended = session
            .guard(async {
                let handler = pre.instantiate_async(&mut store).await?;
                handler.agora_platform_message_handler().call_on_message(&mut store, &message).await
            })
            .await;
        session.finish(store, ended, |action| Ok(HandlerAction::from(action)))
    }

    /// Asks a policy for its decision on a proposed action.
    pub async fn run_policy(&self, digest: &str, action: ProposedAction, inv: Invocation) -> Execution<PolicyDecision> {
        let (mut store, prepared, session) = match self.open(digest, Kind::Policy, inv).await {
            Ok(opened) => opened,
            Err(e) => return Execution::refused(e),
        };
        let Prepared::Policy(pre) = prepared else { return Execution::refused(ExecError::NotPrepared) };
        let action = action.into();
        let ended = session
            .guard(async {
                let policy = pre.instantiate_async(&mut store).await?;
                policy.agora_platform_guardrail().call_check(&mut store, &action).await
            })
            .await;
        session.finish(store, ended, |decision| Ok(PolicyDecision::from(decision)))
    }
}

/// The optional interface a policy exports to check its settings (see `wit/exports.wit`).
const SETTINGS_INTERFACE: &str = "agora:platform/settings@0.1.0";

impl Runtime {
    /// Asks a policy whether `settings` (a JSON object) are valid for it: `None` when the
    /// component exports no settings check, else its verdict (an error says what is wrong).
    pub async fn check_policy_settings(
        &self,
        digest: &str,
        settings: String,
        inv: Invocation,
    ) -> Execution<Option<Result<(), String>>> {
        let (mut store, prepared, session) = match self.open(digest, Kind::Policy, inv).await {
            Ok(opened) => opened,
            Err(e) => return Execution::refused(e),
        };
        let Prepared::Policy(pre) = prepared else { return Execution::refused(ExecError::NotPrepared) };
        let ended = session
            .guard(async {
                let instance = pre.instance_pre().instantiate_async(&mut store).await?;
                let Some(interface) = instance.get_export_index(&mut store, None, SETTINGS_INTERFACE) else {
                    return Ok(None);
                };
                let Some(validate) = instance.get_export_index(&mut store, Some(&interface), "validate") else {
                    return Ok(None);
                };
                let validate = instance.get_typed_func::<(&str,), (Result<(), String>,)>(&mut store, &validate)?;
                let (verdict,) = validate.call_async(&mut store, (&settings,)).await?;
                Ok(Some(verdict))
            })
            .await;
        session.finish(store, ended, Ok)
    }
}

impl OutputSize for Option<Result<(), String>> {
    fn output_bytes(&self) -> usize {
        match self {
            Some(Err(message)) => message.len(),
            _ => 0,
        }
    }
}

impl OutputSize for AgentOutput {
    fn output_bytes(&self) -> usize {
        self.output.len() + self.content_type.len()
    }
}

impl OutputSize for String {
    fn output_bytes(&self) -> usize {
        self.len()
    }
}

impl OutputSize for SkillInfo {
    fn output_bytes(&self) -> usize {
        self.name.len()
            + self.version.len()
            + self.description.len()
            + self.input_schema.len()
            + self.output_schema.len()
    }
}

impl OutputSize for HandlerAction {
    fn output_bytes(&self) -> usize {
        match self {
            HandlerAction::Reply(text) => text.len(),
            HandlerAction::Forward { to, note } => to.len() + note.as_ref().map_or(0, String::len),
            HandlerAction::CloseThread | HandlerAction::Ignore => 0,
        }
    }
}

impl OutputSize for PolicyDecision {
    fn output_bytes(&self) -> usize {
        match self {
            PolicyDecision::Allow(reason) | PolicyDecision::Deny(reason) | PolicyDecision::RequireApproval(reason) => {
                reason.len()
            }
        }
    }
}
