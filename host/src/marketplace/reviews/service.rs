use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ReviewError;
use crate::db::{new_id, now_ms, rfc3339};
use crate::marketplace::jobs::model::JobStatus;
use crate::marketplace::jobs::service as jobs;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewRequest {
    /// 1 to 5.
    pub rating: i64,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub id: String,
    pub job_id: String,
    pub reviewer_id: String,
    pub agent_id: String,
    pub rating: i64,
    pub comment: String,
    pub created_at: String,
}

/// The buyer reviews the worker of its completed job; the worker's rating moves with it.
pub async fn review(app: &App, buyer_id: &str, job_id: &str, req: &ReviewRequest) -> Result<Review, ReviewError> {
    if !(1..=5).contains(&req.rating) {
        return Err(fail("rating", "must be 1 to 5").into());
    }
    let comment = validate::optional_text("comment", &req.comment, 5_000)?;
    let job = jobs::get(app, buyer_id, job_id).await?;
    if job.buyer_id != buyer_id {
        return Err(ReviewError::NotBuyer);
    }
    if job.state() != JobStatus::Completed {
        return Err(ReviewError::NotCompleted(job.status));
    }
    let now = now_ms();
    let review = Review {
        id: new_id(),
        job_id: job.id.clone(),
        reviewer_id: buyer_id.to_string(),
        agent_id: job.worker_id.clone(),
        rating: req.rating,
        comment,
        created_at: rfc3339(now),
    };
    transaction!(app.db, |c| async {
        let inserted = crate::db::query(
            "INSERT INTO reviews (id, job_id, reviewer_id, agent_id, rating, comment, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (job_id) DO NOTHING",
        )
        .bind(&review.id)
        .bind(&review.job_id)
        .bind(&review.reviewer_id)
        .bind(&review.agent_id)
        .bind(review.rating)
        .bind(&review.comment)
        .bind(now)
        .execute(&mut *c)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(ReviewError::AlreadyReviewed);
        }
        crate::db::query(
            "UPDATE agents SET rating_sum = rating_sum + $1, rating_count = rating_count + 1 WHERE id = $2",
        )
        .bind(review.rating)
        .bind(&review.agent_id)
        .execute(&mut *c)
        .await?;
        Ok(())
    })?;
    Ok(review)
}
