//! An agent's handlers: what it does with incoming messages, without a person. toq runs a shell
//! command or an LLM per message; Agora runs a `handler` component in the sandbox (the agent's
//! own, with its grants) or a prompt through the model gateway, never a shell.
//!
//! A handler applies to a message when each of its non-empty filters names the message's
//! sender address (`filter_from`; `toq://host/*` matches a host's agents), the sender's key
//! (`filter_key`) and its content type (`filter_type`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::model::MessageRow;
use super::MessagingError;
use crate::db::{now_ms, rfc3339, Conn, Db};
use crate::state::App;
use crate::transaction;

/// The providers an LLM handler may name (toq's); the gateway picks the upstream for `model`.
pub const PROVIDERS: [&str; 4] = ["openai", "anthropic", "bedrock", "ollama"];
const DEFAULT_MAX_TURNS: i64 = 10;

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct HandlerRow {
        pub agent_id: String,
        pub name: String,
        pub kind: String,
        pub component_id: Option<String>,
        pub provider: Option<String>,
        pub model: Option<String>,
        pub prompt: Option<String>,
        pub max_turns: i64,
        /// 0 or 1.
        pub auto_close: i64,
        pub filter_from: String,
        pub filter_key: String,
        pub filter_type: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

const COLUMNS: &str = "agent_id, name, kind, component_id, provider, model, prompt, max_turns, auto_close, \
    filter_from, filter_key, filter_type, created_at, updated_at";

/// A handler as registered (`POST`), or the fields to change (`PUT`, all optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandlerSpec {
    pub name: Option<String>,
    /// toq's shell handlers: refused (run a `handler` component instead).
    pub command: Option<String>,
    /// A `handler` component of yours, run in the sandbox with its grants.
    pub component_id: Option<String>,
    /// An LLM handler: `openai`, `anthropic`, `bedrock` or `ollama`, with `model`.
    pub provider: Option<String>,
    /// A model name or mode (`auto`, `fast`, `max`) of the gateway.
    pub model: Option<String>,
    /// The LLM handler's system prompt.
    pub prompt: Option<String>,
    /// How many messages the handler may write in one thread (1-100, default 10).
    pub max_turns: Option<i64>,
    /// Let the LLM close the thread (it ends its answer with `[close]`).
    pub auto_close: Option<bool>,
    pub filter_from: Option<Vec<String>>,
    pub filter_key: Option<Vec<String>>,
    pub filter_type: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandlerView {
    pub name: String,
    /// `component` or `llm`.
    pub kind: String,
    pub component_id: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub max_turns: i64,
    pub auto_close: bool,
    pub filter_from: Vec<String>,
    pub filter_key: Vec<String>,
    pub filter_type: Vec<String>,
    /// Messages waiting for this handler or being handled now.
    pub active: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn list_of(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl HandlerRow {
    pub fn view(&self, active: i64) -> HandlerView {
        HandlerView {
            name: self.name.clone(),
            kind: self.kind.clone(),
            component_id: self.component_id.clone(),
            provider: self.provider.clone(),
            model: self.model.clone(),
            prompt: self.prompt.clone(),
            max_turns: self.max_turns,
            auto_close: self.auto_close != 0,
            filter_from: list_of(&self.filter_from),
            filter_key: list_of(&self.filter_key),
            filter_type: list_of(&self.filter_type),
            active,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }

    /// Whether the handler takes `m`.
    pub fn applies_to(&self, m: &MessageRow) -> bool {
        let from = list_of(&self.filter_from);
        let keys = list_of(&self.filter_key);
        let types = list_of(&self.filter_type);
        let sender = |pattern: &String| match pattern.strip_suffix('*') {
            Some(prefix) => m.from_address.starts_with(prefix),
            None => *pattern == m.from_address,
        };
        (from.is_empty() || from.iter().any(sender))
            && (keys.is_empty() || keys.contains(&m.from_key))
            && (types.is_empty() || types.contains(&m.content_type))
    }
}

fn invalid(message: impl Into<String>) -> MessagingError {
    MessagingError::Invalid(message.into())
}

fn filter(field: &str, values: &[String]) -> Result<String, MessagingError> {
    if values.len() > 50 || values.iter().any(|v| v.trim().is_empty() || v.len() > 300) {
        return Err(invalid(format!("{field} must list at most 50 values of 1 to 300 characters")));
    }
    Ok(serde_json::to_string(values).expect("strings serialise"))
}

/// `spec` laid over `row` (a new handler's defaults, or the stored one), checked whole.
async fn apply(
    app: &App,
    agent_id: &str,
    mut row: HandlerRow,
    spec: HandlerSpec,
) -> Result<HandlerRow, MessagingError> {
    if spec.command.is_some() {
        return Err(invalid(
            "shell handlers do not run on Agora: publish a handler component (agora publish --kind handler) and \
             register it with component_id, or use an LLM handler (provider, model)",
        ));
    }
    if spec.component_id.is_some() && (spec.provider.is_some() || spec.model.is_some() || spec.prompt.is_some()) {
        return Err(invalid("a handler is a component (component_id) or an LLM (provider, model), not both"));
    }
    if let Some(id) = &spec.component_id {
        let c = app.components.get(&app.db, id).await?.filter(|c| c.publisher_id == agent_id);
        let c = c.ok_or(MessagingError::NotFound("component"))?;
        if c.kind != "handler" {
            return Err(invalid(format!("component {id} is a {}, not a handler", c.kind)));
        }
        (row.kind, row.component_id, row.provider, row.model, row.prompt) =
            ("component".into(), Some(id.clone()), None, None, None);
    }
    if spec.provider.is_some() || spec.model.is_some() || spec.prompt.is_some() {
        row.kind = "llm".into();
        row.component_id = None;
        row.provider = spec.provider.or(row.provider);
        row.model = spec.model.or(row.model);
        row.prompt = spec.prompt.or(row.prompt);
    }
    match row.kind.as_str() {
        "component" => {}
        "llm" => {
            if !row.provider.as_deref().is_some_and(|p| PROVIDERS.contains(&p)) {
                return Err(invalid(format!("provider must be one of {}", PROVIDERS.join(", "))));
            }
            if !row.model.as_deref().is_some_and(|m| !m.trim().is_empty() && m.len() <= 200) {
                return Err(invalid("an LLM handler needs a model (a gateway model name, or auto, fast or max)"));
            }
            if row.prompt.as_deref().is_some_and(|p| p.chars().count() > 20_000) {
                return Err(invalid("prompt must be at most 20000 characters"));
            }
        }
        _ => return Err(invalid("a handler needs component_id, or provider and model")),
    }
    row.max_turns = spec.max_turns.unwrap_or(row.max_turns);
    if !(1..=100).contains(&row.max_turns) {
        return Err(invalid("max_turns must be 1 to 100"));
    }
    if let Some(on) = spec.auto_close {
        row.auto_close = i64::from(on);
    }
    if let Some(v) = &spec.filter_from {
        row.filter_from = filter("filter_from", v)?;
    }
    if let Some(v) = &spec.filter_key {
        row.filter_key = filter("filter_key", v)?;
    }
    if let Some(v) = &spec.filter_type {
        row.filter_type = filter("filter_type", v)?;
    }
    row.updated_at = now_ms();
    Ok(row)
}

fn valid_name(name: &str) -> Result<(), MessagingError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'));
    if matches!(name, "stop" | "reload") {
        return Err(invalid("stop and reload name the handlers' own routes; choose another name"));
    }
    ok.then_some(()).ok_or_else(|| invalid("name must be 1 to 64 lowercase letters, digits, - or _"))
}

pub async fn create(app: &App, agent_id: &str, mut spec: HandlerSpec) -> Result<HandlerView, MessagingError> {
    let name = spec.name.take().ok_or_else(|| invalid("name is required"))?;
    valid_name(&name)?;
    let fresh = HandlerRow {
        agent_id: agent_id.to_string(),
        name,
        kind: String::new(),
        component_id: None,
        provider: None,
        model: None,
        prompt: None,
        max_turns: DEFAULT_MAX_TURNS,
        auto_close: 0,
        filter_from: "[]".into(),
        filter_key: "[]".into(),
        filter_type: "[]".into(),
        created_at: now_ms(),
        updated_at: now_ms(),
    };
    let row = apply(app, agent_id, fresh, spec).await?;
    let r = &row;
    let added = transaction!(app.db, |c| async move { insert(c, r).await })?;
    if !added {
        return Err(MessagingError::Conflict("a handler of that name exists; change it with PUT /v1/handlers/{name}"));
    }
    Ok(row.view(0))
}

pub async fn update(app: &App, agent_id: &str, name: &str, spec: HandlerSpec) -> Result<HandlerView, MessagingError> {
    if spec.name.as_deref().is_some_and(|n| n != name) {
        return Err(invalid("a handler's name cannot change; remove it and register another"));
    }
    let row = get(&app.db, agent_id, name).await?.ok_or(MessagingError::NotFound("handler"))?;
    let row = apply(app, agent_id, row, spec).await?;
    let r = &row;
    transaction!(app.db, |c| async move { replace(c, r).await })?;
    Ok(row.view(active(&app.db, agent_id, name).await?))
}

pub async fn delete(app: &App, agent_id: &str, name: &str) -> Result<(), MessagingError> {
    let removed = transaction!(app.db, |c| async move {
        crate::db::query("DELETE FROM messaging_handlers WHERE agent_id = $1 AND name = $2")
            .bind(agent_id)
            .bind(name)
            .execute(c)
            .await
            .map(|d| d.rows_affected())
    })?;
    if removed == 0 {
        return Err(MessagingError::NotFound("handler"));
    }
    Ok(())
}

pub async fn list(app: &App, agent_id: &str) -> Result<Vec<HandlerView>, MessagingError> {
    let rows = of_agent(&app.db, agent_id).await?;
    let mut views = Vec::new();
    for row in rows {
        let active = active(&app.db, agent_id, &row.name).await?;
        views.push(row.view(active));
    }
    Ok(views)
}

pub async fn get(db: &Db, agent_id: &str, name: &str) -> Result<Option<HandlerRow>, sqlx::Error> {
    crate::db::query_as::<HandlerRow>(&format!(
        "SELECT {COLUMNS} FROM messaging_handlers WHERE agent_id = $1 AND name = $2"
    ))
    .bind(agent_id)
    .bind(name)
    .fetch_optional(&db.read)
    .await
}

fn of_agent_sql() -> String {
    format!("SELECT {COLUMNS} FROM messaging_handlers WHERE agent_id = $1 ORDER BY name")
}

pub async fn of_agent(db: &Db, agent_id: &str) -> Result<Vec<HandlerRow>, sqlx::Error> {
    crate::db::query_as::<HandlerRow>(&of_agent_sql()).bind(agent_id).fetch_all(&db.read).await
}

/// The agent's handlers, read in the caller's transaction.
pub async fn of_agent_in(c: &mut Conn, agent_id: &str) -> Result<Vec<HandlerRow>, sqlx::Error> {
    crate::db::query_as::<HandlerRow>(&of_agent_sql()).bind(agent_id).fetch_all(c).await
}

/// The scheduler's key of a handler's run on one message: `<agent>:<handler>:<message>`.
pub fn run_key(agent_id: &str, name: &str, message_id: &str) -> String {
    format!("{agent_id}:{name}:{message_id}")
}

/// A `LIKE` pattern for the keys of the handler's runs.
fn runs_pattern(agent_id: &str, name: &str) -> String {
    let key = run_key(agent_id, name, "");
    format!("{}%", key.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// Messages waiting for the handler or being handled.
async fn active(db: &Db, agent_id: &str, name: &str) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar::<i64>(
        "SELECT COUNT(*) FROM scheduled_jobs WHERE kind = $1 AND job_key LIKE $2 ESCAPE '\\' \
         AND status IN ('pending', 'running')",
    )
    .bind(super::dispatch::HANDLE.name)
    .bind(runs_pattern(agent_id, name))
    .fetch_one(&db.read)
    .await
}

/// Drops the handler's runs that have not started: `POST /v1/handlers/stop`.
pub async fn stop(app: &App, agent_id: &str, name: &str) -> Result<u64, MessagingError> {
    get(&app.db, agent_id, name).await?.ok_or(MessagingError::NotFound("handler"))?;
    let pattern = runs_pattern(agent_id, name);
    let p = &pattern;
    let dropped = transaction!(app.db, |c| async move {
        crate::db::query(
            "DELETE FROM scheduled_jobs WHERE kind = $1 AND job_key LIKE $2 ESCAPE '\\' AND status = 'pending'",
        )
        .bind(super::dispatch::HANDLE.name)
        .bind(p.as_str())
        .execute(c)
        .await
        .map(|d| d.rows_affected())
    })?;
    Ok(dropped)
}

/// Adds the handler unless the agent has one of that name; false when it had.
pub(super) async fn insert(c: &mut Conn, r: &HandlerRow) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(&format!(
        "INSERT INTO messaging_handlers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (agent_id, name) DO NOTHING"
    ))
    .bind(&r.agent_id)
    .bind(&r.name)
    .bind(&r.kind)
    .bind(&r.component_id)
    .bind(&r.provider)
    .bind(&r.model)
    .bind(&r.prompt)
    .bind(r.max_turns)
    .bind(r.auto_close)
    .bind(&r.filter_from)
    .bind(&r.filter_key)
    .bind(&r.filter_type)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn replace(c: &mut Conn, r: &HandlerRow) -> Result<(), sqlx::Error> {
    crate::db::query(
        "UPDATE messaging_handlers SET kind = $1, component_id = $2, provider = $3, model = $4, prompt = $5, \
         max_turns = $6, auto_close = $7, filter_from = $8, filter_key = $9, filter_type = $10, updated_at = $11 \
         WHERE agent_id = $12 AND name = $13",
    )
    .bind(&r.kind)
    .bind(&r.component_id)
    .bind(&r.provider)
    .bind(&r.model)
    .bind(&r.prompt)
    .bind(r.max_turns)
    .bind(r.auto_close)
    .bind(&r.filter_from)
    .bind(&r.filter_key)
    .bind(&r.filter_type)
    .bind(r.updated_at)
    .bind(&r.agent_id)
    .bind(&r.name)
    .execute(c)
    .await?;
    Ok(())
}

/// The text a handler reads from a message: its body's `text`, else the body as JSON.
pub fn text_of(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    match value.get("text").and_then(Value::as_str) {
        Some(text) => text.to_string(),
        None => body.to_string(),
    }
}
