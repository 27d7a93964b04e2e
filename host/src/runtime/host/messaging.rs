//! `agora:platform/messaging`: not served yet.

use super::HostState;
use crate::runtime::bindings::messaging;
use crate::runtime::bindings::types::CapabilityError;

impl messaging::Host for HostState {
    async fn send(
        &mut self,
        _to: String,
        _thread_id: Option<String>,
        _content: String,
    ) -> Result<String, CapabilityError> {
        Err(CapabilityError::Unavailable("messaging is not available yet".into()))
    }
}
