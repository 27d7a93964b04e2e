//! Workspaces: named parts of an account that runtime keys and usage are bound to, each with
//! an optional monthly budget (enforced by `metering::reserve`).

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::errors::GatewayError;
use super::model::micros_to_usd;
use crate::db::query::On;
use crate::db::sql::qualified;
use crate::db::FromRow;
use crate::db::{new_id, now_ms, rfc3339, Conn, Db};
use crate::state::App;
use crate::transaction;

crate::row_struct! {
    pub struct WorkspaceRow {
        pub id: String,
        pub agent_id: String,
        pub slug: String,
        pub name: String,
        pub status: String,
        pub metadata: String,
        pub monthly_budget_micros: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

const COLUMNS: &str = "id, agent_id, slug, name, status, metadata, monthly_budget_micros, created_at, updated_at";

#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// `active` or `archived` (a label: an archived workspace's keys still work).
    pub status: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub monthly_budget_usd: Option<f64>,
    /// This month's charges so far (UTC), in USD.
    pub spent_this_month_usd: f64,
    pub created_at: String,
    pub updated_at: String,
}

impl WorkspaceView {
    fn of(row: WorkspaceRow, spent_micros: i64) -> WorkspaceView {
        WorkspaceView {
            id: row.id,
            workspace_id: row.slug,
            name: row.name,
            status: row.status,
            metadata: serde_json::from_str(&row.metadata).unwrap_or(Value::Object(Map::new())),
            monthly_budget_usd: row.monthly_budget_micros.map(micros_to_usd),
            spent_this_month_usd: micros_to_usd(spent_micros),
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

/// A workspace id as the API names it: 1-64 of `a-z A-Z 0-9 - _ .`.
pub fn check_slug(slug: &str) -> Result<(), GatewayError> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then_some(())
        .ok_or_else(|| GatewayError::Invalid("workspace_id must be 1-64 letters, digits, '-', '_' or '.'".into()))
}

fn check_name(name: &str) -> Result<String, GatewayError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(GatewayError::Invalid("name must be 1-200 characters".into()));
    }
    Ok(name.to_string())
}

pub fn check_metadata(metadata: Option<&Value>) -> Result<String, GatewayError> {
    match metadata {
        None | Some(Value::Null) => Ok("{}".into()),
        Some(m @ Value::Object(_)) if m.to_string().len() <= 8_192 => Ok(m.to_string()),
        Some(Value::Object(_)) => Err(GatewayError::Invalid("metadata must be at most 8 KiB".into())),
        Some(_) => Err(GatewayError::Invalid("metadata must be an object".into())),
    }
}

/// A budget in USD as micro-USD; null is none.
fn budget_micros(value: Option<&Value>) -> Result<Option<i64>, GatewayError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(usd) if (0.0..=1e9).contains(&usd) => Ok(Some((usd * 1e6).round() as i64)),
            _ => Err(GatewayError::Invalid("monthly_budget_usd must be a number from 0 to 1e9, or null".into())),
        },
    }
}

pub async fn create(app: &App, agent_id: &str, body: &Map<String, Value>) -> Result<WorkspaceView, GatewayError> {
    let slug = body.get("workspace_id").and_then(Value::as_str).unwrap_or_default().to_string();
    check_slug(&slug)?;
    let name = check_name(body.get("name").and_then(Value::as_str).unwrap_or(&slug))?;
    let metadata = check_metadata(body.get("metadata"))?;
    let budget = budget_micros(body.get("monthly_budget_usd"))?;
    let now = now_ms();
    let row = WorkspaceRow {
        id: new_id(),
        agent_id: agent_id.to_string(),
        slug,
        name,
        status: "active".into(),
        metadata,
        monthly_budget_micros: budget,
        created_at: now,
        updated_at: now,
    };
    let r = &row;
    transaction!(app.db, |c| async move {
        if find_in(&mut *c, agent_id, &r.slug).await?.is_some() {
            return Err(GatewayError::Conflict(format!("workspace {:?} exists", r.slug)));
        }
        insert(c, r).await
    })?;
    Ok(WorkspaceView::of(row, 0))
}

/// Creates the workspace unless the account has it; its internal id.
pub async fn ensure_in(
    c: &mut Conn,
    agent_id: &str,
    slug: &str,
    name: Option<&str>,
) -> Result<WorkspaceRow, GatewayError> {
    check_slug(slug)?;
    if let Some(found) = find_in(&mut *c, agent_id, slug).await? {
        return Ok(found);
    }
    let now = now_ms();
    let row = WorkspaceRow {
        id: new_id(),
        agent_id: agent_id.to_string(),
        slug: slug.to_string(),
        name: check_name(name.unwrap_or(slug))?,
        status: "active".into(),
        metadata: "{}".into(),
        monthly_budget_micros: None,
        created_at: now,
        updated_at: now,
    };
    insert(c, &row).await?;
    Ok(row)
}

async fn insert(c: &mut Conn, r: &WorkspaceRow) -> Result<(), GatewayError> {
    crate::db::query(&format!(
        "INSERT INTO gateway_workspaces ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&r.id)
    .bind(&r.agent_id)
    .bind(&r.slug)
    .bind(&r.name)
    .bind(&r.status)
    .bind(&r.metadata)
    .bind(r.monthly_budget_micros)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

async fn find_in(c: &mut Conn, agent_id: &str, slug: &str) -> Result<Option<WorkspaceRow>, sqlx::Error> {
    find_on(c, agent_id, slug).await
}

/// The account's workspace by its API id.
pub async fn find(db: &Db, agent_id: &str, slug: &str) -> Result<Option<WorkspaceRow>, sqlx::Error> {
    find_on(&db.read, agent_id, slug).await
}

async fn find_on<'c>(on: impl Into<On<'c>>, agent_id: &str, slug: &str) -> Result<Option<WorkspaceRow>, sqlx::Error> {
    crate::db::query_as::<WorkspaceRow>(&format!(
        "SELECT {COLUMNS} FROM gateway_workspaces WHERE agent_id = $1 AND slug = $2"
    ))
    .bind(agent_id)
    .bind(slug)
    .fetch_optional(on)
    .await
}

/// The slug (the API's `workspace_id`) of a workspace, by its internal id.
pub async fn slug_of(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    crate::db::query_scalar("SELECT slug FROM gateway_workspaces WHERE id = $1").bind(id).fetch_optional(&db.read).await
}

pub async fn list(app: &App, agent_id: &str) -> Result<Vec<WorkspaceView>, GatewayError> {
    let rows = crate::db::query(&format!(
        "SELECT {}, COALESCE(p.spent_micros, 0) AS spent_micros FROM gateway_workspaces w \
         LEFT JOIN gateway_budget_periods p ON p.workspace_id = w.id AND p.month = $2 \
         WHERE w.agent_id = $1 ORDER BY w.created_at, w.id LIMIT 1000",
        qualified(COLUMNS, "w")
    ))
    .bind(agent_id)
    .bind(super::metering::month_of(now_ms()))
    .fetch_all(&app.db.read)
    .await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        views.push(WorkspaceView::of(WorkspaceRow::from_row(row)?, row.get("spent_micros")));
    }
    Ok(views)
}

async fn spent(db: &Db, workspace: &str, month: &str) -> Result<i64, sqlx::Error> {
    let row =
        crate::db::query("SELECT spent_micros FROM gateway_budget_periods WHERE workspace_id = $1 AND month = $2")
            .bind(workspace)
            .bind(month)
            .fetch_optional(&db.read)
            .await?;
    Ok(row.map_or(0, |r| r.get("spent_micros")))
}

pub async fn update(
    app: &App,
    agent_id: &str,
    slug: &str,
    patch: &Map<String, Value>,
) -> Result<WorkspaceView, GatewayError> {
    let Some(mut row) = find(&app.db, agent_id, slug).await? else {
        return Err(GatewayError::NotFound("workspace"));
    };
    if let Some(name) = patch.get("name") {
        row.name = check_name(name.as_str().ok_or_else(|| GatewayError::Invalid("name must be a string".into()))?)?;
    }
    if let Some(status) = patch.get("status") {
        row.status = match status.as_str() {
            Some(s @ ("active" | "archived")) => s.to_string(),
            _ => return Err(GatewayError::Invalid("status must be active or archived".into())),
        };
    }
    if patch.contains_key("metadata") {
        row.metadata = check_metadata(patch.get("metadata"))?;
    }
    if patch.contains_key("monthly_budget_usd") {
        row.monthly_budget_micros = budget_micros(patch.get("monthly_budget_usd"))?;
    }
    row.updated_at = now_ms();
    let r = &row;
    transaction!(app.db, |c| async move {
        crate::db::query(
            "UPDATE gateway_workspaces SET name = $1, status = $2, metadata = $3, monthly_budget_micros = $4, \
             updated_at = $5 WHERE id = $6",
        )
        .bind(&r.name)
        .bind(&r.status)
        .bind(&r.metadata)
        .bind(r.monthly_budget_micros)
        .bind(r.updated_at)
        .bind(&r.id)
        .execute(c)
        .await
    })?;
    let spent = spent(&app.db, &row.id, &super::metering::month_of(now_ms())).await?;
    Ok(WorkspaceView::of(row, spent))
}
