//! `agora-bench guardrails`: what a check costs, and what enforcing the policies adds to
//! `/api/execute`, each against a baseline in the same run:
//! - `POST /v1/actions/check` with 10 declarative policies (5 of the operator's, 5 of the
//!   account's, none deciding), and with a Wasm policy (`spend-cap`) deciding, against `GET
//!   /health`; the in-host decision time (policies read and evaluated, modules run; the audit
//!   write excluded) is read back from the audit events' `elapsed_us`;
//! - `POST /api/execute` of the `echo` component on a server that enforces against one that
//!   does not (`AGORA_GUARDRAILS_ENFORCE=false`), the same requests on the same database kind,
//!   from one client and from `concurrency` clients.

use agora_e2e::{guest, Options, Server};
use anyhow::Context;
use serde_json::{json, Value};

use crate::{cpu, load, Stats};

async fn start(backend: &str, enforce: bool) -> Server {
    std::env::set_var("AGORA_TEST_BACKEND", backend);
    Server::start_with(
        Options::default()
            .env("AGORA_LOG_LEVEL", "warn")
            .env("AGORA_DB_MAX_CONNECTIONS", "32")
            .env("AGORA_RATE_LIMIT_PER_MINUTE", "10000000")
            .env("AGORA_GUARDRAILS_ENFORCE", if enforce { "true" } else { "false" }),
    )
    .await
}

/// p50 and p99 of the decision times (µs) of the last `n` checks of the account.
async fn decision_times(server: &Server, key: &str, n: usize) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::new();
    let mut before: Option<String> = None;
    while times.len() < n {
        let path = match &before {
            Some(c) => format!("/v1/actions/audit?event=check&limit=500&before={c}"),
            None => "/v1/actions/audit?event=check&limit=500".to_string(),
        };
        let page = server.get(&path, Some(key)).await.body;
        let rows = page["data"].as_array().context("audit rows")?;
        times.extend(rows.iter().filter_map(|r| r["elapsed_us"].as_f64()));
        match page["next_cursor"].as_str() {
            Some(c) => before = Some(c.to_string()),
            None => break,
        }
    }
    times.truncate(n);
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times.get(((times.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0);
    Ok((pct(0.5), pct(0.99)))
}

/// An `echo` agent and `concurrency` funded buyers on `server`, and `/api/execute` requests
/// spread over the buyers.
async fn execute_requests(
    server: &Server,
    concurrency: usize,
) -> anyhow::Result<impl Fn(usize) -> reqwest::RequestBuilder + Clone + Send + Sync + 'static> {
    let (echo, _, _) = server.component_agent("echo", 0, json!({})).await;
    let mut buyers = Vec::new();
    for _ in 0..concurrency {
        let (_, key) = server.buyer(1_000_000).await;
        buyers.push(key);
    }
    let buyers = std::sync::Arc::new(buyers);
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let base = server.base.clone();
    Ok(move |i: usize| {
        http.post(format!("{base}/api/execute"))
            .header("X-API-Key", &buyers[i % buyers.len()])
            .json(&json!({"agent_id": echo, "task_description": "hello", "budget": 1}))
    })
}

/// `/api/execute` on a server that enforces the policies and on one that does not, both up at
/// once, at two loads: one client at a time (what enforcement adds to a request's own latency)
/// and `concurrency` clients (what it costs a saturated writer). Each load is measured in
/// alternating rounds (so that neither server gets the quieter moments of the machine), and the
/// rounds of each server are pooled.
async fn executions(backend: &str, concurrency: usize, requests: usize) -> anyhow::Result<Vec<Value>> {
    let enforced = start(backend, true).await;
    let plain = start(backend, false).await;
    let servers = [(&enforced, "policies enforced"), (&plain, "enforcement off")];
    let mut makes = Vec::new();
    for (server, _) in &servers {
        let make = execute_requests(server, concurrency).await?;
        let _ = load(concurrency, concurrency * 4, make.clone()).await;
        makes.push(make);
    }
    let mut results = Vec::new();
    for (clients, per_round) in [(1, requests / 4), (concurrency, requests)] {
        for (i, (mut stats, cpu)) in alternate(&servers, &makes, clients, per_round).await.into_iter().enumerate() {
            let label = format!("POST /api/execute (echo), {}, {clients} client(s)", servers[i].1);
            results.push(stats.json_with(&label, cpu));
        }
    }
    for (server, _) in &servers {
        server.assert_ledger_sound().await;
    }
    Ok(results)
}

async fn alternate<F>(
    servers: &[(&Server, &str)],
    makes: &[F],
    clients: usize,
    requests: usize,
) -> Vec<(Stats, cpu::Usage)>
where
    F: Fn(usize) -> reqwest::RequestBuilder + Clone + Send + Sync + 'static,
{
    const ROUNDS: usize = 5;
    let mut pooled: Vec<(Stats, cpu::Usage)> = Vec::new();
    for _ in 0..ROUNDS {
        for (i, (server, _)) in servers.iter().enumerate() {
            let cpu = cpu::Snapshot::take(server.pid());
            let stats = load(clients, requests, makes[i].clone()).await;
            let used = cpu.since();
            match pooled.get_mut(i) {
                Some((all, spent)) => {
                    all.absorb(stats);
                    *spent += used;
                }
                None => pooled.push((stats, used)),
            }
        }
    }
    pooled
}

pub async fn measure(backend: &str, concurrency: usize, requests: usize) -> anyhow::Result<Value> {
    let server = start(backend, true).await;
    let op = server.operator_key.clone();
    let (_, key) = server.buyer(1_000).await;
    for i in 0..5 {
        for (owner, name) in [(&op, format!("op-{i}")), (&key, format!("acct-{i}"))] {
            let body = json!({"name": name, "effect": "deny", "match": {"tool_ref": format!("never.{i}")}});
            let r = server.post("/v1/actions/policies", Some(owner), body).await;
            anyhow::ensure!(r.status.is_success(), "a policy: {}", r.body);
        }
    }
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let (base, pid) = (server.base.clone(), server.pid());
    let check = |tool: &'static str| {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        move |i: usize| {
            http.post(format!("{base}/v1/actions/check")).bearer_auth(&key).json(&json!({
                "app": "bench", "tool_ref": tool, "action_type": "spend", "requested_amount_usd": (i % 40) as f64}))
        }
    };
    let health = {
        let (http, base) = (http.clone(), base.clone());
        move |_| http.get(format!("{base}/health"))
    };
    let _ = load(concurrency, concurrency * 4, health.clone()).await;
    let mut results = Vec::new();
    let cpu = cpu::Snapshot::take(pid);
    results.push(load(concurrency, requests, health).await.json("GET /health (baseline, no database)", &cpu));
    let cpu = cpu::Snapshot::take(pid);
    let mut declarative = load(concurrency, requests, check("pay.card")).await;
    results.push(declarative.json("POST /v1/actions/check, 10 declarative policies", &cpu));
    let declarative_times = decision_times(&server, &key, requests).await?;

    let publisher = server.publisher(&key).await;
    let r = server.publish(&publisher, &guest("spend-cap"), "policy", "spend-cap", json!({})).await;
    anyhow::ensure!(r.status.is_success(), "publishing spend-cap: {}", r.body);
    let cap = r.body["component"]["id"].clone();
    let body = json!({"name": "cap", "component_id": cap, "match": {"tool_ref": "wasm.*"}});
    anyhow::ensure!(server.post("/v1/actions/policies", Some(&key), body).await.status.is_success(), "module policy");
    let _ = load(concurrency, concurrency * 4, check("wasm.pay")).await;
    let cpu = cpu::Snapshot::take(pid);
    let mut module = load(concurrency, requests, check("wasm.pay")).await;
    results.push(module.json("POST /v1/actions/check, a Wasm policy (spend-cap) deciding", &cpu));
    let module_times = decision_times(&server, &key, requests).await?;
    server.assert_ledger_sound().await;
    drop(server);

    results.extend(executions(backend, concurrency, requests).await?);
    Ok(json!({
        "backend": backend,
        "concurrency": concurrency,
        "results": results,
        "decision_us": {
            "declarative_p50": declarative_times.0, "declarative_p99": declarative_times.1,
            "module_p50": module_times.0, "module_p99": module_times.1,
        },
    }))
}
