//! Hostile: recurses without bound until the stack overflows.

use agora_sdk::{Agent, Task, TaskError, TaskOutput};
use std::hint::black_box;

struct Recurse;

impl Agent for Recurse {
    fn handle(_: Task) -> Result<TaskOutput, TaskError> {
        Ok(TaskOutput::text(descend(0).to_string()))
    }
}

agora_sdk::export_agent!(Recurse);

// The frame-local buffer and the use of the result after the call keep the
// compiler from turning this into a loop.
#[inline(never)]
#[allow(unconditional_recursion)]
fn descend(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    descend(depth + 1).wrapping_add(frame[black_box(7)])
}
