//! A2A's SQL: which agents answer A2A callers, their tasks and the tasks' push configs.

use crate::db::page::Page;
use crate::db::{Conn, Db};

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct TaskRow {
        pub id: String,
        pub agent_id: String,
        pub caller_id: String,
        pub context_id: String,
        pub state: String,
        /// The caller's message (A2A v1.0 JSON).
        pub request: String,
        /// The agent's answer (A2A v1.0 JSON), once it gave one.
        pub reply: Option<String>,
        /// Why the task failed or was refused.
        pub note: Option<String>,
        pub message_id: Option<String>,
        pub execution_id: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

const TASK_COLUMNS: &str =
    "id, agent_id, caller_id, context_id, state, request, reply, note, message_id, execution_id, created_at, updated_at";

/// States a task leaves only by being answered, failing or being canceled.
pub const OPEN_STATES: [&str; 2] = ["submitted", "working"];

pub async fn enabled(db: &Db, agent_id: &str) -> Result<bool, sqlx::Error> {
    let on = crate::db::query_scalar::<i64>("SELECT enabled FROM a2a_agents WHERE agent_id = $1")
        .bind(agent_id)
        .fetch_optional(&db.read)
        .await?;
    Ok(on == Some(1))
}

pub async fn set_enabled_in(c: &mut Conn, agent_id: &str, on: bool, at: i64) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO a2a_agents (agent_id, enabled, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (agent_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
    )
    .bind(agent_id)
    .bind(on as i64)
    .bind(at)
    .execute(c)
    .await
    .map(drop)
}

pub async fn insert_in(c: &mut Conn, t: &TaskRow) -> Result<(), sqlx::Error> {
    crate::db::query(&format!(
        "INSERT INTO a2a_tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&t.id)
    .bind(&t.agent_id)
    .bind(&t.caller_id)
    .bind(&t.context_id)
    .bind(&t.state)
    .bind(&t.request)
    .bind(&t.reply)
    .bind(&t.note)
    .bind(&t.message_id)
    .bind(&t.execution_id)
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(c)
    .await
    .map(drop)
}

/// The task, if `caller_id` gave it to `agent_id`.
pub async fn task_of(db: &Db, agent_id: &str, caller_id: &str, id: &str) -> Result<Option<TaskRow>, sqlx::Error> {
    crate::db::query_as::<TaskRow>(&format!(
        "SELECT {TASK_COLUMNS} FROM a2a_tasks WHERE id = $1 AND agent_id = $2 AND caller_id = $3"
    ))
    .bind(id)
    .bind(agent_id)
    .bind(caller_id)
    .fetch_optional(&db.read)
    .await
}

pub async fn task(db: &Db, id: &str) -> Result<Option<TaskRow>, sqlx::Error> {
    crate::db::query_as::<TaskRow>(&format!("SELECT {TASK_COLUMNS} FROM a2a_tasks WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
}

pub async fn task_in(c: &mut Conn, id: &str) -> Result<Option<TaskRow>, sqlx::Error> {
    crate::db::query_as::<TaskRow>(&format!("SELECT {TASK_COLUMNS} FROM a2a_tasks WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await
}

/// What a list of tasks is narrowed to.
pub struct TaskFilter<'a> {
    pub context_id: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// The caller's tasks with the agent, newest first: a page (one row more than its limit, for
/// `Page::cut`) and the total.
pub async fn tasks_of(
    db: &Db,
    agent_id: &str,
    caller_id: &str,
    filter: &TaskFilter<'_>,
    page: &Page,
) -> Result<(Vec<TaskRow>, i64), sqlx::Error> {
    let narrow = "agent_id = $1 AND caller_id = $2 AND ($3 IS NULL OR context_id = $3) AND ($4 IS NULL OR state = $4)";
    let total = crate::db::query_scalar::<i64>(&format!("SELECT COUNT(*) FROM a2a_tasks WHERE {narrow}"))
        .bind(agent_id)
        .bind(caller_id)
        .bind(filter.context_id)
        .bind(filter.state)
        .fetch_one(&db.read)
        .await?;
    let (at, id) = page.after.clone().unwrap_or((i64::MAX, String::new()));
    let rows = crate::db::query_as::<TaskRow>(&format!(
        "SELECT {TASK_COLUMNS} FROM a2a_tasks WHERE {narrow} \
         AND (created_at < $5 OR (created_at = $5 AND id < $6) OR $7 = 0) \
         ORDER BY created_at DESC, id DESC LIMIT $8"
    ))
    .bind(agent_id)
    .bind(caller_id)
    .bind(filter.context_id)
    .bind(filter.state)
    .bind(at)
    .bind(id)
    .bind(page.after.is_some() as i64)
    .bind(page.limit + 1)
    .fetch_all(&db.read)
    .await?;
    Ok((rows, total))
}

/// Moves an open task to `state`, with the agent's reply or a note; false when it was no
/// longer open (answered, failed or canceled meanwhile).
pub async fn finish_in(
    c: &mut Conn,
    id: &str,
    state: &str,
    reply: Option<&str>,
    note: Option<&str>,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "UPDATE a2a_tasks SET state = $1, reply = COALESCE($2, reply), note = COALESCE($3, note), updated_at = $4 \
         WHERE id = $5 AND state IN ('submitted', 'working')",
    )
    .bind(state)
    .bind(reply)
    .bind(note)
    .bind(at)
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_execution_in(c: &mut Conn, id: &str, execution_id: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE a2a_tasks SET execution_id = $1 WHERE id = $2")
        .bind(execution_id)
        .bind(id)
        .execute(c)
        .await
        .map(drop)
}

/// The open task, if any, that a message from `agent_id` to `caller_id` in `context_id`
/// answers: the oldest one.
pub async fn open_task_in(
    c: &mut Conn,
    context_id: &str,
    agent_id: &str,
    caller_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    crate::db::query_scalar::<String>(
        "SELECT id FROM a2a_tasks WHERE context_id = $1 AND agent_id = $2 AND caller_id = $3 \
         AND state IN ('submitted', 'working') ORDER BY created_at, id LIMIT 1",
    )
    .bind(context_id)
    .bind(agent_id)
    .bind(caller_id)
    .fetch_optional(c)
    .await
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct PushRow {
        pub task_id: String,
        pub id: String,
        pub url: String,
        pub token: Option<String>,
        pub auth_scheme: Option<String>,
        pub sealed_credentials: Option<String>,
        pub created_at: i64,
    }
}

const PUSH_COLUMNS: &str = "task_id, id, url, token, auth_scheme, sealed_credentials, created_at";

/// Adds or replaces the task's config `p.id`.
pub async fn put_push_in(c: &mut Conn, p: &PushRow) -> Result<(), sqlx::Error> {
    crate::db::query(&format!(
        "INSERT INTO a2a_push_configs ({PUSH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (task_id, id) DO UPDATE SET url = excluded.url, token = excluded.token, \
         auth_scheme = excluded.auth_scheme, sealed_credentials = excluded.sealed_credentials"
    ))
    .bind(&p.task_id)
    .bind(&p.id)
    .bind(&p.url)
    .bind(&p.token)
    .bind(&p.auth_scheme)
    .bind(&p.sealed_credentials)
    .bind(p.created_at)
    .execute(c)
    .await
    .map(drop)
}

pub async fn pushes(db: &Db, task_id: &str) -> Result<Vec<PushRow>, sqlx::Error> {
    crate::db::query_as::<PushRow>(&format!(
        "SELECT {PUSH_COLUMNS} FROM a2a_push_configs WHERE task_id = $1 ORDER BY created_at, id"
    ))
    .bind(task_id)
    .fetch_all(&db.read)
    .await
}

pub async fn pushes_in(c: &mut Conn, task_id: &str) -> Result<Vec<PushRow>, sqlx::Error> {
    crate::db::query_as::<PushRow>(&format!(
        "SELECT {PUSH_COLUMNS} FROM a2a_push_configs WHERE task_id = $1 ORDER BY created_at, id"
    ))
    .bind(task_id)
    .fetch_all(c)
    .await
}

pub async fn delete_push_in(c: &mut Conn, task_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let done = crate::db::query("DELETE FROM a2a_push_configs WHERE task_id = $1 AND id = $2")
        .bind(task_id)
        .bind(id)
        .execute(c)
        .await?;
    Ok(done.rows_affected() == 1)
}
