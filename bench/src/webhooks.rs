//! `agora-bench webhooks`: deliveries per second to a local receiver, and the lag from an event
//! to its delivery, while clients write events.
//!
//! `concurrency` listeners each list a capability of their own and have a webhook URL on a
//! receiver in this process; `concurrency` clients post tasks requiring one listener's
//! capability each, so every post records one `task.posted` event with one delivery. The lag of
//! a delivery is from the post's answer (its event committed) to the receiver's reading it. The
//! baseline, measured first in the same run, is the rate of the same posts when nobody listens:
//! deliveries cannot outrun the posts that make them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_e2e::{Options, Server};
use serde_json::{json, Value};

pub async fn measure(backend: &str, concurrency: usize, events: usize) -> anyhow::Result<Value> {
    std::env::set_var("AGORA_TEST_BACKEND", backend);
    let server = Server::start_with(
        Options::default()
            .env("AGORA_LOG_LEVEL", "warn")
            .env("AGORA_DB_MAX_CONNECTIONS", "32")
            .env("AGORA_ALLOW_PRIVATE_HTTP", "true"),
    )
    .await;
    let arrived: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let receiver = {
        let arrived = arrived.clone();
        let app = axum::Router::new().fallback(move |body: String| {
            let arrived = arrived.clone();
            async move {
                let task: Value = serde_json::from_str(&body).unwrap_or_default();
                let id = task["task"]["id"].as_str().unwrap_or_default().to_string();
                arrived.lock().unwrap().insert(id, Instant::now());
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    };
    let run = agora_e2e::random_name("hooks");
    for i in 0..concurrency {
        let (_, key) = server.register(&format!("{run}-l{i}"), json!({"capabilities": [format!("cap-{i}")]})).await;
        let r = server.post("/api/agents/me/webhooks", Some(&key), json!({"webhookUrl": receiver})).await;
        anyhow::ensure!(r.status.is_success(), "setting a webhook: {}", r.body);
    }
    let mut posters = Vec::new();
    for i in 0..concurrency {
        let (_, key) = server.buyer(events as i64).await;
        posters.push((key, format!("cap-{i}")));
    }

    let http = reqwest::Client::new();
    let per_client = events / concurrency;
    // The baseline, in the same run: the same posts requiring a capability nobody listens for.
    let unheard: Vec<_> = posters.iter().map(|(key, _)| (key.clone(), "cap-nobody".to_string())).collect();
    let baseline_started = Instant::now();
    post_all(&http, &server.url("/api/tasks"), unheard, per_client, Arc::default()).await?;
    let posts_per_second = (per_client * concurrency) as f64 / baseline_started.elapsed().as_secs_f64();

    let started = Instant::now();
    let posted: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    post_all(&http, &server.url("/api/tasks"), posters, per_client, posted.clone()).await?;
    let total = per_client * concurrency;
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrived.lock().unwrap().len() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let (posted, arrived) = (posted.lock().unwrap().clone(), arrived.lock().unwrap().clone());
    let mut lags: Vec<f64> = posted
        .iter()
        .filter_map(|(id, at)| Some(arrived.get(id)?.saturating_duration_since(*at).as_secs_f64() * 1000.0))
        .collect();
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| lags.get(((lags.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0);
    server.assert_ledger_sound().await;
    Ok(json!({
        "backend": backend,
        "events": total,
        "delivered": arrived.len(),
        "seconds": elapsed.as_secs_f64(),
        "deliveries_per_second": arrived.len() as f64 / elapsed.as_secs_f64(),
        "baseline_posts_per_second": posts_per_second,
        "deliveries_to_baseline_posts": arrived.len() as f64 / elapsed.as_secs_f64() / posts_per_second,
        "lag_p50_ms": pct(0.5),
        "lag_p99_ms": pct(0.99),
    }))
}

/// Every poster posts `per_client` tasks requiring its capability, all posters at once; the
/// moment each task's post was answered goes into `posted`.
async fn post_all(
    http: &reqwest::Client,
    url: &str,
    posters: Vec<(String, String)>,
    per_client: usize,
    posted: Arc<Mutex<HashMap<String, Instant>>>,
) -> anyhow::Result<()> {
    let clients: Vec<_> = posters
        .into_iter()
        .map(|(key, capability)| {
            let (http, url, posted) = (http.clone(), url.to_string(), posted.clone());
            tokio::spawn(async move {
                for n in 0..per_client {
                    let body = json!({"title": format!("t{n}"), "description": "d", "budget": 1,
                        "required_capabilities": [capability]});
                    let r = http.post(&url).header("X-API-Key", &key).json(&body).send().await;
                    let Ok(r) = r else { continue };
                    let v: Value = r.json().await.unwrap_or_default();
                    if let Some(id) = v["data"]["id"].as_str() {
                        posted.lock().unwrap().insert(id.to_string(), Instant::now());
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.await?;
    }
    Ok(())
}
