//! An account's self-hosted endpoints: checked and discovered at registration and again by the
//! scheduler, tried first while healthy (billed a share of the baseline), with managed routing
//! as the fallback; the outbound guard refuses internal addresses unless the operator allows them.

use std::time::Duration;

use agora_e2e::fixtures::fake_llm::{Behaviour, FakeLlm};
use agora_e2e::{eventually, StatusCode};
use serde_json::{json, Value};

use super::{chat, gateway, micros};

async fn last_usage(s: &agora_e2e::Server, agent: &str) -> Value {
    s.get("/v1/usage?limit=1", Some(agent)).await.body["data"][0].clone()
}

/// A loopback address nothing listens on.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn the_outbound_guard_refuses_internal_endpoints_by_default() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (_, agent) = s.buyer(100).await;
    for url in [format!("http://{}", fake.addr), "http://169.254.169.254/".into(), "ftp://example.com".into()] {
        s.post("/v1/local-endpoints", Some(&agent), json!({"url": url})).await.assert_error(400, "invalid_request");
    }
    assert_eq!(s.get("/v1/local-endpoints", Some(&agent)).await.body["data"], json!([]));
}

#[tokio::test]
async fn healthy_local_endpoints_serve_first_and_fall_back_to_managed() {
    let fake = FakeLlm::start().await;
    let local = FakeLlm::start().await;
    let s = gateway(&fake, &[("AGORA_ALLOW_PRIVATE_HTTP", "true"), ("AGORA_GATEWAY_LOCAL_RECHECK_MS", "1000")]).await;
    let (_, agent) = s.buyer(10_000).await;

    let registered = s
        .post(
            "/v1/local-endpoints",
            Some(&agent),
            json!({"url": format!("http://{}", local.addr), "label": "home", "default_model": "llama3.2",
                   "headers": {"Authorization": "Bearer internal-token-7f3a"}}),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    let e = registered.body;
    assert_eq!((e["status"].clone(), e["has_headers"].clone()), (json!("healthy"), json!(true)), "{e}");
    assert!(e["models"].as_array().unwrap().contains(&json!("llama3.2")));
    assert!(!e.to_string().contains("internal-token"));
    let id = e["id"].as_str().unwrap().to_string();

    // Served by the endpoint, with its headers, billed 5% of the baseline.
    let r = s.post("/v1/chat/completions", Some(&agent), chat("auto", "from my own box")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["model"], json!("auto"));
    let seen =
        local.requests().into_iter().rfind(|r| r.path == "/v1/chat/completions").expect("the endpoint was called");
    assert!(seen.body.contains("llama3.2"));
    assert!(seen.headers.contains(&("authorization".into(), "Bearer internal-token-7f3a".into())));
    let row = last_usage(&s, &agent).await;
    assert_eq!((row["billing_mode"].clone(), row["provider"].clone()), (json!("local"), json!("local:home")), "{row}");
    let baseline = micros(&row["baseline_usd"]);
    assert!(baseline > 0);
    assert_eq!(micros(&row["charged_usd"]), (baseline * 500 + 9_999) / 10_000, "{row}");
    assert_eq!(micros(&row["actual_cost_usd"]), 0);

    // A failing endpoint falls back to managed routing.
    local.set("llama3.2", Behaviour::Status(500));
    let r = s.post("/v1/chat/completions", Some(&agent), chat("auto", "my box is broken")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(last_usage(&s, &agent).await["billing_mode"], json!("managed"));
    local.set("llama3.2", Behaviour::Ok);

    let models = s.get(&format!("/v1/local-endpoints/{id}/models"), Some(&agent)).await;
    assert!(models.body["data"].as_array().unwrap().iter().any(|m| m["id"] == json!("llama3.2")), "{}", models.body);

    // Moved somewhere unreachable: saved as such at once, and skipped.
    let moved = s
        .request("PATCH", &format!("/v1/local-endpoints/{id}"), Some(&agent), Some(json!({"url": closed_port().await})))
        .await;
    assert_eq!(moved.body["status"], json!("unreachable"), "{}", moved.body);
    assert!(moved.body["last_error"].is_string());
    let calls = local.requests().len();
    assert_eq!(s.post("/v1/chat/completions", Some(&agent), chat("auto", "skip it")).await.status, StatusCode::OK);
    assert_eq!(local.requests().len(), calls);

    // Down at registration, healthy after the scheduler's recheck.
    let late = FakeLlm::start().await;
    late.set_down(true);
    let second = s.post("/v1/local-endpoints", Some(&agent), json!({"url": format!("http://{}/v1", late.addr)})).await;
    assert_eq!(second.body["status"], json!("unreachable"), "{}", second.body);
    let second_id = second.body["id"].as_str().unwrap().to_string();
    late.set_down(false);
    eventually("the recheck job finds the endpoint healthy", Duration::from_secs(15), || async {
        let list = s.get("/v1/local-endpoints", Some(&agent)).await.body;
        let found = list["data"].as_array()?.iter().find(|e| e["id"] == json!(second_id))?.clone();
        (found["status"] == json!("healthy")).then_some(())
    })
    .await;
    let rechecked = s.post(&format!("/v1/local-endpoints/{second_id}/recheck"), Some(&agent), json!({})).await;
    assert_eq!(rechecked.body["status"], json!("healthy"));

    // Strangers see none of it; bad changes are refused.
    let (_, stranger) = s.buyer(100).await;
    for (method, path) in [
        ("GET", format!("/v1/local-endpoints/{id}/models")),
        ("POST", format!("/v1/local-endpoints/{id}/recheck")),
        ("DELETE", format!("/v1/local-endpoints/{id}")),
    ] {
        s.request(method, &path, Some(&stranger), None).await.assert_error(404, "not_found");
    }
    let path = format!("/v1/local-endpoints/{id}");
    let patch = |body: Value| s.request("PATCH", &path, Some(&agent), Some(body));
    patch(json!({"label": ""})).await.assert_error(400, "invalid_request");
    patch(json!({"colour": "red"})).await.assert_error(400, "invalid_request");
    patch(json!({"headers": {"bad header": "x"}})).await.assert_error(400, "invalid_request");
    assert_eq!(
        s.request("DELETE", &format!("/v1/local-endpoints/{id}"), Some(&agent), None).await.status,
        StatusCode::OK
    );
    s.get(&format!("/v1/local-endpoints/{id}/models"), Some(&agent)).await.assert_error(404, "not_found");
    assert!(!s.log().contains("internal-token"));
    s.assert_ledger_sound().await;
}
