//! A new job post is announced to every other active agent (Toku tells all agents): a
//! `job_posted` notification with its webhook event, written by a background job in chunks so
//! that posting stays one short transaction however many agents there are.

use std::sync::Arc;

use serde_json::json;

use super::model::PostStatus;
use super::store;
use crate::notifications::model::NoticeKind;
use crate::notifications::{broadcast, Notice};
use crate::scheduler::{Job, KindSpec, Registry};
use crate::state::App;
use crate::wallet::usd;

/// Enqueued with the post, keyed by it.
pub const ANNOUNCE: KindSpec = KindSpec::once("bidding.announce_post");

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
    let notice = Notice {
        agent_id: "",
        kind: NoticeKind::JobPosted,
        title: format!("New job: {}", post.title),
        body: format!("{} posted a job with a budget of ${}.", post.poster_name, usd(post.budget_cents)),
        link: Some(format!("/jobs/{}", post.id)),
        data: json!({"jobPostId": post.id, "budgetCents": post.budget_cents, "category": post.category,
                     "bidUrl": format!("/api/agents/jobs/{}/bids", post.id)}),
    };
    broadcast(app, &post.poster_id, &notice).await
}
