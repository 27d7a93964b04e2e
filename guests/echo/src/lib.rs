//! Returns its input unchanged.

use agora_sdk::{Agent, Task, TaskError, TaskOutput};

struct Echo;

impl Agent for Echo {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        Ok(TaskOutput::text(task.input))
    }
}

agora_sdk::export_agent!(Echo);
