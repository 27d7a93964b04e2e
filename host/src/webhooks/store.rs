//! SQL of webhooks: secrets, deliveries and their attempts.

use crate::db::Conn;

use super::model::{AttemptRow, DeliveryRow, DeliveryStatus, Endpoint, DELIVERY_COLUMNS};
use crate::db::page::Page;
use crate::db::sql::{placeholders, Arg, SqlBuf};
use crate::db::{new_id, now_ms, Backend, Db};

/// The agent's signing secrets, if it has any.
pub async fn secrets(db: &Db, agent_id: &str) -> Result<Option<Endpoint>, sqlx::Error> {
    let row = crate::db::query(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_secrets WHERE agent_id = $1"))
        .bind(agent_id)
        .fetch_optional(&db.read)
        .await?;
    Ok(row.map(|r| secrets_of(&r)))
}

const ENDPOINT_COLUMNS: &str = "secret, previous_secret, previous_until, failing_since, disabled_at";

fn secrets_of(row: &crate::db::Row) -> Endpoint {
    let previous_until: Option<i64> = row.get("previous_until");
    Endpoint {
        current: row.get("secret"),
        previous: row
            .get::<Option<String>, _>("previous_secret")
            .filter(|_| previous_until.is_some_and(|t| t > now_ms())),
        failing_since: row.get("failing_since"),
        disabled_at: row.get("disabled_at"),
    }
}

/// Records the endpoint's health after an attempt: a success clears `failing_since`; a failure
/// sets it if unset, and disables the endpoint once it is older than `disable_after_ms`. True
/// if this call disabled it.
pub async fn record_health(
    c: &mut Conn,
    agent_id: &str,
    succeeded: bool,
    disable_after_ms: i64,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    if succeeded {
        crate::db::query(
            "UPDATE webhook_secrets SET failing_since = NULL WHERE agent_id = $1 AND failing_since IS NOT NULL",
        )
        .bind(agent_id)
        .execute(c)
        .await?;
        return Ok(false);
    }
    crate::db::query("UPDATE webhook_secrets SET failing_since = $1 WHERE agent_id = $2 AND failing_since IS NULL")
        .bind(now)
        .bind(agent_id)
        .execute(&mut *c)
        .await?;
    let disabled = crate::db::query(
        "UPDATE webhook_secrets SET disabled_at = $1 WHERE agent_id = $2 AND disabled_at IS NULL AND failing_since <= $3",
    )
    .bind(now)
    .bind(agent_id)
    .bind(now - disable_after_ms)
    .execute(c)
    .await?;
    Ok(disabled.rows_affected() == 1)
}

/// Enables the endpoint again with a clean record (its URL was set again).
pub async fn enable(c: &mut Conn, agent_id: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE webhook_secrets SET failing_since = NULL, disabled_at = NULL WHERE agent_id = $1")
        .bind(agent_id)
        .execute(c)
        .await?;
    Ok(())
}

/// The agent's signing secrets, creating its first one (`fresh`) if it has none.
pub async fn ensure_secrets(c: &mut Conn, agent_id: &str, fresh: &str) -> Result<Endpoint, sqlx::Error> {
    let now = now_ms();
    crate::db::query(
        "INSERT INTO webhook_secrets (agent_id, secret, created_at, rotated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (agent_id) DO NOTHING",
    )
    .bind(agent_id)
    .bind(fresh)
    .bind(now)
    .execute(&mut *c)
    .await?;
    let row = crate::db::query(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_secrets WHERE agent_id = $1"))
        .bind(agent_id)
        .fetch_one(&mut *c)
        .await?;
    Ok(secrets_of(&row))
}

/// Makes `fresh` the current secret; the current one stays valid until `previous_until`.
pub async fn rotate(c: &mut Conn, agent_id: &str, fresh: &str, previous_until: i64) -> Result<(), sqlx::Error> {
    crate::db::query(
        "UPDATE webhook_secrets SET previous_secret = secret, previous_until = $1, secret = $2, rotated_at = $3 \
         WHERE agent_id = $4",
    )
    .bind(previous_until)
    .bind(fresh)
    .bind(now_ms())
    .bind(agent_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Adds a pending delivery of the event if its agent has a webhook URL; true if added. A `due`
/// delivery is sent by the dispatcher from now on; one that is not is sent by its caller.
pub async fn insert_delivery(
    c: &mut Conn,
    id: &str,
    event_id: &str,
    agent_id: &str,
    event_type: &str,
    due: bool,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let added = crate::db::query(
        "INSERT INTO webhook_deliveries (id, event_id, agent_id, event_type, status, attempts, next_attempt_at, \
         created_at, updated_at) SELECT $1, $2, id, $3, $4, 0, $5, $6, $6 FROM agents WHERE id = $7 AND webhook_url IS NOT NULL",
    )
    .bind(id)
    .bind(event_id)
    .bind(event_type)
    .bind(DeliveryStatus::Pending.as_str())
    .bind(due.then_some(now))
    .bind(now)
    .bind(agent_id)
    .execute(c)
    .await?;
    Ok(added.rows_affected() == 1)
}

/// Leases up to `limit` due deliveries to `owner` until `lease_until`, oldest due first, including
/// ones whose lease ran out (their host died); their ids.
pub async fn claim_due(
    c: &mut Conn,
    backend: Backend,
    owner: &str,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 WHERE id IN (SELECT id FROM webhook_deliveries \
         WHERE status = $3 AND next_attempt_at <= $4 AND (lease_until IS NULL OR lease_until < $4) \
         ORDER BY next_attempt_at LIMIT $5{}) RETURNING id",
        if backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" },
    );
    crate::db::query_scalar(&sql)
        .bind(owner)
        .bind(lease_until)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now_ms())
        .bind(limit)
        .fetch_all(c)
        .await
}

/// When the next pending delivery can be claimed (its time, or the end of a lease on it), if
/// any is pending.
pub async fn next_claimable(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar(
        "SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) \
         FROM webhook_deliveries WHERE status = $1 AND next_attempt_at IS NOT NULL",
    )
    .bind(DeliveryStatus::Pending.as_str())
    .fetch_one(&db.read)
    .await
}

/// Gives back the deliveries `owner` holds: an earlier run of this host died holding them.
pub async fn release_held_by(c: &mut Conn, owner: &str) -> Result<u64, sqlx::Error> {
    let released =
        crate::db::query("UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
            .bind(owner)
            .execute(c)
            .await?;
    Ok(released.rows_affected())
}

/// A delivery with what sending it needs: its agent's current URL and signing secrets.
pub struct Outgoing {
    pub delivery: DeliveryRow,
    pub url: Option<String>,
    pub endpoint: Option<Endpoint>,
}

/// The deliveries `ids` with their agents' URLs and secrets, in one read.
pub async fn for_sending(db: &Db, ids: &[String]) -> Result<Vec<Outgoing>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS}, a.webhook_url, s.{} FROM webhook_deliveries d JOIN events e ON e.id = d.event_id \
         JOIN agents a ON a.id = d.agent_id LEFT JOIN webhook_secrets s ON s.agent_id = d.agent_id WHERE d.id IN ({})",
        ENDPOINT_COLUMNS.replace(", ", ", s."),
        placeholders(1, ids.len()),
    );
    let mut query = crate::db::query(&sql);
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(&db.read).await?;
    rows.iter()
        .map(|row| {
            let secret: Option<String> = row.get("secret");
            Ok(Outgoing {
                delivery: crate::db::FromRow::from_row(row)?,
                url: row.get("webhook_url"),
                endpoint: secret.map(|_| secrets_of(row)),
            })
        })
        .collect()
}

pub struct Attempt<'a> {
    pub delivery_id: &'a str,
    pub url: &'a str,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    pub response_excerpt: Option<&'a str>,
}

/// What an attempt leaves a delivery as.
pub struct Outcome<'a> {
    pub status: DeliveryStatus,
    /// When a delivery left pending is tried again.
    pub next_attempt_at: Option<i64>,
    /// The dispatcher's name when it holds the delivery: the delivery changes only while it
    /// still does.
    pub owner: Option<&'a str>,
}

/// Records an attempt and what it leaves the delivery as; false if the delivery was no longer
/// `owner`'s (then only the attempt is recorded).
pub async fn record_attempt(c: &mut Conn, a: &Attempt<'_>, outcome: &Outcome<'_>) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    crate::db::query(
        "INSERT INTO webhook_attempts (id, delivery_id, url, status_code, latency_ms, error, response_excerpt, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(a.delivery_id)
    .bind(a.url)
    .bind(a.status_code)
    .bind(a.latency_ms)
    .bind(a.error)
    .bind(a.response_excerpt)
    .bind(now)
    .execute(&mut *c)
    .await?;
    let held = if outcome.owner.is_some() { " AND lease_owner = $7" } else { "" };
    let sql = format!(
        "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_status_code = $2, last_error = $3, \
         next_attempt_at = $4, lease_owner = NULL, lease_until = NULL, updated_at = $5 WHERE id = $6{held}"
    );
    let mut query = crate::db::query(&sql)
        .bind(outcome.status.as_str())
        .bind(a.status_code)
        .bind(a.error)
        .bind(outcome.next_attempt_at)
        .bind(now)
        .bind(a.delivery_id);
    if let Some(owner) = outcome.owner {
        query = query.bind(owner);
    }
    Ok(query.execute(c).await?.rows_affected() == 1)
}

/// Marks a delivery `owner` holds failed without an attempt (nowhere to send it).
pub async fn give_up(c: &mut Conn, id: &str, owner: &str, error: &str) -> Result<(), sqlx::Error> {
    crate::db::query(
        "UPDATE webhook_deliveries SET status = $1, last_error = $2, next_attempt_at = NULL, lease_owner = NULL, \
         lease_until = NULL, updated_at = $3 WHERE id = $4 AND lease_owner = $5",
    )
    .bind(DeliveryStatus::Failed.as_str())
    .bind(error)
    .bind(now_ms())
    .bind(id)
    .bind(owner)
    .execute(c)
    .await?;
    Ok(())
}

/// Makes the agent's delivery pending again; false if it has no such delivery.
pub async fn reopen(c: &mut Conn, agent_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "UPDATE webhook_deliveries SET status = $1, attempts = 0, next_attempt_at = $2, lease_owner = NULL, \
         lease_until = NULL, updated_at = $2 WHERE id = $3 AND agent_id = $4",
    )
    .bind(DeliveryStatus::Pending.as_str())
    .bind(now_ms())
    .bind(id)
    .bind(agent_id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(db: &Db, agent_id: &str, id: &str) -> Result<Option<DeliveryRow>, sqlx::Error> {
    crate::db::query_as::<DeliveryRow>(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN events e ON e.id = d.event_id \
         WHERE d.id = $1 AND d.agent_id = $2"
    ))
    .bind(id)
    .bind(agent_id)
    .fetch_optional(&db.read)
    .await
}

pub async fn attempts(db: &Db, delivery_id: &str) -> Result<Vec<AttemptRow>, sqlx::Error> {
    crate::db::query_as::<AttemptRow>(
        "SELECT url, status_code, latency_ms, error, response_excerpt, created_at FROM webhook_attempts \
         WHERE delivery_id = $1 ORDER BY created_at, id",
    )
    .bind(delivery_id)
    .fetch_all(&db.read)
    .await
}

/// The agent's deliveries, newest first, optionally of one status and one event type.
pub async fn list(
    db: &Db,
    agent_id: &str,
    status: Option<DeliveryStatus>,
    event: Option<&str>,
    page: &Page,
) -> Result<(Vec<DeliveryRow>, i64), sqlx::Error> {
    let mut filter = SqlBuf::new("");
    let agent = filter.arg(Arg::Text(agent_id.into()));
    let mut conditions = vec![format!("d.agent_id = {agent}")];
    if let Some(status) = status {
        conditions.push(format!("d.status = {}", filter.arg(Arg::Text(status.as_str().into()))));
    }
    if let Some(event) = event {
        conditions.push(format!("d.event_type = {}", filter.arg(Arg::Text(event.into()))));
    }
    let clause = conditions.join(" AND ");
    let mut count = filter.clone();
    count.push(&format!("SELECT COUNT(*) AS n FROM webhook_deliveries d WHERE {clause}"));
    let total: i64 = count.query().fetch_one(&db.read).await?.get("n");
    let mut rows = filter;
    let (limit, offset) = (rows.arg(Arg::Int(page.limit + 1)), rows.arg(Arg::Int(page.offset)));
    rows.push(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE {clause} \
         ORDER BY d.created_at DESC, d.id DESC LIMIT {limit} OFFSET {offset}"
    ));
    let found = rows.query().fetch_all(&db.read).await?;
    let rows = found.iter().map(crate::db::FromRow::from_row).collect::<Result<Vec<DeliveryRow>, _>>()?;
    Ok((rows, total))
}
