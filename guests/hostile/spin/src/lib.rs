//! Hostile: never returns. The host must stop it (fuel or epoch deadline).

use agora_sdk::{Agent, Task, TaskError, TaskOutput};
use std::hint::black_box;

struct Spin;

impl Agent for Spin {
    fn handle(_: Task) -> Result<TaskOutput, TaskError> {
        let mut n: u64 = 0;
        loop {
            n = black_box(n.wrapping_add(1));
        }
    }
}

agora_sdk::export_agent!(Spin);
