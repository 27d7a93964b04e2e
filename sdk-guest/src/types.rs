use crate::json;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::bindings::agent::agora::platform::http::HttpError;
pub use crate::bindings::agent::agora::platform::types::{
    Action, CapabilityError, Decision, ForwardTarget, Message, ProposedAction, SkillError, SkillInfo, Task, TaskError,
    TaskOutput,
};

impl Task {
    /// The task's JSON params as `P`; `P::default()` when there are none.
    pub fn params_as<P: DeserializeOwned + Default>(&self) -> Result<P, TaskError> {
        match self.params.as_deref().map(str::trim) {
            None | Some("") | Some("null") => Ok(P::default()),
            Some(s) => Ok(json::parse(s)?),
        }
    }
}

impl TaskOutput {
    pub fn text(output: impl Into<String>) -> Self {
        TaskOutput { output: output.into(), content_type: "text/plain".into() }
    }

    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        TaskOutput { output: json::to_string(value), content_type: "application/json".into() }
    }
}

impl From<String> for TaskOutput {
    fn from(output: String) -> Self {
        TaskOutput::text(output)
    }
}

impl From<&str> for TaskOutput {
    fn from(output: &str) -> Self {
        TaskOutput::text(output)
    }
}

impl Decision {
    pub fn reason(&self) -> &str {
        match self {
            Decision::Allow(r) | Decision::Deny(r) | Decision::RequireApproval(r) => r,
        }
    }
}

impl CapabilityError {
    /// "denied", "unavailable", "quota-exceeded", "too-large", "invalid" or "failed".
    pub fn kind(&self) -> &'static str {
        match self {
            CapabilityError::Denied(_) => "denied",
            CapabilityError::Unavailable(_) => "unavailable",
            CapabilityError::QuotaExceeded(_) => "quota-exceeded",
            CapabilityError::TooLarge(_) => "too-large",
            CapabilityError::Invalid(_) => "invalid",
            CapabilityError::Failed(_) => "failed",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            CapabilityError::Denied(m)
            | CapabilityError::Unavailable(m)
            | CapabilityError::QuotaExceeded(m)
            | CapabilityError::TooLarge(m)
            | CapabilityError::Invalid(m)
            | CapabilityError::Failed(m) => m,
        }
    }

    fn summary(&self) -> String {
        format!("{}: {}", self.kind(), self.message())
    }
}

impl HttpError {
    /// "denied", "timeout", "too-large", "invalid-request" or "network".
    pub fn kind(&self) -> &'static str {
        match self {
            HttpError::Denied(_) => "denied",
            HttpError::Timeout => "timeout",
            HttpError::TooLarge => "too-large",
            HttpError::InvalidRequest(_) => "invalid-request",
            HttpError::Network(_) => "network",
        }
    }

    fn summary(&self) -> String {
        match self {
            HttpError::Denied(m) | HttpError::InvalidRequest(m) | HttpError::Network(m) => {
                format!("http {}: {m}", self.kind())
            }
            HttpError::Timeout | HttpError::TooLarge => format!("http {}", self.kind()),
        }
    }
}

impl From<CapabilityError> for TaskError {
    fn from(e: CapabilityError) -> Self {
        match e {
            CapabilityError::Unavailable(m) => TaskError::Unavailable(m),
            other => TaskError::Failed(other.summary()),
        }
    }
}

impl From<CapabilityError> for SkillError {
    fn from(e: CapabilityError) -> Self {
        match e {
            CapabilityError::Unavailable(m) => SkillError::Unavailable(m),
            other => SkillError::Failed(other.summary()),
        }
    }
}

impl From<HttpError> for TaskError {
    fn from(e: HttpError) -> Self {
        TaskError::Failed(e.summary())
    }
}

impl From<HttpError> for SkillError {
    fn from(e: HttpError) -> Self {
        SkillError::Failed(e.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug, PartialEq)]
    struct Params {
        n: u32,
    }

    fn task(params: Option<&str>) -> Task {
        Task { id: "t".into(), input: "in".into(), params: params.map(Into::into), budget_cents: 0, caller: None }
    }

    #[test]
    fn params_default_when_absent() {
        for p in [None, Some(""), Some(" null ")] {
            assert_eq!(task(p).params_as::<Params>().unwrap(), Params::default());
        }
        assert_eq!(task(Some(r#"{"n": 4}"#)).params_as::<Params>().unwrap(), Params { n: 4 });
    }

    #[test]
    fn bad_params_are_invalid_input() {
        assert!(matches!(task(Some("{")).params_as::<Params>(), Err(TaskError::InvalidInput(_))));
    }

    #[test]
    fn outputs_carry_content_types() {
        assert_eq!(TaskOutput::from("hi").content_type, "text/plain");
        let out = TaskOutput::json(&serde_json::json!({"a": 1}));
        assert_eq!((out.output.as_str(), out.content_type.as_str()), (r#"{"a":1}"#, "application/json"));
    }

    #[test]
    fn capability_errors_convert() {
        assert_eq!(TaskError::from(CapabilityError::Denied("kv".into())), TaskError::Failed("denied: kv".into()));
        assert_eq!(SkillError::from(CapabilityError::Unavailable("llm".into())), SkillError::Unavailable("llm".into()));
        assert_eq!(SkillError::from(HttpError::Timeout), SkillError::Failed("http timeout".into()));
    }
}
