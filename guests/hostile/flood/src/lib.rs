//! Hostile: writes a lot to stdout and stderr and returns a huge result.
//! Params `{"stdout_mib": n, "stderr_mib": n, "result_mib": n}`, each 64 by
//! default. The host must bound what it captures and what it accepts back.

use agora_sdk::{Agent, Task, TaskError, TaskOutput};
use serde::Deserialize;
use std::io::Write;

const MIB: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(default)]
struct Params {
    stdout_mib: usize,
    stderr_mib: usize,
    result_mib: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            stdout_mib: 64,
            stderr_mib: 64,
            result_mib: 64,
        }
    }
}

struct Flood;

impl Agent for Flood {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        let p: Params = task.params_as()?;
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        let chunk = line.repeat(MIB / line.len());
        // Write errors (a closed or full pipe) are ignored: the point is to push.
        let mut out = std::io::stdout();
        for _ in 0..p.stdout_mib {
            let _ = out.write_all(&chunk);
        }
        let mut err = std::io::stderr();
        for _ in 0..p.stderr_mib {
            let _ = err.write_all(&chunk);
        }
        Ok(TaskOutput::text("y".repeat(p.result_mib * MIB)))
    }
}

agora_sdk::export_agent!(Flood);
