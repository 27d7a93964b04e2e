//! Provider keys an account brings (BYOK): tried before the operator's key for their provider,
//! billed a fee, kept current by use, never shown, and never the reason a request fails.

use agora_e2e::fixtures::fake_llm::FakeLlm;
use agora_e2e::StatusCode;
use serde_json::{json, Value};

use super::{chat, gateway, micros, runtime_key};

const SECRET: &str = "sk-byok-SECRET-d41d8cd98f";
const ANTHROPIC_SECRET: &str = "sk-ant-SECRET-0cc175b9c0";

/// The keys the fake saw on chat requests, newest last.
fn keys_seen(fake: &FakeLlm) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.path == "/v1/chat/completions" || r.path == "/v1/messages")
        .filter_map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k == "authorization" || k == "x-api-key")
                .map(|(_, v)| v.trim_start_matches("Bearer ").to_string())
        })
        .collect()
}

async fn key_status(s: &agora_e2e::Server, agent: &str, id: &str) -> Value {
    let list = s.get("/v1/provider-keys", Some(agent)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(!list.body.to_string().contains("SECRET"), "a secret in a listing: {}", list.body);
    list.body["data"].as_array().unwrap().iter().find(|k| k["id"] == json!(id)).cloned().unwrap_or(Value::Null)
}

async fn last_usage(s: &agora_e2e::Server, agent: &str) -> Value {
    s.get("/v1/usage?limit=1", Some(agent)).await.body["data"][0].clone()
}

#[tokio::test]
async fn byok_keys_serve_first_for_a_fee_and_fall_back_to_managed() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[("AGORA_GATEWAY_BYOK_FEE_BPS", "1000")]).await;
    let (_, agent) = s.buyer(10_000).await;
    let (_, runtime) = runtime_key(&s, &agent, json!({})).await;

    // Refusals first: nothing is stored.
    let body = |p: &str, secret: &str| json!({"provider": p, "secret": secret});
    s.post("/v1/provider-keys", Some(&agent), body("azure", SECRET)).await.assert_error(400, "invalid_request");
    s.post("/v1/provider-keys", Some(&agent), body("openai", " ")).await.assert_error(400, "invalid_request");
    let mut in_nowhere = body("openai", SECRET);
    in_nowhere["workspace_id"] = json!("nowhere");
    s.post("/v1/provider-keys", Some(&agent), in_nowhere).await.assert_error(404, "not_found");
    s.post("/v1/provider-keys", Some(&runtime), body("openai", SECRET)).await.assert_error(403, "forbidden");
    s.get("/v1/provider-keys", Some(&runtime)).await.assert_error(403, "forbidden");
    assert_eq!(s.get("/v1/provider-keys", Some(&agent)).await.body["data"], json!([]));

    let mut openai = body("openai", SECRET);
    openai["label"] = json!("mine");
    let created = s.post("/v1/provider-keys", Some(&agent), openai).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!((created.body["created"].clone(), created.body["label"].clone()), (json!(true), json!("mine")));
    assert!(!created.body.to_string().contains("SECRET"));
    let key_id = created.body["id"].as_str().unwrap().to_string();

    // The account's key is used first, and billed the fee on what managed would have cost.
    let r = s.post("/v1/chat/completions", Some(&runtime), chat("fast", "with my own key")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(keys_seen(&fake).last().map(String::as_str), Some(SECRET));
    let row = last_usage(&s, &agent).await;
    assert_eq!(row["billing_mode"], json!("byok"), "{row}");
    let cost = micros(&row["actual_cost_usd"]);
    assert!(cost > 0);
    assert_eq!(micros(&row["charged_usd"]), (cost + 9) / 10, "10% of the managed price: {row}");
    let status = key_status(&s, &agent, &key_id).await;
    assert_eq!(status["status"], json!("active"));
    assert!(status["last_success_at"].is_string(), "{status}");

    // A key the provider refuses is marked invalid and skipped; the request is served managed.
    fake.refuse_key(SECRET, 401);
    let r = s.post("/v1/chat/completions", Some(&agent), chat("fast", "my key was revoked")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(keys_seen(&fake).last().map(String::as_str), Some("sk-upstream-one"));
    assert_eq!(last_usage(&s, &agent).await["billing_mode"], json!("managed"));
    let status = key_status(&s, &agent, &key_id).await;
    assert_eq!(
        (status["status"].clone(), status["last_failure_code"].clone()),
        (json!("invalid"), json!("status_401")),
        "{status}"
    );
    let seen = keys_seen(&fake).iter().filter(|k| k.as_str() == SECRET).count();
    assert_eq!(s.post("/v1/chat/completions", Some(&agent), chat("fast", "again")).await.status, StatusCode::OK);
    assert_eq!(keys_seen(&fake).iter().filter(|k| k.as_str() == SECRET).count(), seen, "an invalid key is skipped");

    // A rate-limited key records when it resets.
    let anthropic = s.post("/v1/provider-keys", Some(&agent), body("anthropic", ANTHROPIC_SECRET)).await;
    let anthropic_id = anthropic.body["id"].as_str().unwrap().to_string();
    fake.refuse_key(ANTHROPIC_SECRET, 429);
    let r = s.post("/v1/chat/completions", Some(&agent), chat("max", "rate limited")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(keys_seen(&fake).last().map(String::as_str), Some("sk-upstream-two"));
    let status = key_status(&s, &agent, &anthropic_id).await;
    assert_eq!(status["status"], json!("rate_limited"), "{status}");
    assert!(status["estimated_reset_at"].is_string() && status["last_failure_at"].is_string(), "{status}");

    // Deleting is at once, and only by the owner.
    let (_, stranger) = s.buyer(100).await;
    let path = format!("/v1/provider-keys/{anthropic_id}");
    s.request("DELETE", &path, Some(&stranger), None).await.assert_error(404, "not_found");
    assert_eq!(s.get("/v1/provider-keys", Some(&stranger)).await.body["data"], json!([]));
    assert_eq!(s.request("DELETE", &path, Some(&agent), None).await.body["deleted"], json!(true));
    s.request("DELETE", &path, Some(&agent), None).await.assert_error(404, "not_found");
    assert_eq!(key_status(&s, &agent, &anthropic_id).await, Value::Null);

    assert!(!s.log().contains("SECRET"), "a provider key reached the log");
    s.assert_ledger_sound().await;
}
