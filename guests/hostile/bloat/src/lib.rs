//! Hostile: carries a 19 MiB data segment, so that uploads of it (each with a byte of the
//! segment changed, to get a new digest) test the host's upload quotas, its bounded cache of
//! compiled components, and its refusal of components whose memory would not fit the limit.

use agora_sdk::{Agent, Task, TaskError, TaskOutput};
use std::hint::black_box;

/// Not zero, so that it is a real data segment and not zero-initialised memory.
static BLOAT: [u8; 19 << 20] = [0x5a; 19 << 20];

struct Bloat;

impl Agent for Bloat {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        let data = black_box(&BLOAT);
        Ok(TaskOutput::text(format!("{} bytes, byte {}", data.len(), data[task.input.len() % data.len()])))
    }
}

agora_sdk::export_agent!(Bloat);
