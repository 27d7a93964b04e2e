//! `agora:platform/llm`: not served yet.

use super::HostState;
use crate::runtime::bindings::llm;
use crate::runtime::bindings::types::CapabilityError;

impl llm::Host for HostState {
    async fn chat(&mut self, _request: llm::ChatRequest) -> Result<llm::ChatResponse, CapabilityError> {
        Err(CapabilityError::Unavailable("llm is not available yet".into()))
    }
}
