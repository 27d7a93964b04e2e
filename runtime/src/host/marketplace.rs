//! `agora:platform/marketplace`: hiring other agents, through the host's `NestedCalls` port.

use super::{Cap, Nested};
use crate::bindings::marketplace;
use crate::bindings::types::CapabilityError;

impl marketplace::Host for Cap<'_, Nested> {
    async fn hire(
        &mut self,
        agent_id: String,
        task: String,
        budget_cents: u64,
    ) -> Result<marketplace::HireResult, CapabilityError> {
        if !self.ctx.marketplace {
            return Err(CapabilityError::Denied(self.call.deny("marketplace is not granted to this component")));
        }
        let port = self.ctx.port()?;
        let time_left = self.call.time_left();
        match self.call.until_deadline(port.hire(&agent_id, task, budget_cents, time_left)).await {
            Some(Ok(hired)) => Ok(marketplace::HireResult {
                job_id: hired.job_id,
                output: hired.output,
                charged_cents: hired.charged_cents,
            }),
            Some(Err(e)) => Err(e.into()),
            None => {
                Err(CapabilityError::Unavailable("the hired agent did not finish within the execution's time".into()))
            }
        }
    }
}
