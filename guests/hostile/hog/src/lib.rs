//! Hostile: allocates memory without end and writes to every page of it.
//! The host's memory limit must stop it.

use agora_sdk::{Agent, Task, TaskError, TaskOutput};
use std::hint::black_box;

const CHUNK: usize = 1 << 20;
const PAGE: usize = 4096;

struct Hog;

impl Agent for Hog {
    fn handle(_: Task) -> Result<TaskOutput, TaskError> {
        let mut held: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; CHUNK];
            for i in (0..CHUNK).step_by(PAGE) {
                chunk[i] = 0xa5;
            }
            held.push(black_box(chunk));
        }
    }
}

agora_sdk::export_agent!(Hog);
