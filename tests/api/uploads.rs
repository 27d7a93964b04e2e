//! What publishing may take from the host: per-agent quotas, memory kept for compiled
//! components, components that could never fit the memory limit; and who may sign them.

use agora_e2e::{bloat_variant, Options, Server, StatusCode};
use serde_json::json;

#[tokio::test]
async fn publishers_have_count_and_byte_quotas() {
    let s = Server::start_with(
        Options::default().env("AGORA_AGENT_MAX_COMPONENTS", "2").env("AGORA_AGENT_MAX_COMPONENT_BYTES", "35000000"),
    )
    .await;
    let (_, key) = s.register("Prolific", json!({})).await;
    let p = s.publisher(&key).await;
    for name in ["first", "second"] {
        let r = s.publish(&p, &agora_e2e::guest("echo"), "agent", name, json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = s.publish(&p, &agora_e2e::guest("echo"), "agent", "one-more", json!({})).await;
    r.assert_error(409, "quota_exceeded");

    let (_, other) = s.register("Heavy", json!({})).await;
    let p = s.publisher(&other).await;
    assert_eq!(s.publish(&p, &bloat_variant(3), "agent", "first", json!({})).await.status, StatusCode::CREATED);
    // Two of 20 MB would pass 35 MB.
    s.publish(&p, &bloat_variant(4), "agent", "heavy-second", json!({})).await.assert_error(409, "quota_exceeded");
    assert_eq!(s.get("/api/components?q=heavy-second", None).await.body["meta"]["total"], 0);
}

#[tokio::test]
async fn a_component_whose_memory_cannot_fit_is_refused_at_publish() {
    let s = Server::start_with(Options::default().env("AGORA_EXEC_MEMORY_BYTES", "16777216")).await;
    let (_, key) = s.register("Too Big", json!({})).await;
    let p = s.publisher(&key).await;
    let r = s.publish(&p, &bloat_variant(9), "agent", "bloat", json!({})).await;
    r.assert_error(422, "component_memory_too_large");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("16777216"));
}

#[tokio::test]
async fn the_413_names_the_real_limit() {
    let echo = agora_e2e::guest("echo");
    let limit = (echo.len() - 1).to_string();
    let s = Server::start_with(Options::default().env("AGORA_MAX_COMPONENT_BYTES", &limit)).await;
    let (_, key) = s.register("Oversize", json!({})).await;
    let p = s.publisher(&key).await;
    let r = s.publish(&p, &echo, "agent", "echo", json!({})).await;
    r.assert_error(413, "component_too_large");
    assert!(r.body["error"]["message"].as_str().unwrap().contains(&format!("limit of {limit} bytes")), "{}", r.body);
}

#[tokio::test]
async fn memory_for_compiled_components_stays_bounded_and_evicted_ones_still_run() {
    let s = Server::start_with(Options::default().env("AGORA_COMPILED_CACHE_BYTES", "41943040")).await;
    let (_, key) = s.register("Uploader", json!({})).await;
    let p = s.publisher(&key).await;
    let mut ids = Vec::new();
    let rss_before = s.rss_bytes();
    for variant in 1..=10u8 {
        let r = s.publish(&p, &bloat_variant(variant), "agent", &format!("bloat-{variant}"), json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.push(r.body["component"]["id"].as_str().unwrap().to_string());
    }
    let grown = s.rss_bytes().saturating_sub(rss_before);
    eprintln!("resident memory grew {} MiB over 10 uploads of 19 MiB components", grown >> 20);
    // Unbounded, this grew by 275 MiB: ten prepared components, and upload buffers the
    // allocator kept. Now two fit the 40 MiB cache and the buffers go back to the system.
    assert!(grown < 100 << 20, "grew {} MiB", grown >> 20);
    // The first one was evicted long ago; it runs again from its compiled artifact.
    let r = s.request("PATCH", "/api/agents/me", Some(&key), Some(json!({"componentId": ids[0]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (_, buyer) = s.buyer(100).await;
    let me = s.get("/api/agents/me", Some(&key)).await.body["agent"]["id"].as_str().unwrap().to_string();
    let run = s.execute(&buyer, &me, "abc", 10).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    assert_eq!(run.body["data"]["result"], "19922944 bytes, byte 90");
}

#[tokio::test]
async fn signing_keys_must_be_strong_and_belong_to_one_agent() {
    let s = Server::start().await;
    let (_, key) = s.register("Signer", json!({})).await;
    let weak = format!("01{}", "00".repeat(31));
    s.post("/api/agents/me/signing-keys", Some(&key), json!({"publicKey": weak}))
        .await
        .assert_error(422, "validation_error");
    let p = s.publisher(&key).await;
    // The same public key on a second agent is refused.
    let (_, other) = s.register("Copycat", json!({})).await;
    s.post("/api/agents/me/signing-keys", Some(&other), json!({"publicKey": p.signing.public_hex()}))
        .await
        .assert_error(409, "key_taken");
    // A forged "signature" made for the identity key verifies for nobody.
    let forged = format!("01{}", "00".repeat(63));
    let r = s
        .post(
            "/api/components",
            Some(&key),
            json!({"kind": "agent", "name": "forged", "version": "1.0.0", "signature": forged,
                   "component": base64_of(&agora_e2e::guest("echo"))}),
        )
        .await;
    r.assert_error(422, "invalid_signature");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
