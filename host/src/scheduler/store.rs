//! SQL of the scheduler.

use crate::db::Conn;

use super::model::{Job, JobStatus, NewJob, Next};
use crate::db::sql::placeholders;
use crate::db::{new_id, now_ms, Backend, Db};

/// Adds a job unless one of its kind and key exists; true if added. Runs in the caller's
/// transaction, so a job exists exactly when the change that asked for it was committed.
pub async fn insert(c: &mut Conn, job: &NewJob<'_>) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let added = crate::db::query(
        "INSERT INTO scheduled_jobs (id, kind, job_key, payload, status, run_at, attempts, max_attempts, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8) \
         ON CONFLICT (kind, job_key) DO NOTHING",
    )
    .bind(new_id())
    .bind(job.kind)
    .bind(job.key)
    .bind(job.payload.to_string())
    .bind(JobStatus::Pending.as_str())
    .bind(job.run_at)
    .bind(job.max_attempts)
    .bind(now)
    .execute(c)
    .await?;
    Ok(added.rows_affected() == 1)
}

/// Brings a waiting job of this kind and key forward to `run_at` if it was due later.
pub async fn run_no_later_than(c: &mut Conn, kind: &str, key: &str, run_at: i64) -> Result<(), sqlx::Error> {
    crate::db::query(
        "UPDATE scheduled_jobs SET run_at = $1, updated_at = $1 \
         WHERE kind = $2 AND job_key = $3 AND status = $4 AND run_at > $1",
    )
    .bind(run_at)
    .bind(kind)
    .bind(key)
    .bind(JobStatus::Pending.as_str())
    .execute(c)
    .await?;
    Ok(())
}

/// Claims up to `limit` jobs of `kinds` that are due, or whose host's lease ran out, for
/// `owner` until `lease_until`. On PostgreSQL rows another host is claiming are skipped, not
/// waited for; SQLite has one writer.
pub async fn claim(
    c: &mut Conn,
    backend: Backend,
    kinds: &[&str],
    owner: &str,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Job>, sqlx::Error> {
    let now = now_ms();
    let sql = format!(
        "UPDATE scheduled_jobs SET status = $1, lease_owner = $2, lease_until = $3, attempts = attempts + 1, \
         updated_at = $4 WHERE id IN (SELECT id FROM scheduled_jobs \
         WHERE ((status = $5 AND run_at <= $4) OR (status = $1 AND lease_until < $4)) AND kind IN ({}) \
         ORDER BY run_at LIMIT $6{}) \
         RETURNING id, kind, job_key, payload, attempts, max_attempts",
        placeholders(7, kinds.len()),
        if backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" },
    );
    let mut query = crate::db::query(&sql)
        .bind(JobStatus::Running.as_str())
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(JobStatus::Pending.as_str())
        .bind(limit);
    for kind in kinds {
        query = query.bind(*kind);
    }
    let rows = query.fetch_all(c).await?;
    Ok(rows
        .iter()
        .map(|r| Job {
            id: r.get("id"),
            kind: r.get("kind"),
            key: r.get("job_key"),
            payload: serde_json::from_str(&r.get::<String, _>("payload")).unwrap_or_default(),
            attempts: r.get("attempts"),
            max_attempts: r.get("max_attempts"),
        })
        .collect())
}

/// Records the end of `owner`'s run of a job; false (and nothing changed) if the job is no
/// longer `owner`'s (its lease ran out and another host took it over).
pub async fn finish(c: &mut Conn, id: &str, owner: &str, next: &Next) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let (status, run_at, reset_attempts, error) = match next {
        Next::Done => (JobStatus::Done, None, false, None),
        Next::Again { run_at } => (JobStatus::Pending, Some(*run_at), true, None),
        Next::Retry { run_at, error } => (JobStatus::Pending, Some(*run_at), false, Some(error.as_str())),
        Next::Failed { error } => (JobStatus::Failed, None, false, Some(error.as_str())),
    };
    let done = crate::db::query(
        "UPDATE scheduled_jobs SET status = $1, run_at = COALESCE($2, run_at), \
         attempts = CASE WHEN $3 = 1 THEN 0 ELSE attempts END, last_error = COALESCE($4, last_error), \
         lease_owner = NULL, lease_until = NULL, updated_at = $5 \
         WHERE id = $6 AND lease_owner = $7 AND status = $8",
    )
    .bind(status.as_str())
    .bind(run_at)
    .bind(i64::from(reset_attempts))
    .bind(error)
    .bind(now)
    .bind(id)
    .bind(owner)
    .bind(JobStatus::Running.as_str())
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes the jobs `owner` holds claimable again; how many.
pub async fn release_held_by(c: &mut Conn, owner: &str) -> Result<u64, sqlx::Error> {
    let released = crate::db::query(
        "UPDATE scheduled_jobs SET status = $1, lease_owner = NULL, lease_until = NULL, updated_at = $2 \
         WHERE status = $3 AND lease_owner = $4",
    )
    .bind(JobStatus::Pending.as_str())
    .bind(now_ms())
    .bind(JobStatus::Running.as_str())
    .bind(owner)
    .execute(c)
    .await?;
    Ok(released.rows_affected())
}

/// When the next waiting job of `kinds` is due, if any.
pub async fn next_due(db: &Db, kinds: &[&str]) -> Result<Option<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT MIN(run_at) AS next FROM scheduled_jobs WHERE status = $1 AND kind IN ({})",
        placeholders(2, kinds.len())
    );
    let mut query = crate::db::query(&sql).bind(JobStatus::Pending.as_str());
    for kind in kinds {
        query = query.bind(*kind);
    }
    Ok(query.fetch_one(&db.read).await?.get::<Option<i64>, _>("next"))
}

/// Deletes ended jobs (done or failed) last changed before `before`.
pub async fn delete_ended_before(db: &Db, before: i64) -> Result<u64, sqlx::Error> {
    let deleted = db
        .execute(
            crate::db::query("DELETE FROM scheduled_jobs WHERE status IN ($1, $2) AND updated_at < $3")
                .bind(JobStatus::Done.as_str())
                .bind(JobStatus::Failed.as_str())
                .bind(before),
        )
        .await?;
    Ok(deleted.rows_affected())
}
