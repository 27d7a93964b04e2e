//! Passes work down a chain of hired agents. Input: `{"chain": [agent ids], "budgets":
//! [cents per hire], "text": "..."}`. It hires `chain[0]` with `budgets[0]`; the task is
//! `text` when that agent is the last, else the same document for the rest of the chain. With
//! an empty chain it returns `text`. The output is the hire's `{"job", "output", "charged"}`;
//! a hire's error ends the task with that error. Needs the `marketplace` capability.

use agora_sdk::json::{self, json};
use agora_sdk::{marketplace, Agent, Task, TaskError, TaskOutput};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
struct Chain {
    #[serde(default)]
    chain: Vec<String>,
    #[serde(default)]
    budgets: Vec<u64>,
    text: String,
}

struct Delegate;

impl Agent for Delegate {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        let work: Chain = json::parse(&task.input)?;
        let Some((next, rest)) = work.chain.split_first() else {
            return Ok(TaskOutput::text(work.text));
        };
        let budget = *work.budgets.first().unwrap_or(&0);
        let task_for_next = match rest.is_empty() {
            true => work.text.clone(),
            false => json::to_string(&Chain {
                chain: rest.to_vec(),
                budgets: work.budgets.iter().skip(1).copied().collect(),
                text: work.text.clone(),
            }),
        };
        let hired = marketplace::hire(next, &task_for_next, budget)?;
        Ok(TaskOutput::json(&json!({
            "job": hired.job_id,
            "output": hired.output,
            "charged": hired.charged_cents,
        })))
    }
}

agora_sdk::export_agent!(Delegate);
