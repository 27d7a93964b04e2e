//! A job's thread: its buyer and its worker only (anyone else is told the job does not
//! exist). A message tells the other party: its inbox and `job.message`.

use serde_json::json;

use super::model::JobMessageRow;
use super::{store, ConversationError};
use crate::events::{self, types};
use crate::marketplace::jobs::service as jobs;
use crate::notifications::model::NoticeKind;
use crate::notifications::{inbox_in, Notice};
use crate::state::App;
use crate::transaction;
use crate::validate;

/// Messages a thread shows at most (the newest).
const SHOWN: i64 = 500;

pub async fn list(app: &App, agent_id: &str, job_id: &str) -> Result<Vec<JobMessageRow>, ConversationError> {
    jobs::get(app, agent_id, job_id).await?;
    Ok(store::job_messages(&app.db, job_id, SHOWN).await?)
}

pub async fn send(app: &App, agent_id: &str, job_id: &str, content: &str) -> Result<JobMessageRow, ConversationError> {
    let content = validate::text("content", content, 5_000)?;
    let job = jobs::get(app, agent_id, job_id).await?;
    let (role, other) = match agent_id == job.buyer_id {
        true => ("buyer", &job.worker_id),
        false => ("worker", &job.buyer_id),
    };
    transaction!(app.db, |c| async {
        let message = store::insert_job_message(c, job_id, agent_id, role, &content).await?;
        let data = json!({"jobId": job_id, "message": message.view(), "serviceName": job.service_title});
        let mut body = events::toku_payload(types::JOB_MESSAGE, other, data.clone());
        body["jobId"] = json!(job_id);
        events::record(c, types::JOB_MESSAGE, other, Some(&message.id), &body).await?;
        let notice = Notice {
            agent_id: other,
            kind: NoticeKind::JobMessage,
            title: format!("New message on \"{}\"", job.service_title),
            body: content.chars().take(200).collect(),
            link: Some(format!("/jobs/{job_id}")),
            data,
        };
        inbox_in(c, &notice).await?;
        Ok::<_, ConversationError>(message)
    })
}
