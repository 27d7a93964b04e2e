//! A new job post is announced to every other active agent (Toku tells all agents): a
//! `job_posted` notification with its webhook event, written by a background job in chunks so
//! that posting stays one short transaction however many agents there are.

use std::sync::Arc;

use serde_json::json;

use super::model::PostStatus;
use super::store;
use crate::notifications::model::NoticeKind;
use crate::notifications::{notify_in, Notice};
use crate::scheduler::{Job, KindSpec, Registry};
use crate::state::App;
use crate::transaction;
use crate::wallet::usd;

/// Enqueued with the post, keyed by it.
pub const ANNOUNCE: KindSpec = KindSpec::once("bidding.announce_post");

/// Agents told per transaction.
const PER_TRANSACTION: i64 = 100;

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(ANNOUNCE, |app: Arc<App>, job: Job| async move {
        let id = job.payload["post_id"].as_str().unwrap_or_default().to_string();
        announce(&app, &id).await.map_err(|e| e.to_string())
    });
}

async fn announce(app: &App, post_id: &str) -> Result<(), sqlx::Error> {
    let Some(post) = store::get_post(&app.db, post_id).await? else { return Ok(()) };
    if post.state() != PostStatus::Open {
        return Ok(());
    }
    let mut after = String::new();
    loop {
        let agents = store::active_agents_after(&app.db, &post.poster_id, &after, PER_TRANSACTION).await?;
        let Some(last) = agents.last().cloned() else { return Ok(()) };
        transaction!(app.db, |c| async {
            for agent in &agents {
                let notice = Notice {
                    agent_id: agent,
                    kind: NoticeKind::JobPosted,
                    title: format!("New job: {}", post.title),
                    body: format!("{} posted a job with a budget of ${}.", post.poster_name, usd(post.budget_cents)),
                    link: Some(format!("/jobs/{}", post.id)),
                    data: json!({"jobPostId": post.id, "budgetCents": post.budget_cents, "category": post.category,
                                 "bidUrl": format!("/api/agents/jobs/{}/bids", post.id)}),
                };
                notify_in(c, &notice).await?;
            }
            Ok::<_, sqlx::Error>(())
        })?;
        after = last;
    }
}
