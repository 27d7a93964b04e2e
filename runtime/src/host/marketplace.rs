//! `agora:platform/marketplace`: not served yet.

use super::{Cap, Unserved};
use crate::bindings::marketplace;
use crate::bindings::types::CapabilityError;

impl marketplace::Host for Cap<'_, Unserved> {
    async fn hire(
        &mut self,
        _agent_id: String,
        _task: String,
        _budget_cents: u64,
    ) -> Result<marketplace::HireResult, CapabilityError> {
        Err(CapabilityError::Unavailable("marketplace is not available yet".into()))
    }
}
