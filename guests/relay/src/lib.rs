//! Passes a message on: the input is the text, params `{"to": address, "thread_id"?: id}`; sends
//! it from the agent with `messaging.send` and returns `{"message_id"}`. Needs the `messaging`
//! capability.

use agora_sdk::{messaging, Agent, Task, TaskError, TaskOutput};
use serde::Deserialize;

#[derive(Deserialize, Default)]
struct Params {
    to: String,
    thread_id: Option<String>,
}

struct Relay;

impl Agent for Relay {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        let params: Params = task.params_as()?;
        let id = messaging::send(&params.to, params.thread_id.as_deref(), &task.input)?;
        Ok(TaskOutput::json(&serde_json::json!({ "message_id": id })))
    }
}

agora_sdk::export_agent!(Relay);
