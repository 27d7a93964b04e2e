//! `agora-bench messaging`: agent messaging under load, each against a baseline in the same run.
//! - A send answered by a handler: `senders` agents each send a message to bob and wait for his
//!   reply on their own event stream, again and again. Bob's reply is written either by his
//!   `auto-reply` Wasm handler inside the host, or the way toq runs a handler: the message read
//!   from bob's event stream, `sh -c` spawned with its text to make the same reply, and the
//!   reply sent back through `POST /v1/messages` (the baseline). Messages per second and the
//!   latency from the send to the reply's arrival.
//! - Fan-out: `subscribers` event streams open on one agent's inbox, one message sent to it, the
//!   time until each stream has it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_e2e::{guest, Options, Server};
use anyhow::Context;
use serde_json::{json, Value};
use tokio::sync::Mutex;

const WAIT: Duration = Duration::from_secs(30);

async fn start(backend: &str) -> Server {
    std::env::set_var("AGORA_TEST_BACKEND", backend);
    Server::start_with(Options::default().env("AGORA_LOG_LEVEL", "warn").env("AGORA_RATE_LIMIT_PER_MINUTE", "10000000"))
        .await
}

async fn agent(s: &Server, name: &str, cents: i64) -> anyhow::Result<(String, String)> {
    let (id, key) = s.register(&agora_e2e::random_name(name), json!({})).await;
    if cents > 0 {
        s.fund(&id, cents).await;
    }
    let card = s.get("/v1/card", Some(&key)).await;
    let address = card.body["address"].as_str().context("an address")?.to_string();
    Ok((key, address))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
}

fn summary(scenario: &str, mut latencies_ms: Vec<f64>, elapsed: Duration, errors: usize) -> Value {
    latencies_ms.sort_by(f64::total_cmp);
    json!({
        "scenario": scenario,
        "messages": latencies_ms.len(),
        "errors": errors,
        "per_second": latencies_ms.len() as f64 / elapsed.as_secs_f64(),
        "p50_ms": percentile(&latencies_ms, 0.5),
        "p99_ms": percentile(&latencies_ms, 0.99),
    })
}

/// `senders` agents each send `rounds` messages to `to` and wait for each reply.
async fn ping_pong(s: &Server, to: &str, senders: usize, rounds: usize, scenario: &str) -> anyhow::Result<Value> {
    let mut ready = Vec::new();
    for i in 0..senders {
        let (key, _) = agent(s, &format!("sender-{i}"), 0).await?;
        ready.push((key.clone(), s.sse("/v1/messages", &key, &[]).await));
    }
    let mut tasks = Vec::new();
    let started = Instant::now();
    for (key, mut live) in ready {
        let (http, base, to) = (reqwest::Client::new(), s.base.clone(), to.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            for r in 0..rounds {
                let sent = Instant::now();
                let body = json!({"to": to, "body": {"text": format!("message {r}")}});
                let ok = http.post(format!("{base}/v1/messages")).header("X-API-Key", &key).json(&body).send().await;
                if !ok.is_ok_and(|r| r.status().is_success()) {
                    errors += 1;
                    continue;
                }
                match live.next(WAIT).await {
                    Some(_) => latencies.push(sent.elapsed().as_secs_f64() * 1000.0),
                    None => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    Ok(summary(scenario, all, started.elapsed(), errors))
}

/// Answers bob's messages as toq does: read from his stream, `sh -c` per message, reply sent.
fn spawn_per_message_handler(
    s: &Server,
    key: String,
    mut live: agora_e2e::fixtures::sse::SseStream,
) -> tokio::task::JoinHandle<()> {
    let (http, base) = (reqwest::Client::new(), s.base.clone());
    let busy = Arc::new(Mutex::new(()));
    tokio::spawn(async move {
        while let Some(event) = live.next(Duration::from_secs(3600)).await {
            let m: Value = event.json();
            let (http, base, key, _busy) = (http.clone(), base.clone(), key.clone(), busy.clone());
            tokio::spawn(async move {
                let text = m["body"]["text"].as_str().unwrap_or_default().to_string();
                let out = tokio::process::Command::new("sh")
                    .args(["-c", r#"printf 'Thanks, received: %s' "$TOQ_TEXT""#])
                    .env("TOQ_TEXT", &text)
                    .output()
                    .await;
                let Ok(out) = out else { return };
                let reply = json!({"to": m["from"], "thread_id": m["thread_id"], "reply_to": m["id"],
                                   "body": {"text": String::from_utf8_lossy(&out.stdout)}});
                let _ = http.post(format!("{base}/v1/messages")).header("X-API-Key", &key).json(&reply).send().await;
            });
        }
    })
}

/// `subscribers` streams on one inbox; `messages` messages sent one at a time; per delivery, the
/// time from the send to its arrival on a stream.
async fn fan_out(s: &Server, subscribers: usize, messages: usize) -> anyhow::Result<Value> {
    let (key, address) = agent(s, "watched", 0).await?;
    let (sender, _) = agent(s, "announcer", 0).await?;
    let mut streams = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        streams.push(s.sse("/v1/messages", &key, &[]).await);
    }
    let streams: Vec<_> = streams.into_iter().map(|st| Arc::new(Mutex::new(st))).collect();
    let (mut latencies, mut errors, started) = (Vec::new(), 0, Instant::now());
    for i in 0..messages {
        let sent = Instant::now();
        let r =
            s.post("/v1/messages", Some(&sender), json!({"to": address, "body": {"text": format!("news {i}")}})).await;
        anyhow::ensure!(r.status.is_success(), "a send: {}", r.body);
        let waits: Vec<_> = streams
            .iter()
            .map(|st| {
                let st = st.clone();
                tokio::spawn(async move { st.lock().await.next(WAIT).await.map(|_| sent.elapsed()) })
            })
            .collect();
        for w in waits {
            match w.await? {
                Some(after) => latencies.push(after.as_secs_f64() * 1000.0),
                None => errors += 1,
            }
        }
    }
    let label = format!("one message to {subscribers} event streams of one inbox, per stream");
    Ok(summary(&label, latencies, started.elapsed(), errors))
}

pub async fn measure(backend: &str, senders: usize, rounds: usize, subscribers: usize) -> anyhow::Result<Value> {
    let s = start(backend).await;
    let mut results = Vec::new();

    let (wasm_bob, wasm_at) = agent(&s, "bob-wasm", 1_000_000).await?;
    let publisher = s.publisher(&wasm_bob).await;
    let r = s.publish(&publisher, &guest("auto-reply"), "handler", "auto-reply", json!({})).await;
    anyhow::ensure!(r.status.is_success(), "publishing auto-reply: {}", r.body);
    let component = r.body["component"]["id"].clone();
    let body = json!({"name": "auto", "component_id": component});
    anyhow::ensure!(s.post("/v1/handlers", Some(&wasm_bob), body).await.status.is_success(), "the handler");
    let _ = ping_pong(&s, &wasm_at, 4, 10, "warm-up").await?;
    results.push(ping_pong(&s, &wasm_at, senders, rounds, "send → reply, Wasm handler in the host").await?);

    let (shell_bob, shell_at) = agent(&s, "bob-shell", 0).await?;
    let live = s.sse("/v1/messages", &shell_bob, &[]).await;
    let handler = spawn_per_message_handler(&s, shell_bob, live);
    let _ = ping_pong(&s, &shell_at, 4, 10, "warm-up").await?;
    results.push(ping_pong(&s, &shell_at, senders, rounds, "send → reply, `sh -c` per message (toq's model)").await?);
    handler.abort();

    results.push(fan_out(&s, subscribers, 10).await?);
    s.assert_ledger_sound().await;
    Ok(json!({"backend": backend, "senders": senders, "rounds": rounds, "results": results}))
}
