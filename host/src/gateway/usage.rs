//! Reading the gateway's usage: the history (`GET /v1/usage`), totals grouped by key or
//! workspace (`/v1/usage/breakdown`) and windowed statistics (`/v1/stats`).
//!
//! Who reads decides the scope: a runtime key sees its own requests only, an agent key its
//! whole account (filters narrow it), an operator every account (or one, by `agent_id`). Only the
//! account's own key and operators see which upstream served a request.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::errors::GatewayError;
use super::model::micros_to_usd;
use super::workspaces;
use crate::db::{now_ms, rfc3339, Db};
use crate::identity::Principal;

/// The rows a reader may see, after its filters.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Empty: every account (operators only).
    pub agent_id: String,
    pub key_id: String,
    /// The workspace's internal id, and its slug (the API's `workspace_id`).
    pub workspace_id: String,
    pub workspace_slug: Option<String>,
    pub request_type: String,
    pub show_provider: bool,
}

/// The filters a reader asked for (`agent_id` is an operator's).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub agent_id: Option<String>,
    pub api_key_id: Option<String>,
    pub workspace_id: Option<String>,
    pub request_type: Option<String>,
}

/// The scope `who` reads with `filters`: a runtime key's own scope whatever it asks; a
/// workspace is named by its slug, which belongs to the account (an operator names the account).
pub async fn scope(db: &Db, who: &Principal, f: &Filters) -> Result<Scope, GatewayError> {
    let request_type = f.request_type.clone().unwrap_or_default();
    let agent_id = match who {
        Principal::Runtime(k) => {
            let workspace_slug = match &k.workspace_id {
                Some(id) => workspaces::slug_of(db, id).await?,
                None => None,
            };
            return Ok(Scope {
                agent_id: k.agent_id.clone(),
                key_id: k.key_id.clone(),
                workspace_id: k.workspace_id.clone().unwrap_or_default(),
                workspace_slug,
                request_type,
                show_provider: false,
            });
        }
        Principal::Agent { agent_id } => agent_id.clone(),
        Principal::Operator { .. } => f.agent_id.clone().unwrap_or_default(),
    };
    let workspace_id = match &f.workspace_id {
        None => String::new(),
        Some(_) if agent_id.is_empty() => {
            return Err(GatewayError::Invalid("workspace_id needs agent_id: workspace ids are per account".into()))
        }
        Some(slug) => workspaces::find(db, &agent_id, slug).await?.ok_or(GatewayError::NotFound("workspace"))?.id,
    };
    Ok(Scope {
        agent_id,
        key_id: f.api_key_id.clone().unwrap_or_default(),
        workspace_id,
        workspace_slug: f.workspace_id.clone(),
        request_type,
        show_provider: true,
    })
}

/// The settled rows of the scope, as `$1`..`$4` bind them.
const IN_SCOPE: &str = "u.status = 'settled' AND ($1 = '' OR u.agent_id = $1) AND ($2 = '' OR u.api_key_id = $2) \
     AND ($3 = '' OR u.workspace_id = $3) AND ($4 = '' OR u.request_type = $4)";

fn scoped<'q>(sql: &'q str, s: &Scope) -> crate::db::Query<'q> {
    crate::db::query(sql)
        .bind(s.agent_id.clone())
        .bind(s.key_id.clone())
        .bind(s.workspace_id.clone())
        .bind(s.request_type.clone())
}

#[derive(Serialize, ToSchema)]
pub struct UsageRow {
    pub id: String,
    pub api_key_id: Option<String>,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub tier: String,
    pub model: String,
    /// The upstream that served it: shown to the account's agent key and operators, empty for
    /// runtime keys.
    pub provider: String,
    pub routing_method: String,
    pub execution_source: String,
    pub billing_mode: String,
    pub request_type: String,
    /// The run whose budget paid it (a `system_prompt` agent, a component's `llm.chat`).
    pub execution_id: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Media requests: the units billed (images, thousands of characters, megabytes, seconds).
    pub units: i64,
    pub actual_cost_usd: f64,
    pub charged_usd: f64,
    pub baseline_usd: f64,
    pub latency_ms: Option<i64>,
    pub created_at: String,
}

/// One page of the scope's settled requests, newest first, before `before` (ms); and whether
/// there are more.
pub async fn history(db: &Db, s: &Scope, before: i64, limit: i64) -> Result<(Vec<UsageRow>, bool), GatewayError> {
    let sql = format!(
        "SELECT u.*, w.slug, w.name AS workspace_name FROM gateway_usage u \
         LEFT JOIN gateway_workspaces w ON w.id = u.workspace_id WHERE {IN_SCOPE} AND u.created_at < $5 \
         ORDER BY u.created_at DESC, u.id DESC LIMIT $6"
    );
    let rows = scoped(&sql, s).bind(before).bind(limit + 1).fetch_all(&db.read).await?;
    let has_more = rows.len() as i64 > limit;
    let data = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            let metadata: String = r.get("metadata");
            let tier: String = r.get("tier");
            UsageRow {
                id: r.get("id"),
                api_key_id: r.get("api_key_id"),
                workspace_id: r.get("slug"),
                workspace_name: r.get("workspace_name"),
                metadata: serde_json::from_str(&metadata).unwrap_or_default(),
                model: tier.clone(),
                tier,
                provider: if s.show_provider { r.get("provider") } else { String::new() },
                routing_method: r.get("routing_method"),
                execution_source: r.get("execution_source"),
                billing_mode: r.get("billing_mode"),
                request_type: r.get("request_type"),
                execution_id: r.get("execution_id"),
                input_tokens: r.get("input_tokens"),
                output_tokens: r.get("output_tokens"),
                units: r.get("units"),
                actual_cost_usd: micros_to_usd(r.get("cost_micros")),
                charged_usd: micros_to_usd(r.get("charged_micros")),
                baseline_usd: micros_to_usd(r.get("baseline_micros")),
                latency_ms: r.get("latency_ms"),
                created_at: rfc3339(r.get("created_at")),
            }
        })
        .collect();
    Ok((data, has_more))
}

/// The totals every grouping reports.
const TOTALS: &str = "COUNT(*) AS requests, CAST(COALESCE(SUM(u.input_tokens), 0) AS BIGINT) AS input_tokens, \
     CAST(COALESCE(SUM(u.output_tokens), 0) AS BIGINT) AS output_tokens, \
     CAST(COALESCE(SUM(u.charged_micros), 0) AS BIGINT) AS charged, \
     CAST(COALESCE(SUM(u.cost_micros), 0) AS BIGINT) AS cost, \
     CAST(COALESCE(SUM(u.baseline_micros), 0) AS BIGINT) AS baseline, \
     CAST(COALESCE(SUM(u.latency_ms), 0) AS BIGINT) AS latency_sum, COUNT(u.latency_ms) AS latency_n, \
     CAST(COALESCE(SUM(u.cache_hit), 0) AS BIGINT) AS cache_hits";

fn totals(r: &crate::db::Row) -> Value {
    let requests: i64 = r.get("requests");
    let (input, output): (i64, i64) = (r.get("input_tokens"), r.get("output_tokens"));
    let (latency_sum, latency_n): (i64, i64) = (r.get("latency_sum"), r.get("latency_n"));
    json!({
        "requests": requests,
        "input_tokens": input,
        "output_tokens": output,
        "total_tokens": input + output,
        "charged_usd": micros_to_usd(r.get("charged")),
        "actual_cost_usd": micros_to_usd(r.get("cost")),
        "baseline_usd": micros_to_usd(r.get("baseline")),
        "avg_latency_ms": if latency_n == 0 { 0.0 } else { latency_sum as f64 / latency_n as f64 },
        "cache_hits": r.get::<i64, _>("cache_hits"),
    })
}

/// How `/v1/usage/breakdown` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    ApiKey,
    Workspace,
}

impl GroupBy {
    pub fn parse(text: &str) -> Result<GroupBy, GatewayError> {
        match text {
            "api_key" => Ok(GroupBy::ApiKey),
            "workspace" => Ok(GroupBy::Workspace),
            _ => Err(GatewayError::Invalid("group_by must be api_key or workspace".into())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::ApiKey => "api_key",
            GroupBy::Workspace => "workspace",
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// The scope's totals over the last `days` per key or workspace, most charged first; requests
/// made without one form their own group (`null`).
pub async fn breakdown(db: &Db, s: &Scope, group_by: GroupBy, days: i64) -> Result<Vec<Value>, GatewayError> {
    let since = now_ms() - days * DAY_MS;
    let sql = match group_by {
        GroupBy::ApiKey => format!(
            "SELECT u.api_key_id AS group_id, k.name AS group_name, k.prefix AS key_prefix, {TOTALS} \
             FROM gateway_usage u LEFT JOIN gateway_keys k ON k.id = u.api_key_id \
             WHERE {IN_SCOPE} AND u.created_at >= $5 GROUP BY u.api_key_id, k.name, k.prefix \
             ORDER BY charged DESC, requests DESC"
        ),
        GroupBy::Workspace => format!(
            "SELECT w.slug AS group_id, w.name AS group_name, NULL AS key_prefix, {TOTALS} \
             FROM gateway_usage u LEFT JOIN gateway_workspaces w ON w.id = u.workspace_id \
             WHERE {IN_SCOPE} AND u.created_at >= $5 GROUP BY w.slug, w.name \
             ORDER BY charged DESC, requests DESC"
        ),
    };
    let rows = scoped(&sql, s).bind(since).fetch_all(&db.read).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut group = totals(r);
            let (id, name): (Option<String>, Option<String>) = (r.get("group_id"), r.get("group_name"));
            match group_by {
                GroupBy::ApiKey => {
                    group["api_key_id"] = json!(id);
                    group["api_key_name"] = json!(name);
                    group["key_prefix"] = json!(r.get::<Option<String>, _>("key_prefix"));
                }
                GroupBy::Workspace => {
                    group["workspace_id"] = json!(id);
                    group["workspace_name"] = json!(name);
                }
            }
            group
        })
        .collect())
}

/// `/v1/stats`: totals over `days`, their tier and request-type breakdowns, and one entry per
/// day (UTC) of the last `daily_days`, empty days included.
pub async fn stats(db: &Db, s: &Scope, days: i64, daily_days: i64) -> Result<Value, GatewayError> {
    let now = now_ms();
    let since = now - days * DAY_MS;
    let sql = format!("SELECT {TOTALS} FROM gateway_usage u WHERE {IN_SCOPE} AND u.created_at >= $5");
    let whole = scoped(&sql, s).bind(since).fetch_one(&db.read).await?;
    let mut out = totals(&whole);
    for (column, field) in [("tier", "tier_breakdown"), ("request_type", "request_type_breakdown")] {
        let sql = format!(
            "SELECT u.{column} AS k, COUNT(*) AS n FROM gateway_usage u WHERE {IN_SCOPE} AND u.created_at >= $5 \
             GROUP BY u.{column}"
        );
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        if column == "tier" {
            counts.extend(["auto", "fast", "max"].map(|t| (t.to_string(), 0)));
        }
        for r in scoped(&sql, s).bind(since).fetch_all(&db.read).await? {
            counts.insert(r.get("k"), r.get("n"));
        }
        out[field] = json!(counts);
    }
    let today = now.div_euclid(DAY_MS);
    let first_day = today - (daily_days - 1);
    let sql = format!(
        "SELECT u.created_at / {DAY_MS} AS day, COUNT(*) AS requests, \
         CAST(COALESCE(SUM(u.input_tokens + u.output_tokens), 0) AS BIGINT) AS tokens, \
         CAST(COALESCE(SUM(u.charged_micros), 0) AS BIGINT) AS charged, \
         CAST(COALESCE(SUM(u.cost_micros), 0) AS BIGINT) AS cost \
         FROM gateway_usage u WHERE {IN_SCOPE} AND u.created_at >= $5 GROUP BY u.created_at / {DAY_MS}"
    );
    let mut by_day: BTreeMap<i64, Value> = (first_day..=today)
        .map(|d| (d, json!({"requests": 0, "tokens": 0, "charged_usd": 0.0, "actual_cost_usd": 0.0})))
        .collect();
    for r in scoped(&sql, s).bind(first_day * DAY_MS).fetch_all(&db.read).await? {
        by_day.insert(
            r.get("day"),
            json!({
                "requests": r.get::<i64, _>("requests"),
                "tokens": r.get::<i64, _>("tokens"),
                "charged_usd": micros_to_usd(r.get("charged")),
                "actual_cost_usd": micros_to_usd(r.get("cost")),
            }),
        );
    }
    out["daily"] = by_day
        .into_iter()
        .map(|(day, mut v)| {
            v["date"] = json!(chrono::DateTime::from_timestamp_millis(day * DAY_MS)
                .unwrap_or_default()
                .format("%Y-%m-%d")
                .to_string());
            v
        })
        .collect();
    out["api_key_id"] = json!((!s.key_id.is_empty()).then_some(&s.key_id));
    out["workspace_id"] = json!(s.workspace_slug);
    out["window_days"] = json!(days);
    out["daily_window_days"] = json!(daily_days);
    Ok(out)
}
