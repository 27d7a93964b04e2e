//! `agora:platform/messaging`: not served yet.

use super::{Cap, Unserved};
use crate::bindings::messaging;
use crate::bindings::types::CapabilityError;

impl messaging::Host for Cap<'_, Unserved> {
    async fn send(
        &mut self,
        _to: String,
        _thread_id: Option<String>,
        _content: String,
    ) -> Result<String, CapabilityError> {
        Err(CapabilityError::Unavailable("messaging is not available yet".into()))
    }
}
