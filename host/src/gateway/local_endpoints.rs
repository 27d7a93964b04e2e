//! Self-hosted OpenAI-compatible endpoints an account registers (Ollama, vLLM, LocalAI). Each
//! is checked at registration and every `gateway_local_recheck_ms` (a `GET {base}/models` that
//! also discovers its models); a healthy endpoint of the request's workspace (or of the whole
//! account) is tried before the managed candidates, billed `gateway_local_fee_bps` of the
//! baseline. Its URL passes the outbound guard unless the operator allows private addresses,
//! and it is called through a client pinned to the checked address. Its headers (often a token)
//! are sealed at rest and never shown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use agora_runtime::net::PinError;

use super::errors::GatewayError;
use super::model::Price;
use super::upstreams::{Kind, Upstream, UpstreamModel};
use super::workspaces;
use crate::db::{new_id, now_ms, rfc3339};
use crate::state::App;

/// How long a health check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// Endpoints checked by one run of the recheck job.
const RECHECK_BATCH: i64 = 50;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// The server's root or its OpenAI `/v1` base (`http://ollama.internal:11434`).
    pub url: String,
    pub label: Option<String>,
    pub default_model: Option<String>,
    /// Sent with every call (`{"Authorization": "Bearer ..."}`); sealed at rest, never shown.
    pub headers: Option<BTreeMap<String, String>>,
    pub workspace_id: Option<String>,
}

/// A `PATCH`: the fields present change; `default_model: null` clears it, `headers: null`
/// removes them and an object replaces them.
#[derive(Debug, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub label: Option<String>,
    pub default_model: Option<Option<String>>,
    pub headers: Option<Option<BTreeMap<String, String>>>,
}

impl EndpointChange {
    pub fn parse(body: serde_json::Map<String, Value>) -> Result<EndpointChange, GatewayError> {
        let mut change = EndpointChange::default();
        for (field, value) in body {
            let bad = || GatewayError::Invalid(format!("{field} has the wrong type"));
            match (field.as_str(), value) {
                ("url", Value::String(u)) => change.url = Some(u),
                ("label", Value::String(l)) => change.label = Some(l),
                ("default_model", Value::Null) => change.default_model = Some(None),
                ("default_model", Value::String(m)) => change.default_model = Some(Some(m)),
                ("headers", Value::Null) => change.headers = Some(None),
                ("headers", h @ Value::Object(_)) => {
                    change.headers = Some(Some(serde_json::from_value(h).map_err(|_| bad())?))
                }
                ("url" | "label" | "default_model" | "headers", _) => return Err(bad()),
                _ => return Err(GatewayError::Invalid(format!("unknown field {field}"))),
            }
        }
        Ok(change)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub label: String,
    pub default_model: Option<String>,
    pub workspace_id: Option<String>,
    /// `healthy` or `unreachable`.
    pub status: String,
    pub models: Vec<String>,
    pub has_headers: bool,
    pub last_error: Option<String>,
    pub last_checked_at: Option<String>,
    pub latency_ms: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

crate::row_struct! {
    struct EndpointRow {
        id: String,
        workspace_id: Option<String>,
        url: String,
        label: String,
        default_model: Option<String>,
        sealed_headers: Option<String>,
        status: String,
        models: String,
        last_error: Option<String>,
        last_checked_at: Option<i64>,
        latency_ms: Option<i64>,
        created_at: i64,
        updated_at: i64,
    }
}

const COLUMNS: &str = "e.id, e.workspace_id, e.url, e.label, e.default_model, e.sealed_headers, \
     e.status, e.models, e.last_error, e.last_checked_at, e.latency_ms, e.created_at, e.updated_at";

fn context(id: &str) -> String {
    format!("local_endpoint:{id}")
}

/// The URL checked by the outbound guard, without a trailing slash.
fn checked_url(app: &App, url: &str) -> Result<String, GatewayError> {
    let url = crate::validate::outbound_url("url", url, true, app.config.execution.allow_private_http)
        .map_err(|e| GatewayError::Invalid(e.to_string()))?;
    Ok(url.trim_end_matches('/').to_string())
}

fn check_label(label: Option<&str>) -> Result<Option<String>, GatewayError> {
    match label.map(str::trim) {
        None => Ok(None),
        Some(l) if !l.is_empty() && l.chars().count() <= 100 => Ok(Some(l.to_string())),
        Some(_) => Err(GatewayError::Invalid("label must be 1-100 characters".into())),
    }
}

fn check_model(model: Option<&str>) -> Result<Option<String>, GatewayError> {
    match model.map(str::trim) {
        None => Ok(None),
        Some(m) if !m.is_empty() && m.len() <= 200 => Ok(Some(m.to_string())),
        Some(_) => Err(GatewayError::Invalid("default_model must be 1-200 characters".into())),
    }
}

fn seal_headers(app: &App, id: &str, headers: &BTreeMap<String, String>) -> Result<Option<String>, GatewayError> {
    if headers.is_empty() {
        return Ok(None);
    }
    if headers.len() > 20 {
        return Err(GatewayError::Invalid("headers: at most 20".into()));
    }
    for (name, value) in headers {
        let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && reqwest::header::HeaderValue::from_str(value).is_ok()
            && value.len() <= 4_096;
        if !valid || name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("content-length") {
            return Err(GatewayError::Invalid(format!("headers: {name:?} is not a header this host can send")));
        }
    }
    let text = serde_json::to_string(headers).expect("a map of strings serialises");
    Ok(Some(app.sealer.seal(text.as_bytes(), &context(id))))
}

fn open_headers(app: &App, row: &EndpointRow) -> Vec<(String, String)> {
    let Some(sealed) = &row.sealed_headers else { return Vec::new() };
    match app.sealer.open(sealed, &context(&row.id)).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
        Some(map) => BTreeMap::<String, String>::into_iter(map).collect(),
        None => {
            tracing::warn!(local_endpoint = %row.id, "an endpoint's headers do not open with this host's secrets key");
            Vec::new()
        }
    }
}

/// The OpenAI base of an endpoint: its URL, with `/v1` added unless it ends in a version.
fn api_base(url: &str) -> String {
    let last = url.rsplit('/').next().unwrap_or("");
    if last.len() >= 2 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit()) {
        url.to_string()
    } else {
        format!("{url}/v1")
    }
}

pub async fn create(app: &App, agent_id: &str, new: NewEndpoint) -> Result<EndpointView, GatewayError> {
    let url = checked_url(app, &new.url)?;
    let label = check_label(new.label.as_deref())?.unwrap_or_else(|| "local".to_string());
    let default_model = check_model(new.default_model.as_deref())?;
    let workspace = match &new.workspace_id {
        Some(slug) => {
            Some(workspaces::find(&app.db, agent_id, slug).await?.ok_or(GatewayError::NotFound("workspace"))?)
        }
        None => None,
    };
    let id = new_id();
    let sealed = seal_headers(app, &id, &new.headers.unwrap_or_default())?;
    let now = now_ms();
    app.db.execute(crate::db::query(
        "INSERT INTO gateway_local_endpoints (id, agent_id, workspace_id, url, label, default_model, sealed_headers, \
         status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'unreachable', $8, $8)",
    )
    .bind(&id)
    .bind(agent_id)
    .bind(workspace.map(|w| w.id))
    .bind(&url)
    .bind(&label)
    .bind(default_model)
    .bind(sealed)
    .bind(now))
    .await?;
    recheck(app, agent_id, &id).await
}

async fn row(app: &App, agent_id: &str, id: &str) -> Result<EndpointRow, GatewayError> {
    crate::db::query_as::<EndpointRow>(&format!(
        "SELECT {COLUMNS} FROM gateway_local_endpoints e WHERE e.id = $1 AND e.agent_id = $2 AND e.deleted_at IS NULL"
    ))
    .bind(id)
    .bind(agent_id)
    .fetch_optional(&app.db.read)
    .await?
    .ok_or(GatewayError::NotFound("local endpoint"))
}

async fn view(app: &App, row: EndpointRow) -> Result<EndpointView, GatewayError> {
    let workspace_id = match &row.workspace_id {
        Some(id) => workspaces::slug_of(&app.db, id).await?,
        None => None,
    };
    Ok(EndpointView {
        models: serde_json::from_str(&row.models).unwrap_or_default(),
        has_headers: row.sealed_headers.is_some(),
        last_checked_at: row.last_checked_at.map(rfc3339),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        id: row.id,
        url: row.url,
        label: row.label,
        default_model: row.default_model,
        workspace_id,
        status: row.status,
        last_error: row.last_error,
        latency_ms: row.latency_ms,
    })
}

pub async fn get(app: &App, agent_id: &str, id: &str) -> Result<EndpointView, GatewayError> {
    let row = row(app, agent_id, id).await?;
    view(app, row).await
}

pub async fn list(app: &App, agent_id: &str, workspace: Option<&str>) -> Result<Vec<EndpointView>, GatewayError> {
    let workspace_id = match workspace {
        Some(slug) => workspaces::find(&app.db, agent_id, slug).await?.ok_or(GatewayError::NotFound("workspace"))?.id,
        None => String::new(),
    };
    let rows = crate::db::query_as::<EndpointRow>(&format!(
        "SELECT {COLUMNS} FROM gateway_local_endpoints e WHERE e.agent_id = $1 AND e.deleted_at IS NULL \
         AND ($2 = '' OR e.workspace_id = $2) ORDER BY e.created_at, e.id"
    ))
    .bind(agent_id)
    .bind(workspace_id)
    .fetch_all(&app.db.read)
    .await?;
    let mut views = Vec::with_capacity(rows.len());
    for r in rows {
        views.push(view(app, r).await?);
    }
    Ok(views)
}

/// Changes an endpoint; a new URL or new headers are checked again at once.
pub async fn update(app: &App, agent_id: &str, id: &str, change: EndpointChange) -> Result<EndpointView, GatewayError> {
    let current = row(app, agent_id, id).await?;
    let url = match &change.url {
        Some(u) => checked_url(app, u)?,
        None => current.url.clone(),
    };
    let label = check_label(change.label.as_deref())?.unwrap_or(current.label.clone());
    let default_model = match &change.default_model {
        Some(m) => check_model(m.as_deref())?,
        None => current.default_model.clone(),
    };
    let sealed = match &change.headers {
        Some(h) => seal_headers(app, id, &h.clone().unwrap_or_default())?,
        None => current.sealed_headers.clone(),
    };
    app.db
        .execute(
            crate::db::query(
                "UPDATE gateway_local_endpoints SET url = $1, label = $2, default_model = $3, sealed_headers = $4, \
                 updated_at = $5 WHERE id = $6 AND agent_id = $7 AND deleted_at IS NULL",
            )
            .bind(&url)
            .bind(label)
            .bind(default_model)
            .bind(sealed)
            .bind(now_ms())
            .bind(id)
            .bind(agent_id),
        )
        .await?;
    if url != current.url || change.headers.is_some() {
        return recheck(app, agent_id, id).await;
    }
    get(app, agent_id, id).await
}

pub async fn delete(app: &App, agent_id: &str, id: &str) -> Result<(), GatewayError> {
    if !super::store::delete_owned(&app.db, "gateway_local_endpoints", "sealed_headers = NULL", agent_id, id).await? {
        return Err(GatewayError::NotFound("local endpoint"));
    }
    Ok(())
}

/// Checks an endpoint now (health and models) and answers what it found.
pub async fn recheck(app: &App, agent_id: &str, id: &str) -> Result<EndpointView, GatewayError> {
    let current = row(app, agent_id, id).await?;
    check_and_store(app, &current).await?;
    get(app, agent_id, id).await
}

/// A client for an endpoint's URL, pinned to the address the outbound guard checked.
pub async fn pinned_client(app: &App, url: &str) -> Result<reqwest::Client, String> {
    let url = url::Url::parse(url).map_err(|_| "the endpoint's URL does not parse".to_string())?;
    app.outbound.client(&url).await.map_err(|e| match e {
        PinError::Refused(why) => format!("refused by the outbound guard: {why}"),
        PinError::Client(why) => why,
    })
}

/// What a check found.
struct Checked {
    models: Result<Vec<String>, String>,
    latency_ms: i64,
}

async fn check(app: &App, row: &EndpointRow) -> Checked {
    let started = Instant::now();
    let models = async {
        let base = api_base(&row.url);
        let client = pinned_client(app, &base).await?;
        let mut request = client.get(format!("{base}/models")).timeout(CHECK_TIMEOUT);
        for (name, value) in open_headers(app, row) {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("GET /models answered {}", response.status().as_u16()));
        }
        let body: Value = response.json().await.map_err(|_| "GET /models did not answer JSON".to_string())?;
        let ids = body["data"]
            .as_array()
            .ok_or("GET /models answered no model list")?
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .take(500)
            .collect();
        Ok(ids)
    }
    .await;
    Checked { models, latency_ms: started.elapsed().as_millis() as i64 }
}

async fn check_and_store(app: &App, row: &EndpointRow) -> Result<(), GatewayError> {
    let checked = check(app, row).await;
    let (status, models, error) = match checked.models {
        Ok(models) => ("healthy", serde_json::to_string(&models).expect("strings serialise"), None),
        Err(e) => ("unreachable", row.models.clone(), Some(e.chars().take(500).collect::<String>())),
    };
    app.db
        .execute(
            crate::db::query(
                "UPDATE gateway_local_endpoints SET status = $1, models = $2, last_error = $3, last_checked_at = $4, \
                 latency_ms = $5 WHERE id = $6 AND deleted_at IS NULL",
            )
            .bind(status)
            .bind(models)
            .bind(error)
            .bind(now_ms())
            .bind(checked.latency_ms)
            .bind(&row.id),
        )
        .await?;
    Ok(())
}

/// The recheck job: endpoints not checked within `gateway_local_recheck_ms`, a batch at a time.
pub async fn recheck_due(app: &App) -> Result<usize, GatewayError> {
    let before = now_ms() - app.config.gateway.gateway_local_recheck_ms as i64;
    let due = crate::db::query_as::<EndpointRow>(&format!(
        "SELECT {COLUMNS} FROM gateway_local_endpoints e WHERE e.deleted_at IS NULL \
         AND (e.last_checked_at IS NULL OR e.last_checked_at < $1) ORDER BY e.last_checked_at LIMIT $2"
    ))
    .bind(before)
    .bind(RECHECK_BATCH)
    .fetch_all(&app.db.read)
    .await?;
    for row in &due {
        check_and_store(app, row).await?;
    }
    Ok(due.len())
}

/// A healthy endpoint a request may try first: an upstream of one model (the one asked for when
/// the endpoint serves it, else its default model, else the first it listed).
pub struct LocalRoute {
    pub id: String,
    pub upstream: Arc<Upstream>,
}

pub async fn usable(
    app: &App,
    agent_id: &str,
    workspace: Option<&str>,
    requested: &str,
) -> Result<Vec<LocalRoute>, GatewayError> {
    let rows = crate::db::query_as::<EndpointRow>(&format!(
        "SELECT {COLUMNS} FROM gateway_local_endpoints e WHERE e.agent_id = $1 AND e.deleted_at IS NULL \
         AND e.status = 'healthy' AND (e.workspace_id IS NULL OR e.workspace_id = $2) \
         ORDER BY CASE WHEN e.workspace_id IS NULL THEN 1 ELSE 0 END, e.created_at, e.id"
    ))
    .bind(agent_id)
    .bind(workspace.unwrap_or(""))
    .fetch_all(&app.db.read)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let models: Vec<String> = serde_json::from_str(&row.models).unwrap_or_default();
            let model = models
                .iter()
                .find(|m| m.as_str() == requested)
                .cloned()
                .or(row.default_model.clone())
                .or_else(|| models.first().cloned())?;
            let upstream = Upstream {
                name: format!("local:{}", row.label),
                kind: Kind::Openai,
                base_url: api_base(&row.url),
                api_key: String::new(),
                timeout: Duration::from_secs(120),
                first_byte_timeout: Duration::from_secs(30),
                provider: None,
                headers: open_headers(app, &row),
                models: vec![UpstreamModel {
                    name: model,
                    modes: Vec::new(),
                    price: Price::default(),
                    capabilities: vec!["chat".into(), "tools".into(), "vision".into()],
                    context_window: i64::MAX / 4,
                    unit_price: 0,
                }],
            };
            Some(LocalRoute { id: row.id, upstream: Arc::new(upstream) })
        })
        .collect())
}
