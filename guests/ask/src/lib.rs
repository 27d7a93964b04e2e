//! Asks the host's model gateway: the input is the user message; params `{"model"?: mode or
//! name, "system"?: text, "max_tokens"?: n, "times"?: n}` (`times` asks that many times, each
//! call paid). Returns `{"answer", "model", "prompt_tokens", "completion_tokens", "cost_cents"}`
//! of the last call, `cost_cents` summed. Needs the `llm` capability.

use agora_sdk::llm::{self, ChatMessage, ChatRequest};
use agora_sdk::{Agent, Task, TaskError, TaskOutput};
use serde::Deserialize;

#[derive(Deserialize, Default)]
struct Params {
    model: Option<String>,
    system: Option<String>,
    max_tokens: Option<u32>,
    times: Option<u32>,
}

struct Ask;

impl Agent for Ask {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        let params: Params = task.params_as()?;
        let mut messages = Vec::new();
        if let Some(system) = params.system {
            messages.push(ChatMessage::system(system));
        }
        messages.push(ChatMessage::user(task.input));
        let mut request = ChatRequest::new(params.model.as_deref().unwrap_or(""), messages);
        request.max_tokens = params.max_tokens;
        let mut cost = 0;
        let mut last = None;
        for _ in 0..params.times.unwrap_or(1).max(1) {
            let reply = llm::chat(&request)?;
            cost += reply.usage.cost_cents;
            last = Some(reply);
        }
        let reply = last.expect("asked at least once");
        let out = serde_json::json!({
            "answer": reply.content,
            "model": reply.model,
            "prompt_tokens": reply.usage.prompt_tokens,
            "completion_tokens": reply.usage.completion_tokens,
            "cost_cents": cost,
        });
        Ok(TaskOutput::json(&out))
    }
}

agora_sdk::export_agent!(Ask);
