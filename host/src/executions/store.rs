use crate::db::Conn;

use super::model::{clip, ExecutionRow, ExecutionStatus, EXECUTION_COLUMNS};
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
    pub parent_id: Option<&'a str>,
    pub skill_id: Option<&'a str>,
}

/// Records a run as started, keeping at most `record_bytes` of its input.
pub async fn insert(conn: &mut Conn, e: &NewExecution<'_>, record_bytes: usize) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO executions (id, buyer_id, agent_id, runtime, component_id, task_id, input, input_bytes, status, \
         budget_cents, hold_id, created_at, parent_id, skill_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(e.id)
    .bind(e.buyer_id)
    .bind(e.agent_id)
    .bind(e.runtime)
    .bind(e.component_id)
    .bind(e.task_id)
    .bind(clip(e.input, record_bytes))
    .bind(e.input.len() as i64)
    .bind(ExecutionStatus::Running.as_str())
    .bind(e.budget_cents)
    .bind(e.hold_id)
    .bind(now_ms())
    .bind(e.parent_id)
    .bind(e.skill_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records how a run ended and what it cost, keeping at most `record_bytes` of its result.
pub async fn finish(
    conn: &mut Conn,
    id: &str,
    outcome: &RunOutcome,
    money: &Settlement,
    price_cents: i64,
    record_bytes: usize,
) -> Result<(), sqlx::Error> {
    let (status, result, code, message) = match &outcome.result {
        Ok(out) => (ExecutionStatus::Succeeded, Some(out.as_str()), None, None),
        Err(e) => (ExecutionStatus::Failed, None, Some(e.code), Some(e.message.as_str())),
    };
    crate::db::query(
        "UPDATE executions SET status = $1, result = $2, result_bytes = $3, error_code = $4, error_message = $5, \
         fuel = $6, wall_ms = $7, memory_bytes = $8, logs = $9, stdout = $10, stderr = $11, price_cents = $12, \
         fee_cents = $13, compute_cents = $14, refunded_cents = $15, finished_at = $16 WHERE id = $17",
    )
    .bind(status.as_str())
    .bind(result.map(|r| clip(r, record_bytes)))
    .bind(result.map_or(0, |r| r.len() as i64))
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
    crate::db::query_as::<ExecutionRow>(&format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

/// Executions still running long after any run could have ended: their host died mid-run.
pub async fn interrupted(db: &Db, older_than_ms: i64) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let rows = crate::db::query("SELECT id, hold_id FROM executions WHERE status = $1 AND created_at < $2 LIMIT 100")
        .bind(ExecutionStatus::Running.as_str())
        .bind(now_ms() - older_than_ms)
        .fetch_all(&db.read)
        .await?;
    Ok(rows.iter().map(|r| (r.get("id"), r.get("hold_id"))).collect())
}

/// Marks an interrupted execution failed; false if it was not running any more.
pub async fn mark_interrupted(conn: &mut Conn, id: &str) -> Result<bool, sqlx::Error> {
    Ok(crate::db::query(
        "UPDATE executions SET status = $1, error_code = 'interrupted', \
         error_message = 'the host stopped during the run; the budget was released', \
         refunded_cents = budget_cents, finished_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(ExecutionStatus::Failed.as_str())
    .bind(now_ms())
    .bind(id)
    .bind(ExecutionStatus::Running.as_str())
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Deletes records of executions that finished before `before_ms`; returns how many.
pub async fn delete_finished_before(db: &Db, before_ms: i64) -> Result<u64, sqlx::Error> {
    Ok(db
        .execute(
            crate::db::query("DELETE FROM executions WHERE finished_at IS NOT NULL AND finished_at < $1")
                .bind(before_ms),
        )
        .await?
        .rows_affected())
}

/// The runs made from inside any of `parent_ids`, oldest first.
pub async fn children_of(db: &Db, parent_ids: &[String]) -> Result<Vec<ExecutionRow>, sqlx::Error> {
    if parent_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = crate::db::sql::SqlBuf::new("");
    let ids: Vec<String> = parent_ids.iter().map(|id| q.arg(crate::db::sql::Arg::Text(id.clone()))).collect();
    q.sql = format!(
        "SELECT {EXECUTION_COLUMNS} FROM executions WHERE parent_id IN ({}) ORDER BY created_at, id LIMIT 1000",
        ids.join(", ")
    );
    q.query().fetch_all(&db.read).await?.iter().map(<ExecutionRow as crate::db::FromRow>::from_row).collect()
}
