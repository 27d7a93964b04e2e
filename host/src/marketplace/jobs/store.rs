use super::model::{JobRow, JobStatus, JOB_SELECT};
use crate::db::page::Page;
use crate::db::sql::{update_if, Arg, Changes, SqlBuf};
use crate::db::{now_ms, Conn, Db};

pub struct NewJob<'a> {
    pub id: &'a str,
    pub service_id: &'a str,
    pub service_title: &'a str,
    pub tier_name: &'a str,
    pub delivery_days: i64,
    pub buyer_id: &'a str,
    pub worker_id: &'a str,
    pub input: &'a str,
    pub price_cents: i64,
    pub status: JobStatus,
    pub fulfilment: &'a str,
    pub hold_id: Option<&'a str>,
    pub subscription_id: Option<&'a str>,
}

pub async fn insert(c: &mut Conn, j: &NewJob<'_>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    crate::db::query(
        "INSERT INTO jobs (id, service_id, service_title, tier_name, delivery_days, buyer_id, worker_id, input, \
         price_cents, status, fulfilment, hold_id, subscription_id, created_at, updated_at, accepted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)",
    )
    .bind(j.id)
    .bind(j.service_id)
    .bind(j.service_title)
    .bind(j.tier_name)
    .bind(j.delivery_days)
    .bind(j.buyer_id)
    .bind(j.worker_id)
    .bind(j.input)
    .bind(j.price_cents)
    .bind(j.status.as_str())
    .bind(j.fulfilment)
    .bind(j.hold_id)
    .bind(j.subscription_id)
    .bind(now)
    // A job the worker's component takes is accepted as it is created.
    .bind((j.status == JobStatus::InProgress).then_some(now))
    .execute(c)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
    crate::db::query_as::<JobRow>(&format!("{JOB_SELECT} WHERE j.id = $1")).bind(id).fetch_optional(&db.read).await
}

pub async fn get_in(c: &mut Conn, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
    crate::db::query_as::<JobRow>(&format!("{JOB_SELECT} WHERE j.id = $1")).bind(id).fetch_optional(c).await
}

/// Moves the job to `to` if it is in one of `from`; false when it was not (any more).
pub async fn transition(
    c: &mut Conn,
    id: &str,
    from: &[JobStatus],
    to: JobStatus,
    change: &Changes,
) -> Result<bool, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    update_if(c, "jobs", id, &from, Some(to.as_str()), None, change).await
}

/// Delivered jobs whose buyer let the review period pass: delivered before `before_ms`.
pub async fn delivered_before(db: &Db, before_ms: i64, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows = crate::db::query("SELECT id FROM jobs WHERE status = $1 AND delivered_at < $2 LIMIT $3")
        .bind(JobStatus::Delivered.as_str())
        .bind(before_ms)
        .bind(limit)
        .fetch_all(&db.read)
        .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

/// One page of an agent's jobs (as buyer, worker or either; everyone's when `agent_id` is
/// `None`), newest first, with one row more than the page's limit; and the total.
pub async fn list(
    db: &Db,
    agent_id: Option<&str>,
    role: Option<&str>,
    status: Option<JobStatus>,
    page: &Page,
) -> Result<(Vec<JobRow>, i64), sqlx::Error> {
    let mut q = SqlBuf::new("");
    let mut filters = vec!["1 = 1".to_string()];
    if let Some(agent_id) = agent_id {
        let me = q.arg(Arg::Text(agent_id.into()));
        filters.push(match role {
            Some("buyer") => format!("j.buyer_id = {me}"),
            Some("worker") => format!("j.worker_id = {me}"),
            _ => format!("(j.buyer_id = {me} OR j.worker_id = {me})"),
        });
    }
    if let Some(status) = status {
        filters.push(format!("j.status = {}", q.arg(Arg::Text(status.as_str().into()))));
    }
    let where_sql = filters.join(" AND ");
    let mut count = q.clone();
    count.sql = format!("SELECT COUNT(*) AS n FROM jobs j WHERE {where_sql}");
    let total: i64 = count.query().fetch_one(&db.read).await?.get("n");
    let after = page.after_sql(&mut q, "j");
    let (pl, po) = (q.arg(Arg::Int(page.limit + 1)), q.arg(Arg::Int(page.offset)));
    q.sql =
        format!("{JOB_SELECT} WHERE {where_sql}{after} ORDER BY j.created_at DESC, j.id DESC LIMIT {pl} OFFSET {po}");
    let rows = q
        .query()
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(<JobRow as crate::db::FromRow>::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}
