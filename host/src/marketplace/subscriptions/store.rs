use super::model::{RunRow, RunStatus, SubscriptionRow, SubscriptionStatus, RUN_COLUMNS, SUBSCRIPTION_SELECT};
use crate::db::page::Page;
use crate::db::sql::{update_if, Arg, Changes, SqlBuf};
use crate::db::{new_id, now_ms, Conn, Db};

pub struct NewSubscription<'a> {
    pub id: &'a str,
    pub service_id: &'a str,
    pub buyer_id: &'a str,
    pub provider_id: &'a str,
    pub price_cents: i64,
    pub run_interval_hours: i64,
    pub input: &'a str,
}

/// Records an ACTIVE subscription with no period yet (`open_period` starts one).
pub async fn insert(c: &mut Conn, s: &NewSubscription<'_>) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO subscriptions (id, service_id, buyer_id, provider_id, price_cents, run_interval_hours, input, \
         status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(s.id)
    .bind(s.service_id)
    .bind(s.buyer_id)
    .bind(s.provider_id)
    .bind(s.price_cents)
    .bind(s.run_interval_hours)
    .bind(s.input)
    .bind(SubscriptionStatus::Active.as_str())
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    crate::db::query_as::<SubscriptionRow>(&format!("{SUBSCRIPTION_SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

pub async fn get_in(c: &mut Conn, id: &str) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    crate::db::query_as::<SubscriptionRow>(&format!("{SUBSCRIPTION_SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await
}

/// Applies `changes` if the subscription is in `from` (and, when given, still holds `hold_id`):
/// false when it was not (any more).
pub async fn update(
    c: &mut Conn,
    id: &str,
    from: &[SubscriptionStatus],
    hold_id: Option<&str>,
    changes: &Changes,
) -> Result<bool, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    update_if(c, "subscriptions", id, &from, None, hold_id.map(|h| ("hold_id", h)), changes).await
}

/// One page of the agent's subscriptions (as buyer or provider), newest first, with one row
/// more than the page's limit; and the total.
pub async fn list(
    db: &Db,
    agent_id: &str,
    as_provider: bool,
    status: Option<SubscriptionStatus>,
    page: &Page,
) -> Result<(Vec<SubscriptionRow>, i64), sqlx::Error> {
    let mut q = SqlBuf::new("");
    let me = q.arg(Arg::Text(agent_id.into()));
    let mut filters = vec![if as_provider { format!("s.provider_id = {me}") } else { format!("s.buyer_id = {me}") }];
    if let Some(status) = status {
        filters.push(format!("s.status = {}", q.arg(Arg::Text(status.as_str().into()))));
    }
    let where_sql = filters.join(" AND ");
    let mut count = q.clone();
    count.sql = format!("SELECT COUNT(*) AS n FROM subscriptions s WHERE {where_sql}");
    let total: i64 = count.query().fetch_one(&db.read).await?.get("n");
    let after = page.after_sql(&mut q, "s");
    let (pl, po) = (q.arg(Arg::Int(page.limit + 1)), q.arg(Arg::Int(page.offset)));
    q.sql = format!(
        "{SUBSCRIPTION_SELECT} WHERE {where_sql}{after} ORDER BY s.created_at DESC, s.id DESC LIMIT {pl} OFFSET {po}"
    );
    let rows = q.query().fetch_all(&db.read).await?;
    let rows = rows.iter().map(<SubscriptionRow as crate::db::FromRow>::from_row).collect::<Result<_, _>>()?;
    Ok((rows, total))
}

/// ACTIVE subscriptions whose `column` (`next_run_at`, `next_billing_at`) is due.
pub async fn due(db: &Db, column: &str, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows = crate::db::query(&format!("SELECT id FROM subscriptions WHERE status = $1 AND {column} <= $2 LIMIT $3"))
        .bind(SubscriptionStatus::Active.as_str())
        .bind(now_ms())
        .bind(limit)
        .fetch_all(&db.read)
        .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

/// Records a run scheduled at `scheduled_at` as started; `None` if that run exists already.
pub async fn start_run(c: &mut Conn, subscription_id: &str, scheduled_at: i64) -> Result<Option<String>, sqlx::Error> {
    let id = new_id();
    let inserted = crate::db::query(
        "INSERT INTO subscription_runs (id, subscription_id, status, scheduled_at, started_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subscription_id, scheduled_at) DO NOTHING",
    )
    .bind(&id)
    .bind(subscription_id)
    .bind(RunStatus::Running.as_str())
    .bind(scheduled_at)
    .bind(now_ms())
    .execute(c)
    .await?
    .rows_affected();
    Ok((inserted == 1).then_some(id))
}

/// How a run ended.
pub struct RunEnd<'a> {
    pub status: RunStatus,
    pub output: Option<&'a str>,
    pub error: Option<&'a str>,
    pub execution_id: Option<&'a str>,
    pub job_id: Option<&'a str>,
}

pub async fn finish_run(c: &mut Conn, id: &str, end: &RunEnd<'_>) -> Result<(), sqlx::Error> {
    crate::db::query(
        "UPDATE subscription_runs SET status = $1, output = $2, error = $3, execution_id = $4, job_id = $5, \
         completed_at = $6 WHERE id = $7",
    )
    .bind(end.status.as_str())
    .bind(end.output)
    .bind(end.error)
    .bind(end.execution_id)
    .bind(end.job_id)
    .bind(now_ms())
    .bind(id)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn recent_runs(db: &Db, subscription_id: &str, limit: i64) -> Result<Vec<RunRow>, sqlx::Error> {
    crate::db::query_as::<RunRow>(&format!(
        "SELECT {RUN_COLUMNS} FROM subscription_runs WHERE subscription_id = $1 ORDER BY scheduled_at DESC LIMIT $2"
    ))
    .bind(subscription_id)
    .bind(limit)
    .fetch_all(&db.read)
    .await
}
