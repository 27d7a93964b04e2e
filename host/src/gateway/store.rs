//! The gateway's usage rows, meters and budget periods.

use serde_json::Value;

use super::metering::{Payer, Served};
use super::model::{Mode, RequestType};
use crate::db::{now_ms, Conn, Db};

#[allow(clippy::too_many_arguments)]
pub async fn insert_reserved(
    c: &mut Conn,
    id: &str,
    payer: &Payer,
    request_type: RequestType,
    tier: Mode,
    reserved_micros: i64,
    hold_id: Option<&str>,
    metadata: &Value,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO gateway_usage (id, agent_id, api_key_id, workspace_id, status, request_type, tier, \
         reserved_micros, hold_id, metadata, created_at) VALUES ($1, $2, $3, $4, 'reserved', $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(&payer.agent_id)
    .bind(&payer.key_id)
    .bind(&payer.workspace_id)
    .bind(request_type.as_str())
    .bind(tier.as_str())
    .bind(reserved_micros)
    .bind(hold_id)
    .bind(metadata.to_string())
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

/// Marks a usage row as made by a run (a model call paid from its budget).
pub async fn bind_execution(c: &mut Conn, id: &str, execution_id: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE gateway_usage SET execution_id = $1 WHERE id = $2")
        .bind(execution_id)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

/// Completes a reserved usage row; false when it is no longer reserved.
pub async fn complete_usage(c: &mut Conn, id: &str, s: &Served, latency_ms: i64) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "UPDATE gateway_usage SET status = 'settled', provider = $1, upstream_model = $2, routing_method = $3, \
         execution_source = $4, input_tokens = $5, output_tokens = $6, cost_micros = $7, charged_micros = $8, \
         baseline_micros = $9, cache_hit = $10, attempts = $11, latency_ms = $12, settled_at = $13, \
         billing_mode = $14, units = $15 WHERE id = $16 AND status = 'reserved'",
    )
    .bind(&s.provider)
    .bind(&s.upstream_model)
    .bind(&s.routing_method)
    .bind(s.source)
    .bind(s.tokens.input)
    .bind(s.tokens.output)
    .bind(s.cost_micros)
    .bind(s.charged_micros)
    .bind(s.baseline_micros)
    .bind(i64::from(s.source == "cache"))
    .bind(s.attempts.to_string())
    .bind(latency_ms)
    .bind(now_ms())
    .bind(if s.billing_mode.is_empty() { "managed" } else { s.billing_mode })
    .bind(s.units)
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn fail_usage(
    c: &mut Conn,
    id: &str,
    code: &str,
    attempts: &Value,
    latency_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "UPDATE gateway_usage SET status = 'failed', error_code = $1, attempts = $2, latency_ms = $3, settled_at = $4 \
         WHERE id = $5 AND status = 'reserved'",
    )
    .bind(code)
    .bind(attempts.to_string())
    .bind(latency_ms)
    .bind(now_ms())
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds `micros` to the account's meter; returns the new total.
pub async fn add_to_meter(c: &mut Conn, agent_id: &str, micros: i64) -> Result<i64, sqlx::Error> {
    crate::db::query("INSERT INTO gateway_meters (agent_id, total_micros) VALUES ($1, 0) ON CONFLICT DO NOTHING")
        .bind(agent_id)
        .execute(&mut *c)
        .await?;
    let row = crate::db::query(
        "UPDATE gateway_meters SET total_micros = total_micros + $1 WHERE agent_id = $2 RETURNING total_micros",
    )
    .bind(micros)
    .bind(agent_id)
    .fetch_one(c)
    .await?;
    Ok(row.get("total_micros"))
}

/// What the account has been charged, in micro-USD, ever.
pub async fn meter_total(db: &Db, agent_id: &str) -> Result<i64, sqlx::Error> {
    let row = crate::db::query("SELECT total_micros FROM gateway_meters WHERE agent_id = $1")
        .bind(agent_id)
        .fetch_optional(&db.read)
        .await?;
    Ok(row.map_or(0, |r| r.get("total_micros")))
}

/// Reserves `micros` of the workspace's month; the budget when that would pass it (nothing
/// is reserved then).
pub async fn reserve_budget(
    c: &mut Conn,
    workspace: &str,
    month: &str,
    micros: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let budget: Option<i64> = crate::db::query("SELECT monthly_budget_micros FROM gateway_workspaces WHERE id = $1")
        .bind(workspace)
        .fetch_one(&mut *c)
        .await?
        .get("monthly_budget_micros");
    crate::db::query("INSERT INTO gateway_budget_periods (workspace_id, month) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(workspace)
        .bind(month)
        .execute(&mut *c)
        .await?;
    let reserved = crate::db::query(
        "UPDATE gateway_budget_periods SET reserved_micros = reserved_micros + $1 \
         WHERE workspace_id = $2 AND month = $3 AND spent_micros + reserved_micros + $1 <= $4",
    )
    .bind(micros)
    .bind(workspace)
    .bind(month)
    .bind(budget.unwrap_or(i64::MAX / 4))
    .execute(c)
    .await?;
    Ok((reserved.rows_affected() == 0).then(|| budget.unwrap_or(0)))
}

pub async fn settle_budget(
    c: &mut Conn,
    workspace: &str,
    month: &str,
    reserved: i64,
    spent: i64,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "UPDATE gateway_budget_periods SET reserved_micros = reserved_micros - $1, spent_micros = spent_micros + $2 \
         WHERE workspace_id = $3 AND month = $4",
    )
    .bind(reserved)
    .bind(spent)
    .bind(workspace)
    .bind(month)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn workspace_slug(c: &mut Conn, workspace: &str) -> Result<String, sqlx::Error> {
    let row =
        crate::db::query("SELECT slug FROM gateway_workspaces WHERE id = $1").bind(workspace).fetch_one(c).await?;
    Ok(row.get("slug"))
}

/// Marks a runtime key used, at most once a minute.
pub async fn touch_key(c: &mut Conn, key_id: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    crate::db::query(
        "UPDATE gateway_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(key_id)
    .bind(now - 60_000)
    .execute(c)
    .await?;
    Ok(())
}

crate::row_struct! {
    pub struct StaleReservation {
        pub id: String,
        pub agent_id: String,
        pub workspace_id: Option<String>,
        pub hold_id: String,
        pub reserved_micros: i64,
        pub created_at: i64,
    }
}

pub async fn stale_reservations(db: &Db, before: i64) -> Result<Vec<StaleReservation>, sqlx::Error> {
    crate::db::query_as::<StaleReservation>(
        "SELECT id, agent_id, workspace_id, hold_id, reserved_micros, created_at FROM gateway_usage \
         WHERE status = 'reserved' AND created_at < $1 AND hold_id IS NOT NULL ORDER BY created_at LIMIT 100",
    )
    .bind(before)
    .fetch_all(&db.read)
    .await
}

/// Deletes an account's provider key or local endpoint (`table`), clearing its sealed secret
/// (`clear`, an assignment); false when the account has no such live row.
pub async fn delete_owned(
    db: &Db,
    table: &'static str,
    clear: &'static str,
    agent_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let sql =
        format!("UPDATE {table} SET deleted_at = $1, {clear} WHERE id = $2 AND agent_id = $3 AND deleted_at IS NULL");
    let done = db.execute(crate::db::query(&sql).bind(now_ms()).bind(id).bind(agent_id)).await?;
    Ok(done.rows_affected() == 1)
}
