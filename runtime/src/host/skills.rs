//! `agora:platform/skills`: calls to licensed skills, through the host's `NestedCalls` port.

use super::{Cap, Nested};
use crate::bindings::skills;
use crate::bindings::types::CapabilityError;

impl skills::Host for Cap<'_, Nested> {
    async fn call(&mut self, skill_id: String, input: String) -> Result<String, CapabilityError> {
        if !self.ctx.skills {
            return Err(CapabilityError::Denied(self.call.deny("skills is not granted to this component")));
        }
        let port = self.ctx.port()?;
        let time_left = self.call.time_left();
        match self.call.until_deadline(port.call_skill(&skill_id, input, time_left)).await {
            Some(result) => result.map_err(Into::into),
            None => Err(CapabilityError::Unavailable("the skill did not finish within the execution's time".into())),
        }
    }
}
