use crate::db::Conn;

use super::model::{TaskRow, TaskStatus, TASK_COLUMNS};
use crate::db::sql::{insert_labels, placeholders, Arg, SqlBuf};
use crate::db::{now_ms, Db};

pub struct NewTask<'a> {
    pub id: &'a str,
    pub poster_id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub budget_cents: i64,
    pub capabilities: &'a [String],
    pub hold_id: &'a str,
}

/// Inserts the task; the row as written.
pub async fn insert(conn: &mut Conn, t: &NewTask<'_>) -> Result<TaskRow, sqlx::Error> {
    let now = now_ms();
    let capabilities = serde_json::to_string(t.capabilities).unwrap_or_default();
    crate::db::query(
        "INSERT INTO tasks (id, poster_id, title, description, budget_cents, required_capabilities, status, hold_id, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(t.id)
    .bind(t.poster_id)
    .bind(t.title)
    .bind(t.description)
    .bind(t.budget_cents)
    .bind(&capabilities)
    .bind(TaskStatus::Open.as_str())
    .bind(t.hold_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    insert_labels(conn, "task_capabilities", "task_id, capability", t.id, t.capabilities).await?;
    Ok(TaskRow {
        id: t.id.to_string(),
        poster_id: t.poster_id.to_string(),
        title: t.title.to_string(),
        description: t.description.to_string(),
        budget_cents: t.budget_cents,
        required_capabilities: capabilities,
        status: TaskStatus::Open.as_str().to_string(),
        assigned_to: None,
        result: None,
        hold_id: t.hold_id.to_string(),
        execution_id: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
    })
}

/// The task, read in the caller's transaction.
pub async fn get_in(conn: &mut Conn, id: &str) -> Result<Option<TaskRow>, sqlx::Error> {
    crate::db::query_as::<TaskRow>(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn get(db: &Db, id: &str) -> Result<Option<TaskRow>, sqlx::Error> {
    crate::db::query_as::<TaskRow>(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

/// Moves the task from one status to another; false if it was not in `from` any more.
pub async fn transition(
    conn: &mut Conn,
    id: &str,
    from: TaskStatus,
    to: TaskStatus,
    assigned_to: Option<&str>,
    result: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = crate::db::query(
        "UPDATE tasks SET status = $1, assigned_to = COALESCE($2, assigned_to), result = COALESCE($3, result), \
         updated_at = $4, completed_at = CASE WHEN $7 = 1 THEN $4 ELSE completed_at END \
         WHERE id = $5 AND status = $6",
    )
    .bind(to.as_str())
    .bind(assigned_to)
    .bind(result)
    .bind(now)
    .bind(id)
    .bind(from.as_str())
    .bind(i64::from(to.is_final()))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_execution(conn: &mut Conn, id: &str, execution_id: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE tasks SET execution_id = $1 WHERE id = $2")
        .bind(execution_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list(
    db: &Db,
    status: Option<TaskStatus>,
    capability: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TaskRow>, i64), sqlx::Error> {
    let mut q = SqlBuf::new("");
    let mut filters = vec!["1 = 1".to_string()];
    if let Some(s) = status {
        filters.push(format!("t.status = {}", q.arg(Arg::Text(s.as_str().to_string()))));
    }
    if let Some(c) = capability {
        let p = q.arg(Arg::Text(c.to_lowercase()));
        filters
            .push(format!("EXISTS (SELECT 1 FROM task_capabilities c WHERE c.task_id = t.id AND c.capability = {p})"));
    }
    let where_sql = filters.join(" AND ");
    let mut count = q.clone();
    count.sql = format!("SELECT COUNT(*) AS n FROM tasks t WHERE {where_sql}");
    let total: i64 = count.query().fetch_one(&db.read).await?.get("n");
    let (pl, po) = (q.arg(Arg::Int(limit)), q.arg(Arg::Int(offset)));
    let columns = crate::db::sql::qualified(TASK_COLUMNS, "t");
    q.sql = format!(
        "SELECT {columns} FROM tasks t WHERE {where_sql} ORDER BY t.created_at DESC, t.id DESC LIMIT {pl} OFFSET {po}"
    );
    let rows = q.query().fetch_all(&db.read).await?;
    let rows = rows.iter().map(<TaskRow as crate::db::FromRow>::from_row).collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

/// Active agents other than the poster that list any of `capabilities` and have a webhook URL,
/// at most `limit` of them.
pub async fn agents_to_announce(
    db: &Db,
    poster_id: &str,
    capabilities: &[String],
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    if capabilities.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT a.id FROM agents a JOIN agent_capabilities ac ON ac.agent_id = a.id \
         WHERE a.webhook_url IS NOT NULL AND a.status = $1 AND a.id <> $2 AND ac.capability IN ({}) \
         ORDER BY a.id LIMIT $3",
        placeholders(4, capabilities.len())
    );
    let mut query = crate::db::query_scalar(&sql)
        .bind(crate::agents::model::AgentStatus::Active.as_str())
        .bind(poster_id)
        .bind(limit);
    for capability in capabilities {
        query = query.bind(capability);
    }
    query.fetch_all(&db.read).await
}
