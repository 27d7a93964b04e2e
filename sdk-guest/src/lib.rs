//! Write Agora agents, skills, message handlers and guardrail policies as
//! WebAssembly components.
//!
//! Implement the trait of your component's kind and export it with the
//! matching macro:
//!
//! ```
//! use agora_sdk::{Agent, Task, TaskError, TaskOutput};
//!
//! struct Echo;
//!
//! impl Agent for Echo {
//!     fn handle(task: Task) -> Result<TaskOutput, TaskError> {
//!         Ok(TaskOutput::text(task.input))
//!     }
//! }
//!
//! agora_sdk::export_agent!(Echo);
//! ```
//!
//! Capabilities the host granted are called through the modules [`log`],
//! [`kv`], [`http`], [`llm`], [`knowledge`], [`skills`], [`marketplace`] and
//! [`messaging`]. A capability that was not granted answers `Denied`.
//!
//! With the `license` feature, [`license::verify_license_offline`] checks an
//! Agora licence token without calling the host.

#[doc(hidden)]
pub mod bindings;

mod capabilities;
pub mod json;
#[cfg(feature = "license")]
pub mod license;
mod types;

pub use capabilities::{http, knowledge, kv, llm, log, marketplace, messaging, skills};
pub use types::*;

/// An agent: performs a task and returns its output.
pub trait Agent {
    fn handle(task: Task) -> Result<TaskOutput, TaskError>;
}

/// A skill: a described JSON-in, JSON-out function.
pub trait Skill {
    fn describe() -> SkillInfo;
    fn invoke(input: String) -> Result<String, SkillError>;
}

/// A message handler: decides what happens to a message sent to its agent.
pub trait Handler {
    fn on_message(message: Message) -> Action;
}

/// A guardrail policy: allows, denies or holds a proposed action.
pub trait Policy {
    fn check(action: ProposedAction) -> Decision;

    /// Checks the settings a policy using this component is created with (given to `check` as
    /// `detail.settings`): an error says what is wrong, and the host refuses the policy (422).
    fn validate_settings(_settings: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

#[doc(hidden)]
pub mod __private {
    use crate::bindings::{agent, handler, policy, skill};
    use crate::*;
    use core::marker::PhantomData;

    pub struct AgentExport<T>(PhantomData<T>);
    pub struct SkillExport<T>(PhantomData<T>);
    pub struct HandlerExport<T>(PhantomData<T>);
    pub struct PolicyExport<T>(PhantomData<T>);

    impl<T: Agent> agent::exports::agora::platform::task_handler::Guest for AgentExport<T> {
        fn handle(task: Task) -> Result<TaskOutput, TaskError> {
            T::handle(task)
        }
    }

    impl<T: Skill> skill::exports::agora::platform::skill_provider::Guest for SkillExport<T> {
        fn describe() -> SkillInfo {
            T::describe()
        }
        fn invoke(input: String) -> Result<String, SkillError> {
            T::invoke(input)
        }
    }

    impl<T: Handler> handler::exports::agora::platform::message_handler::Guest for HandlerExport<T> {
        fn on_message(message: Message) -> Action {
            T::on_message(message)
        }
    }

    impl<T: Policy> policy::exports::agora::platform::guardrail::Guest for PolicyExport<T> {
        fn check(action: ProposedAction) -> Decision {
            T::check(action)
        }
    }

    impl<T: Policy> policy::exports::agora::platform::settings::Guest for PolicyExport<T> {
        fn validate(settings: String) -> Result<(), String> {
            let settings: serde_json::Value =
                serde_json::from_str(&settings).map_err(|e| format!("settings are not JSON: {e}"))?;
            T::validate_settings(&settings)
        }
    }
}

/// Exports a type implementing [`Agent`] as this component's task handler.
#[macro_export]
macro_rules! export_agent {
    ($ty:ty) => {
        const _: () = {
            type AgoraAgentExport = $crate::__private::AgentExport<$ty>;
    $crate::bindings::agent::export!(AgoraAgentExport with_types_in $crate::bindings::agent);
        };
    };
}

/// Exports a type implementing [`Skill`] as this component's skill.
#[macro_export]
macro_rules! export_skill {
    ($ty:ty) => {
        const _: () = {
            type AgoraSkillExport = $crate::__private::SkillExport<$ty>;
    $crate::bindings::skill::export!(AgoraSkillExport with_types_in $crate::bindings::skill);
        };
    };
}

/// Exports a type implementing [`Handler`] as this component's message handler.
#[macro_export]
macro_rules! export_handler {
    ($ty:ty) => {
        const _: () = {
            type AgoraHandlerExport = $crate::__private::HandlerExport<$ty>;
    $crate::bindings::handler::export!(AgoraHandlerExport with_types_in $crate::bindings::handler);
        };
    };
}

/// Exports a type implementing [`Policy`] as this component's guardrail.
#[macro_export]
macro_rules! export_policy {
    ($ty:ty) => {
        const _: () = {
            type AgoraPolicyExport = $crate::__private::PolicyExport<$ty>;
    $crate::bindings::policy::export!(AgoraPolicyExport with_types_in $crate::bindings::policy);
        };
    };
}
