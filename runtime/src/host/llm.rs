//! `agora:platform/llm`: chat through the host's model gateway, via the host's `NestedCalls`
//! port, paid from the run's budget.

use super::{Cap, Nested};
use crate::bindings::llm;
use crate::bindings::types::CapabilityError;
use crate::nested::ChatCall;

impl llm::Host for Cap<'_, Nested> {
    async fn chat(&mut self, request: llm::ChatRequest) -> Result<llm::ChatResponse, CapabilityError> {
        if !self.ctx.llm {
            return Err(CapabilityError::Denied(self.call.deny("llm is not granted to this component")));
        }
        let port = self.ctx.port()?;
        let role = |r: llm::Role| match r {
            llm::Role::System => "system",
            llm::Role::User => "user",
            llm::Role::Assistant => "assistant",
        };
        let call = ChatCall {
            model: request.model,
            messages: request.messages.into_iter().map(|m| (role(m.role).to_string(), m.content)).collect(),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
        };
        let time_left = self.call.time_left();
        match self.call.until_deadline(port.chat(call, time_left)).await {
            Some(Ok(reply)) => Ok(llm::ChatResponse {
                content: reply.content,
                model: reply.model,
                usage: llm::Usage {
                    prompt_tokens: reply.prompt_tokens,
                    completion_tokens: reply.completion_tokens,
                    cost_cents: reply.cost_cents,
                },
            }),
            Some(Err(e)) => Err(e.into()),
            None => Err(CapabilityError::Unavailable("the model did not answer within the execution's time".into())),
        }
    }
}
