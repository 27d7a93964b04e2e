//! Renders its input (Markdown) to HTML through a licensed skill: the `markdown` skill's
//! listing id comes in params `{"skill": id, "times"?: n}`; with `times` it calls the skill
//! that many times (each call is paid when the skill is sold per call) and returns the last
//! output. Needs the `skills` capability.

use agora_sdk::{skills, Agent, Task, TaskError, TaskOutput};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Default)]
struct Params {
    skill: Option<String>,
    times: Option<u32>,
}

#[derive(Serialize)]
struct MarkdownIn<'a> {
    markdown: &'a str,
}

#[derive(Deserialize)]
struct MarkdownOut {
    html: String,
}

struct Notes;

impl Agent for Notes {
    fn handle(task: Task) -> Result<TaskOutput, TaskError> {
        let params: Params = task.params_as()?;
        let skill = params
            .skill
            .ok_or_else(|| TaskError::InvalidInput("params.skill (the markdown skill's id) is required".into()))?;
        let mut html = String::new();
        for _ in 0..params.times.unwrap_or(1).max(1) {
            let out: MarkdownOut = skills::call_json(&skill, &MarkdownIn { markdown: &task.input })?;
            html = out.html;
        }
        Ok(TaskOutput { output: html, content_type: "text/html".into() })
    }
}

agora_sdk::export_agent!(Notes);
