//! Video jobs: the upstream's job behind our id, polled through the upstream that took it and
//! shown to the account that made it only.

use serde_json::{json, Value};

use super::errors::GatewayError;
use super::providers;
use crate::db::{new_id, now_ms};
use crate::state::App;

crate::row_struct! {
    struct VideoRow {
        id: String,
        upstream: String,
        upstream_job_id: String,
        status: String,
        url: Option<String>,
    }
}

/// `processing`, `completed` or `failed`, from what an upstream said (anything else is still
/// processing).
fn status_of(job: &Value) -> &'static str {
    match job["status"].as_str() {
        Some("completed" | "succeeded") => "completed",
        Some("failed" | "error" | "cancelled") => "failed",
        _ => "processing",
    }
}

fn view(id: &str, status: &str, url: Option<&str>) -> Value {
    let mut v = json!({"id": id, "object": "video", "status": status});
    if let Some(url) = url {
        v["url"] = json!(url);
    }
    v
}

pub async fn record(
    app: &App,
    agent_id: &str,
    usage_id: &str,
    upstream: &str,
    upstream_job_id: &str,
    job: &Value,
) -> Result<Value, GatewayError> {
    let id = format!("video_{}", new_id());
    let (status, url) = (status_of(job), job["url"].as_str());
    let now = now_ms();
    app.db
        .execute(
            crate::db::query(
                "INSERT INTO gateway_videos (id, agent_id, usage_id, upstream, upstream_job_id, status, url, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(&id)
            .bind(agent_id)
            .bind(usage_id)
            .bind(upstream)
            .bind(upstream_job_id)
            .bind(status)
            .bind(url)
            .bind(now),
        )
        .await?;
    Ok(view(&id, status, url))
}

/// The job's state: asked of its upstream while it is processing.
pub async fn get(app: &App, agent_id: &str, id: &str) -> Result<Value, GatewayError> {
    let row = crate::db::query_as::<VideoRow>(
        "SELECT id, upstream, upstream_job_id, status, url FROM gateway_videos WHERE id = $1 AND agent_id = $2",
    )
    .bind(id)
    .bind(agent_id)
    .fetch_optional(&app.db.read)
    .await?
    .ok_or(GatewayError::NotFound("video"))?;
    if row.status != "processing" {
        return Ok(view(&row.id, &row.status, row.url.as_deref()));
    }
    let Some(upstream) = app.gateway.upstreams.list.iter().find(|u| u.name == row.upstream) else {
        return Ok(view(&row.id, &row.status, row.url.as_deref()));
    };
    let path = format!("videos/generations/{}", urlencoding(&row.upstream_job_id));
    let (_, bytes) = providers::media(&app.gateway.client, upstream, reqwest::Method::GET, &path, None)
        .await
        .map_err(super::chat::upstream_error)?;
    let job: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let (status, url) = (status_of(&job), job["url"].as_str());
    if status != "processing" {
        app.db
            .execute(
                crate::db::query(
                    "UPDATE gateway_videos SET status = $1, url = $2, updated_at = $3 \
                     WHERE id = $4 AND status = 'processing'",
                )
                .bind(status)
                .bind(url)
                .bind(now_ms())
                .bind(&row.id),
            )
            .await?;
    }
    Ok(view(&row.id, status, url))
}

/// A path segment with everything but unreserved characters percent-encoded.
fn urlencoding(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
