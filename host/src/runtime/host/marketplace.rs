//! `agora:platform/marketplace`: not served yet.

use super::HostState;
use crate::runtime::bindings::marketplace;
use crate::runtime::bindings::types::CapabilityError;

impl marketplace::Host for HostState {
    async fn hire(
        &mut self,
        _agent_id: String,
        _task: String,
        _budget_cents: u64,
    ) -> Result<marketplace::HireResult, CapabilityError> {
        Err(CapabilityError::Unavailable("marketplace is not available yet".into()))
    }
}
