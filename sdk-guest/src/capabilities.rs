//! Safe wrappers over the capabilities a component imports.

use crate::bindings::agent::agora::platform as wit;

/// Lines in the execution's log. Always granted.
pub mod log {
    use super::wit::log as raw;
    pub use raw::Level;

    pub fn log(level: Level, message: &str) {
        raw::log(level, message)
    }

    pub fn trace(message: &str) {
        raw::log(Level::Trace, message)
    }

    pub fn debug(message: &str) {
        raw::log(Level::Debug, message)
    }

    pub fn info(message: &str) {
        raw::log(Level::Info, message)
    }

    pub fn warn(message: &str) {
        raw::log(Level::Warn, message)
    }

    pub fn error(message: &str) {
        raw::log(Level::Error, message)
    }
}

/// The agent's private key-value store.
pub mod kv {
    use super::wit::kv as raw;
    use crate::CapabilityError;
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    pub fn get(key: &str) -> Result<Option<Vec<u8>>, CapabilityError> {
        raw::get(key)
    }

    pub fn set(key: &str, value: &[u8]) -> Result<(), CapabilityError> {
        raw::set(key, value)
    }

    /// Returns whether the key existed.
    pub fn delete(key: &str) -> Result<bool, CapabilityError> {
        raw::delete(key)
    }

    pub fn list_keys(prefix: &str) -> Result<Vec<String>, CapabilityError> {
        raw::list_keys(prefix)
    }

    /// The value under `key` as UTF-8 text; `Invalid` if it is not.
    pub fn get_string(key: &str) -> Result<Option<String>, CapabilityError> {
        get(key)?
            .map(|v| {
                String::from_utf8(v).map_err(|_| CapabilityError::Invalid(format!("value of {key:?} is not UTF-8")))
            })
            .transpose()
    }

    pub fn set_string(key: &str, value: &str) -> Result<(), CapabilityError> {
        set(key, value.as_bytes())
    }

    /// The value under `key` decoded from JSON; `Invalid` if it does not decode.
    pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, CapabilityError> {
        get(key)?.map(|v| crate::json::parse_bytes(&v).map_err(|e| CapabilityError::Invalid(e.to_string()))).transpose()
    }

    pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), CapabilityError> {
        set(key, crate::json::to_string(value).as_bytes())
    }
}

/// Outbound HTTP to the hosts the component was granted.
pub mod http {
    use super::wit::http as raw;
    pub use raw::{HttpError, Request, Response};
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    impl Request {
        pub fn new(method: &str, url: &str) -> Self {
            Request { method: method.into(), url: url.into(), headers: Vec::new(), body: None, timeout_ms: None }
        }

        pub fn header(mut self, name: &str, value: &str) -> Self {
            self.headers.push((name.into(), value.into()));
            self
        }

        pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
            self.body = Some(body.into());
            self
        }

        /// Sets the body to `value` as JSON, with its content type.
        pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
            self.header("content-type", "application/json").body(crate::json::to_string(value))
        }

        pub fn timeout_ms(mut self, ms: u32) -> Self {
            self.timeout_ms = Some(ms);
            self
        }

        pub fn send(&self) -> Result<Response, HttpError> {
            raw::send(self)
        }
    }

    impl Response {
        /// The first header named `name` (case-insensitive).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }

        pub fn is_success(&self) -> bool {
            (200..300).contains(&self.status)
        }

        /// The body as text, with invalid UTF-8 replaced.
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        pub fn json<T: DeserializeOwned>(&self) -> Result<T, crate::json::InvalidJson> {
            crate::json::parse_bytes(&self.body)
        }
    }

    pub fn send(request: &Request) -> Result<Response, HttpError> {
        raw::send(request)
    }

    pub fn get(url: &str) -> Result<Response, HttpError> {
        Request::new("GET", url).send()
    }

    pub fn post(url: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Result<Response, HttpError> {
        Request::new("POST", url).header("content-type", content_type).body(body).send()
    }

    pub fn post_json<T: Serialize + ?Sized>(url: &str, value: &T) -> Result<Response, HttpError> {
        Request::new("POST", url).json(value).send()
    }
}

/// Chat completion through the host's model gateway.
pub mod llm {
    use super::wit::llm as raw;
    use crate::CapabilityError;
    pub use raw::{ChatMessage, ChatRequest, ChatResponse, Role, Usage};

    impl ChatMessage {
        pub fn system(content: impl Into<String>) -> Self {
            ChatMessage { role: Role::System, content: content.into() }
        }

        pub fn user(content: impl Into<String>) -> Self {
            ChatMessage { role: Role::User, content: content.into() }
        }

        pub fn assistant(content: impl Into<String>) -> Self {
            ChatMessage { role: Role::Assistant, content: content.into() }
        }
    }

    impl ChatRequest {
        /// A request to `model` ("" for the gateway's default).
        pub fn new(model: &str, messages: Vec<ChatMessage>) -> Self {
            ChatRequest { model: model.into(), messages, max_tokens: None, temperature: None }
        }
    }

    pub fn chat(request: &ChatRequest) -> Result<ChatResponse, CapabilityError> {
        raw::chat(request)
    }

    /// Asks the default model a single question and returns its answer.
    pub fn complete(prompt: &str) -> Result<String, CapabilityError> {
        chat(&ChatRequest::new("", vec![ChatMessage::user(prompt)])).map(|r| r.content)
    }
}

/// The agent's knowledge base.
pub mod knowledge {
    use super::wit::knowledge as raw;
    use crate::CapabilityError;
    pub use raw::Hit;

    pub fn search(query: &str, limit: u32) -> Result<Vec<Hit>, CapabilityError> {
        raw::search(query, limit)
    }

    /// Returns the new note's id.
    pub fn add_note(title: &str, body: &str) -> Result<String, CapabilityError> {
        raw::add_note(title, body)
    }
}

/// Calls to marketplace skills.
pub mod skills {
    use super::wit::skills as raw;
    use crate::CapabilityError;
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    /// Calls `skill_id` with a JSON input and returns its JSON output.
    pub fn call(skill_id: &str, input: &str) -> Result<String, CapabilityError> {
        raw::call(skill_id, input)
    }

    pub fn call_json<I: Serialize + ?Sized, O: DeserializeOwned>(
        skill_id: &str,
        input: &I,
    ) -> Result<O, CapabilityError> {
        let output = call(skill_id, &crate::json::to_string(input))?;
        crate::json::parse(&output).map_err(|e| CapabilityError::Failed(format!("skill {skill_id} returned {e}")))
    }
}

/// Hiring other agents.
pub mod marketplace {
    use super::wit::marketplace as raw;
    use crate::CapabilityError;
    pub use raw::HireResult;

    pub fn hire(agent_id: &str, task: &str, budget_cents: u64) -> Result<HireResult, CapabilityError> {
        raw::hire(agent_id, task, budget_cents)
    }
}

/// Messages to other agents.
pub mod messaging {
    use super::wit::messaging as raw;
    use crate::CapabilityError;

    /// Returns the new message's id.
    pub fn send(to: &str, thread_id: Option<&str>, content: &str) -> Result<String, CapabilityError> {
        raw::send(to, thread_id, content)
    }
}
