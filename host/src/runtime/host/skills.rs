//! `agora:platform/skills`: not served yet.

use super::HostState;
use crate::runtime::bindings::skills;
use crate::runtime::bindings::types::CapabilityError;

impl skills::Host for HostState {
    async fn call(&mut self, _skill_id: String, _input: String) -> Result<String, CapabilityError> {
        Err(CapabilityError::Unavailable("skills is not available yet".into()))
    }
}
