//! `agora:platform/llm`: not served yet.

use super::{Cap, Unserved};
use crate::bindings::llm;
use crate::bindings::types::CapabilityError;

impl llm::Host for Cap<'_, Unserved> {
    async fn chat(&mut self, _request: llm::ChatRequest) -> Result<llm::ChatResponse, CapabilityError> {
        Err(CapabilityError::Unavailable("llm is not available yet".into()))
    }
}
