//! Skills under load, in a run of their own with its own `/health` baseline:
//! - a skill run directly (`POST /api/components/{id}/run`, the author's trial of the
//!   `markdown` skill) against the same skill called from a component (`POST /api/execute` of
//!   the `notes` agent, whose one `skills.call` is a licensed, paid run of its own): the
//!   difference is what a nested call costs;
//! - `GET /api/skills/verify` of one active key (cached after the first check) against
//!   `GET /health`.

use agora_e2e::{guest, Options, Server};
use anyhow::Context;
use serde_json::{json, Value};

use crate::{cpu, load};

pub async fn measure(backend: &str, out: &str, concurrency: usize, requests: usize) -> anyhow::Result<()> {
    std::env::set_var("AGORA_TEST_BACKEND", backend);
    let options = Options::default()
        .env("AGORA_LOG_LEVEL", "warn")
        .env("AGORA_DB_MAX_CONNECTIONS", "32")
        .env("AGORA_LICENSE_VERIFY_PER_MINUTE", "10000000");
    let server = Server::start_with(options).await;
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let (base, pid) = (server.base.clone(), server.pid());

    // The markdown skill, sold per call, and the notes agent licensed to call it.
    let (_, author_key) = server.register(&agora_e2e::random_name("author"), json!({})).await;
    let publisher = server.publisher(&author_key).await;
    let r = server.publish(&publisher, &guest("markdown"), "skill", "markdown", json!({})).await;
    anyhow::ensure!(r.status.is_success(), "publishing markdown: {}", r.body);
    let component = r.body["component"]["id"].as_str().context("component id")?.to_string();
    let listing = json!({"title": "Markdown", "category": "writing", "version": "1.0.0", "pricingModel": "PER_CALL",
                         "priceCents": 1, "componentId": component});
    let r = server.post("/api/skills", Some(&author_key), listing).await;
    anyhow::ensure!(r.status.is_success(), "listing markdown: {}", r.body);
    let skill = r.body["skill"]["id"].as_str().context("skill id")?.to_string();
    let (notes, notes_key, _) = server.component_agent("notes", 0, json!({"skills": true})).await;
    server.fund(&notes, 1_000_000).await;
    let r = server.post(&format!("/api/skills/{skill}/purchase"), Some(&notes_key), json!({})).await;
    anyhow::ensure!(r.status.is_success(), "buying markdown: {}", r.body);
    let license = r.body["purchase"]["licenseKey"].as_str().context("licence key")?.to_string();
    let mut buyers = Vec::new();
    for i in 0..concurrency {
        let (id, key) = server.register(&agora_e2e::random_name(&format!("buyer{i}")), json!({})).await;
        server.fund(&id, 1_000_000).await;
        buyers.push(key);
    }
    let buyers = std::sync::Arc::new(buyers);
    let markdown = json!({"markdown": "# Notes\n\nSome *emphasis* and a [link](https://example.com)."}).to_string();

    let _ = load(concurrency, concurrency * 4, {
        let (http, base) = (http.clone(), base.clone());
        move |_| http.get(format!("{base}/health"))
    })
    .await;
    let mut results: Vec<Value> = Vec::new();
    let cpu = cpu::Snapshot::take(pid);
    let mut health = load(concurrency, requests, {
        let (http, base) = (http.clone(), base.clone());
        move |_| http.get(format!("{base}/health"))
    })
    .await;
    results.push(health.json("GET /health (baseline, no database)", &cpu));

    let cpu = cpu::Snapshot::take(pid);
    let mut verify = load(concurrency, requests, {
        let (http, base, key) = (http.clone(), base.clone(), license.clone());
        move |_| http.get(format!("{base}/api/skills/verify")).header("X-License-Key", &key)
    })
    .await;
    results.push(verify.json("GET /api/skills/verify, one active key", &cpu));

    let runs = requests / 2;
    let cpu = cpu::Snapshot::take(pid);
    let mut direct = load(concurrency, runs, {
        let (http, base, key, component, input) =
            (http.clone(), base.clone(), author_key.clone(), component.clone(), markdown.clone());
        move |_| {
            http.post(format!("{base}/api/components/{component}/run"))
                .header("X-API-Key", &key)
                .json(&json!({"input": input, "budget": 2}))
        }
    })
    .await;
    results.push(direct.json("POST /api/components/{id}/run, the markdown skill run directly", &cpu));

    let cpu = cpu::Snapshot::take(pid);
    let mut nested = load(concurrency, runs, {
        let (http, base, buyers, notes, skill) =
            (http.clone(), base.clone(), buyers.clone(), notes.clone(), skill.clone());
        move |i| {
            http.post(format!("{base}/api/execute")).header("X-API-Key", &buyers[i % buyers.len()]).json(&json!({
                "agent_id": notes, "task_description": "# Notes\n\nSome *emphasis* and a [link](https://example.com).",
                "budget": 2, "params": {"skill": skill}}))
        }
    })
    .await;
    results.push(nested.json("POST /api/execute of an agent whose component makes one skills.call", &cpu));

    server.assert_ledger_sound().await;
    let doc = json!({ "backend": backend, "concurrency": concurrency, "results": results });
    std::fs::write(out, serde_json::to_string_pretty(&doc)?)?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
