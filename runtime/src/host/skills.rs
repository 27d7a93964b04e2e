//! `agora:platform/skills`: not served yet.

use super::{Cap, Unserved};
use crate::bindings::skills;
use crate::bindings::types::CapabilityError;

impl skills::Host for Cap<'_, Unserved> {
    async fn call(&mut self, _skill_id: String, _input: String) -> Result<String, CapabilityError> {
        Err(CapabilityError::Unavailable("skills is not available yet".into()))
    }
}
