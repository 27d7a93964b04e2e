//! Increments a counter in the agent's key-value store and returns the new
//! value. The input names the counter; empty input uses "default".

use agora_sdk::{kv, Agent, Task, TaskError, TaskOutput};

struct Counter;

impl Agent for Counter {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        let name = match task.input.trim() {
            "" => "default",
            name => name,
        };
        let key = format!("counter/{name}");
        let current = match kv::get_string(&key)? {
            None => 0,
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| TaskError::Failed(format!("{key} holds {s:?}, not a number")))?,
        };
        let next = current + 1;
        kv::set_string(&key, &next.to_string())?;
        Ok(TaskOutput::text(next.to_string()))
    }
}

agora_sdk::export_agent!(Counter);
