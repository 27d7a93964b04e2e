//! `agora:platform/messaging`: messages from the component's agent, through the host's
//! `NestedCalls` port (the host signs, checks the agent's policies and delivers).

use super::{Cap, Nested};
use crate::bindings::messaging;
use crate::bindings::types::CapabilityError;

impl messaging::Host for Cap<'_, Nested> {
    async fn send(
        &mut self,
        to: String,
        thread_id: Option<String>,
        content: String,
    ) -> Result<String, CapabilityError> {
        if !self.ctx.messaging {
            return Err(CapabilityError::Denied(self.call.deny("messaging is not granted to this component")));
        }
        let port = self.ctx.port()?;
        match self.call.bounded(port.send_message(&to, thread_id.as_deref(), content)).await {
            Some(result) => result.map_err(Into::into),
            None => Err(CapabilityError::Unavailable("the message was not delivered within the call's time".into())),
        }
    }
}
