//! Hostile: panics, which in a component is a trap.

use agora_sdk::{Agent, Task, TaskError, TaskOutput};

struct Panic;

impl Agent for Panic {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        panic!("deliberate panic in task {}", task.id);
    }
}

agora_sdk::export_agent!(Panic);
