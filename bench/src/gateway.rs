//! `agora-bench gateway`: what the model gateway adds to a chat completion's latency.
//!
//! A fake OpenAI-compatible upstream runs in this process; the same request is sent at a fixed
//! rate (open loop: each request leaves at its scheduled time, whether or not the earlier ones
//! have returned) first straight to the fake, then through Agora (routing, the reservation and
//! the settlement, both committed before the answer, the usage row), with the cache off so that
//! every request goes upstream. The added latency at a percentile is the gateway's percentile
//! less the direct one, both from the same run. Streams: the time to the first chunk, one
//! stream at a time, direct and through Agora.

use std::time::{Duration, Instant};

use agora_e2e::fixtures::fake_llm::FakeLlm;
use agora_e2e::{Options, Server};
use serde_json::{json, Value};

const MODEL: &str = "gpt-4o-mini";

fn body(stream: bool) -> Value {
    json!({"model": MODEL, "stream": stream, "max_tokens": 16,
           "messages": [{"role": "user", "content": "say something short"}]})
}

/// Sends one request every `1/rate` seconds for `seconds`; answers the latencies (ms) of those
/// that succeeded and the count of those that did not.
async fn open_loop(http: &reqwest::Client, url: &str, key: &str, rate: u32, seconds: u32) -> (Vec<f64>, usize) {
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let req = http.post(url).bearer_auth(key).json(&body(false));
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = match req.send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            };
            ok.then(|| t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let (mut latencies, mut errors) = (Vec::with_capacity(total), 0);
    for t in tasks {
        match t.await.ok().flatten() {
            Some(ms) => latencies.push(ms),
            None => errors += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    (latencies, errors)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(f64::NAN)
}

/// Time to the first `data:` line of a streamed completion, in ms, `n` streams one at a time.
async fn first_chunks(http: &reqwest::Client, url: &str, key: &str, n: usize) -> Vec<f64> {
    let mut found = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let Ok(mut r) = http.post(url).bearer_auth(key).json(&body(true)).send().await else { continue };
        let mut seen = Vec::new();
        while let Ok(Some(chunk)) = r.chunk().await {
            seen.extend_from_slice(&chunk);
            if seen.windows(5).any(|w| w == b"data:") {
                found.push(t.elapsed().as_secs_f64() * 1000.0);
                break;
            }
        }
        while let Ok(Some(_)) = r.chunk().await {}
    }
    found.sort_by(f64::total_cmp);
    found
}

pub async fn measure(backend: &str, rates: &[u32], seconds: u32) -> anyhow::Result<Value> {
    std::env::set_var("AGORA_TEST_BACKEND", backend);
    let fake = FakeLlm::start().await;
    let server = Server::start_with(
        Options::default()
            .env("AGORA_LOG_LEVEL", "warn")
            .env("AGORA_DB_MAX_CONNECTIONS", "32")
            .env("AGORA_OPENAI_BASE_URL", &fake.base_url())
            .env("AGORA_OPENAI_MODELS", &format!("fast={MODEL},auto={MODEL},max={MODEL}"))
            .env("AGORA_GATEWAY_CACHE_TTL_MS", "0")
            .env("AGORA_RATE_LIMIT_PER_MINUTE", "10000000"),
    )
    .await;
    let (_, agent) = server.buyer(1_000_000).await;
    let r = server.post("/v1/keys", Some(&agent), json!({"rate_limit_per_minute": 1_000_000})).await;
    anyhow::ensure!(r.status.is_success(), "making a runtime key: {}", r.body);
    let key = r.body["key"].as_str().unwrap_or_default().to_string();
    let http = reqwest::Client::builder().pool_max_idle_per_host(2048).tcp_nodelay(true).build()?;
    let (direct_url, gateway_url) =
        (format!("{}/chat/completions", fake.base_url()), server.url("/v1/chat/completions"));

    // Warm both paths (connections, the server's caches) before measuring.
    open_loop(&http, &direct_url, "sk-fake", 200, 1).await;
    open_loop(&http, &gateway_url, &key, 200, 1).await;
    let mut results = Vec::new();
    for &rate in rates {
        let (direct, direct_errors) = open_loop(&http, &direct_url, "sk-fake", rate, seconds).await;
        let (through, errors) = open_loop(&http, &gateway_url, &key, rate, seconds).await;
        results.push(json!({
            "rate_per_second": rate,
            "requests": rate * seconds,
            "errors": errors + direct_errors,
            "direct_p50_ms": pct(&direct, 0.5),
            "direct_p99_ms": pct(&direct, 0.99),
            "gateway_p50_ms": pct(&through, 0.5),
            "gateway_p99_ms": pct(&through, 0.99),
            "added_p50_ms": pct(&through, 0.5) - pct(&direct, 0.5),
            "added_p99_ms": pct(&through, 0.99) - pct(&direct, 0.99),
        }));
    }
    let direct = first_chunks(&http, &direct_url, "sk-fake", 200).await;
    let through = first_chunks(&http, &gateway_url, &key, 200).await;
    let usage = server.get("/v1/stats?days=1", Some(&agent)).await;
    server.assert_ledger_sound().await;
    Ok(json!({
        "backend": backend,
        "seconds_per_rate": seconds,
        "rates": results,
        "stream_first_chunk": {
            "streams": through.len(),
            "direct_p50_ms": pct(&direct, 0.5),
            "gateway_p50_ms": pct(&through, 0.5),
            "added_p50_ms": pct(&through, 0.5) - pct(&direct, 0.5),
            "added_p99_ms": pct(&through, 0.99) - pct(&direct, 0.99),
        },
        "settled_requests": usage.body["requests"],
    }))
}
