//! A licence holder rates a skill once, 1 to 5; the listing's rating is the average, kept on
//! its row in the review's transaction.

use super::model::{SkillReview, SkillReviewRequest};
use super::store;
use super::SkillError;
use crate::db::{now_ms, rfc3339};
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

pub async fn review(
    app: &App,
    reviewer_id: &str,
    skill_id: &str,
    req: &SkillReviewRequest,
) -> Result<SkillReview, SkillError> {
    if !(1..=5).contains(&req.rating) {
        return Err(fail("rating", "must be 1 to 5").into());
    }
    let comment = validate::optional_text("comment", &req.comment, 5_000)?;
    store::get(&app.db, skill_id).await?.ok_or(SkillError::NotFound)?;
    if !store::ever_licensed(&app.db, skill_id, reviewer_id).await? {
        return Err(SkillError::NotLicensed);
    }
    let now = now_ms();
    let inserted = transaction!(app.db, |c| store::insert_review(c, skill_id, reviewer_id, req.rating, &comment, now))?;
    if !inserted {
        return Err(SkillError::AlreadyReviewed);
    }
    Ok(SkillReview {
        skill_id: skill_id.to_string(),
        reviewer_id: reviewer_id.to_string(),
        rating: req.rating,
        comment,
        created_at: rfc3339(now),
    })
}
