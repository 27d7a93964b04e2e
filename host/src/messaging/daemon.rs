//! toq's daemon surface, for a host of many agents: health and the version check are the host's;
//! status is the calling agent's; diagnostics and shutdown are the operator's (host-wide).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::backup::{self, ExportRequest, Exported, ImportRequest};
use super::{logs, service};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::{AgentAuth, AnyAuth, OperatorAuth};
use crate::http::json::{ApiJson, ApiQuery};
use crate::identity::Principal;
use crate::state::App;
use futures::StreamExt;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(status))
        .routes(routes!(upgrade_check))
        .routes(routes!(diagnostics))
        .routes(routes!(shutdown))
        .routes(routes!(export_backup))
        .routes(routes!(import_backup))
        .routes(routes!(read_logs, clear_logs))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// The newest entries to show first (1-500, default 100).
    pub limit: Option<i64>,
    /// Keep the response open and send new entries as server-sent events (`event: log`).
    pub follow: Option<bool>,
}

/// What happened to the agent's messages (an operator: to every agent's), oldest first; with
/// `follow=true` an event stream that goes on with new entries.
#[utoipa::path(get, path = "/v1/logs", tag = "messaging", security(("bearer" = [])), params(LogsQuery),
    responses((status = 200, body = Object, description = "`{entries}`, or an event stream with follow=true"),
        (status = 400, description = "A bad limit")))]
async fn read_logs(
    State(app): State<Arc<App>>,
    who: AnyAuth,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let agent = match who.0 {
        Principal::Agent { agent_id } => Some(agent_id),
        Principal::Operator { .. } => None,
        Principal::Runtime(_) => return Err(ApiError::forbidden("the logs need the agent's key or an operator's")),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1 to 500"));
    }
    let first = logs::latest(&app, agent.as_deref(), limit).await?;
    if q.follow != Some(true) {
        let entries: Vec<_> = first.iter().map(logs::LogRow::view).collect();
        return Ok(Json(json!({"entries": entries})).into_response());
    }
    let events = logs::follow(app, agent, first).map(|row| {
        Ok::<_, std::convert::Infallible>(
            axum::response::sse::Event::default()
                .id(row.id.clone())
                .event("log")
                .json_data(row.view())
                .unwrap_or_default(),
        )
    });
    Ok(axum::response::sse::Sse::new(events).keep_alive(Default::default()).into_response())
}

/// Clears the agent's log.
#[utoipa::path(delete, path = "/v1/logs", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
async fn clear_logs(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"cleared": logs::clear(&app, &who.agent_id).await?})))
}

/// An encrypted backup of the agent's identity, mode, rules, handlers and newest 10,000 messages.
#[utoipa::path(post, path = "/v1/backup/export", tag = "messaging", security(("bearer" = [])),
    request_body = ExportRequest,
    responses((status = 200, body = Exported), (status = 400, description = "A passphrase shorter than 8 characters")))]
async fn export_backup(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<ExportRequest>,
) -> ApiResult<Json<Exported>> {
    Ok(Json(backup::export(&app, &who.agent_id, req).await?))
}

/// Restores a backup into the calling agent, all or nothing; a wrong passphrase is
/// `invalid_passphrase` and changes nothing.
#[utoipa::path(post, path = "/v1/backup/import", tag = "messaging", security(("bearer" = [])),
    request_body = ImportRequest,
    responses((status = 200, body = Object), (status = 400, description = "invalid_passphrase, or not a backup"),
        (status = 409, description = "Another agent of this host has the backup's key")))]
async fn import_backup(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<ImportRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(backup::import(&app, &who.agent_id, req).await?))
}

/// Answers `ok` while the host runs.
#[utoipa::path(get, path = "/v1/health", tag = "messaging", responses((status = 200, body = Object)))]
async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    pub address: String,
    pub public_key: String,
    pub connection_mode: String,
    /// Open event streams of this agent on this host.
    pub connections: usize,
    pub messages: Value,
    pub peers: i64,
    pub handlers: i64,
    pub pending_approvals: i64,
    pub version: &'static str,
}

/// This agent's messaging at a glance.
#[utoipa::path(get, path = "/v1/status", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Status)))]
async fn status(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<Status>> {
    let me = service::me(&app, &who.agent_id).await?;
    let count = |sql: &'static str| {
        let (app, agent) = (app.clone(), who.agent_id.clone());
        async move { crate::db::query_scalar::<i64>(sql).bind(agent.as_str()).fetch_one(&app.db.read).await }
    };
    let received =
        count("SELECT COUNT(*) FROM messages WHERE recipient_agent_id = $1 AND inbox_seq IS NOT NULL").await?;
    let sent = count("SELECT COUNT(*) FROM messages WHERE sender_agent_id = $1").await?;
    let held = count("SELECT COUNT(*) FROM messages WHERE recipient_agent_id = $1 AND status = 'held'").await?;
    Ok(Json(Status {
        connections: app.inboxes.watchers(&who.agent_id),
        messages: json!({"received": received, "sent": sent, "held": held}),
        peers: count("SELECT COUNT(*) FROM messaging_peers WHERE agent_id = $1").await?,
        handlers: count("SELECT COUNT(*) FROM messaging_handlers WHERE agent_id = $1").await?,
        pending_approvals: count("SELECT COUNT(*) FROM messaging_approvals WHERE agent_id = $1 AND status = 'pending'")
            .await?,
        address: me.address.to_string(),
        public_key: me.public_key,
        connection_mode: me.connection_mode,
        version: env!("CARGO_PKG_VERSION"),
    }))
}

/// Whether a newer version exists. The host has no update source to ask (it never calls out on
/// its own), so it says so rather than guess.
#[utoipa::path(get, path = "/v1/upgrade/check", tag = "messaging", responses((status = 200, body = Object)))]
async fn upgrade_check() -> Json<Value> {
    Json(json!({
        "current": env!("CARGO_PKG_VERSION"),
        "latest": null,
        "update_available": null,
        "source": null,
        "message": "no update source is configured: this host does not check for updates",
    }))
}

/// The host's checks: the database, the secrets key, the scheduler's backlog, the data
/// directory's free space. Operators only.
#[utoipa::path(get, path = "/v1/diagnostics", tag = "messaging", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
async fn diagnostics(State(app): State<Arc<App>>, _op: OperatorAuth) -> ApiResult<Json<Value>> {
    let database = match app.db.ping().await {
        Ok(()) => json!({"ok": true, "backend": format!("{:?}", app.db.backend).to_lowercase()}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    };
    let probe = app.sealer.seal(b"diagnostics", "diagnostics");
    let secrets = app.sealer.open(&probe, "diagnostics").is_ok();
    let due =
        crate::db::query_scalar::<i64>("SELECT COUNT(*) FROM scheduled_jobs WHERE status = 'pending' AND run_at <= $1")
            .bind(crate::db::now_ms())
            .fetch_one(&app.db.read)
            .await?;
    let data_dir = &app.config.server.data_dir;
    Ok(Json(json!({
        "database": database,
        "secrets_key": {"ok": secrets},
        "scheduler": {"jobs_due": due},
        "data_dir": {"path": data_dir.display().to_string(), "free_bytes": free_bytes(data_dir)},
        "listen": app.config.server.listen.to_string(),
        "messaging_host": super::identity::host_name(&app),
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

/// Free bytes on the file system holding `dir`, when it can be read.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is a valid C string and `stat` a writable statvfs.
        if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
            return None;
        }
        Some(stat.f_bavail as u64 * stat.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shutdown {
    /// Always graceful: in-flight requests finish (within the shutdown grace) and background
    /// work stops at a safe point; `false` is accepted and means the same.
    pub graceful: Option<bool>,
}

/// Stops the host as SIGTERM does. Operators only.
#[utoipa::path(post, path = "/v1/daemon/shutdown", tag = "messaging", security(("bearer" = [])),
    request_body = Shutdown, responses((status = 202, body = Object)))]
async fn shutdown(
    State(app): State<Arc<App>>,
    op: OperatorAuth,
    ApiJson(_req): ApiJson<Shutdown>,
) -> (axum::http::StatusCode, Json<Value>) {
    tracing::warn!(operator = %op.key_id, "shutdown requested through the API");
    app.shutdown.notify_one();
    (axum::http::StatusCode::ACCEPTED, Json(json!({"status": "shutting_down"})))
}
