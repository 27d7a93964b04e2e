use sqlx::AnyConnection;

use super::model::{ExecutionRow, EXECUTION_COLUMNS};
use super::run::RunOutcome;
use crate::db::{now_ms, Db};
use crate::wallet::ledger::Settlement;

pub struct NewExecution<'a> {
    pub id: &'a str,
    pub buyer_id: &'a str,
    pub agent_id: &'a str,
    pub runtime: &'a str,
    pub component_id: Option<&'a str>,
    pub task_id: Option<&'a str>,
    pub input: &'a str,
    pub budget_cents: i64,
    pub hold_id: Option<&'a str>,
}

pub async fn insert(conn: &mut AnyConnection, e: &NewExecution<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO executions (id, buyer_id, agent_id, runtime, component_id, task_id, input, status, budget_cents, \
         hold_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9, $10)",
    )
    .bind(e.id)
    .bind(e.buyer_id)
    .bind(e.agent_id)
    .bind(e.runtime)
    .bind(e.component_id)
    .bind(e.task_id)
    .bind(e.input)
    .bind(e.budget_cents)
    .bind(e.hold_id)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records how a run ended and what it cost.
pub async fn finish(
    conn: &mut AnyConnection,
    id: &str,
    outcome: &RunOutcome,
    money: &Settlement,
    price_cents: i64,
) -> Result<(), sqlx::Error> {
    let (status, result, code, message) = match &outcome.result {
        Ok(out) => ("succeeded", Some(out.as_str()), None, None),
        Err(e) => ("failed", None, Some(e.code), Some(e.message.as_str())),
    };
    sqlx::query(
        "UPDATE executions SET status = $1, result = $2, error_code = $3, error_message = $4, fuel = $5, wall_ms = $6, \
         memory_bytes = $7, logs = $8, stdout = $9, stderr = $10, price_cents = $11, fee_cents = $12, \
         compute_cents = $13, refunded_cents = $14, finished_at = $15 WHERE id = $16",
    )
    .bind(status)
    .bind(result)
    .bind(code)
    .bind(message)
    .bind(outcome.fuel)
    .bind(outcome.wall_ms)
    .bind(outcome.memory_bytes)
    .bind(serde_json::to_string(&outcome.logs).unwrap_or_else(|_| "[]".into()))
    .bind(&outcome.stdout)
    .bind(&outcome.stderr)
    .bind(if outcome.result.is_ok() { price_cents } else { 0 })
    .bind(money.fee)
    .bind(money.compute)
    .bind(money.refunded)
    .bind(now_ms())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<ExecutionRow>, sqlx::Error> {
    sqlx::query_as::<_, ExecutionRow>(&format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

/// Executions still `running` long after any run could have ended: their host died mid-run.
pub async fn interrupted(db: &Db, older_than_ms: i64) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT id, hold_id FROM executions WHERE status = 'running' AND created_at < $1 LIMIT 100")
        .bind(now_ms() - older_than_ms)
        .fetch_all(&db.read)
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
