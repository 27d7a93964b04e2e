//! Bad input gets a clear 4xx in the one error shape, and changes nothing.

use agora_e2e::{Options, Server, StatusCode};
use serde_json::json;

#[tokio::test]
async fn malformed_wrong_and_missing_input() {
    let s = Server::start().await;
    let raw = |path: &'static str, body: &'static str| {
        s.http.post(s.url(path)).header("content-type", "application/json").body(body).send()
    };
    let check = |resp: reqwest::Response, status: u16, code: &'static str| async move {
        let r = agora_e2e::Reply::from(resp).await;
        r.assert_error(status, code);
    };
    check(raw("/api/agents/register", "{\"name\":").await.unwrap(), 400, "malformed_json").await;
    check(raw("/api/agents/register", "not json").await.unwrap(), 400, "malformed_json").await;
    check(raw("/api/agents/register", "").await.unwrap(), 400, "malformed_json").await;
    check(raw("/api/agents/register", "{}").await.unwrap(), 422, "validation_error").await;
    check(raw("/api/agents/register", "[]").await.unwrap(), 422, "validation_error").await;
    check(raw("/api/agents/register", "{\"name\": 5}").await.unwrap(), 422, "validation_error").await;
    check(
        raw("/api/agents/register", "{\"name\": \"x\", \"capabilities\": \"research\"}").await.unwrap(),
        422,
        "validation_error",
    )
    .await;
    check(
        raw("/api/agents/register", "{\"name\": \"x\", \"price_per_task\": -1}").await.unwrap(),
        422,
        "validation_error",
    )
    .await;
    check(
        raw("/api/agents/register", "{\"name\": \"x\", \"price_per_task\": 99999999999999999999}").await.unwrap(),
        422,
        "validation_error",
    )
    .await;
    check(
        raw("/api/agents/register", "{\"name\": \"x\", \"ownerEmail\": \"nope\"}").await.unwrap(),
        422,
        "validation_error",
    )
    .await;
    check(
        raw("/api/agents/register", "{\"name\": \"x\", \"webhook_url\": \"ftp://files.example.com\"}").await.unwrap(),
        422,
        "validation_error",
    )
    .await;
    check(raw("/api/agents/register", "{\"name\": \"\\u0000bad\"}").await.unwrap(), 422, "validation_error").await;
    check(raw("/api/agents/claim", "{\"token\": null}").await.unwrap(), 422, "validation_error").await;
    // Nothing above registered anything.
    assert_eq!(s.get("/api/agents", None).await.body["meta"]["total"], 0);
}

#[tokio::test]
async fn urls_must_be_https_unless_the_operator_allows_http() {
    let s = Server::start_with(Options::default().env("AGORA_ALLOW_INSECURE_URLS", "false")).await;
    for field in ["webhook_url", "endpointUrl"] {
        s.post("/api/agents/register", None, json!({"name": "Insecure", field: "http://bot.example.com/x"}))
            .await
            .assert_error(422, "validation_error");
    }
    let ok = s
        .post("/api/agents/register", None, json!({"name": "Secure", "webhook_url": "https://bot.example.com/x"}))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_routes_methods_and_ids() {
    let s = Server::start().await;
    s.get("/api/nothing-here", None).await.assert_error(404, "not_found");
    s.get("/api/agents/does-not-exist", None).await.assert_error(404, "not_found");
    s.request("DELETE", "/api/agents/register", None, None).await.assert_error(405, "method_not_allowed");
    s.request("PUT", "/api/wallet", None, None).await.assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn oversize_bodies_are_413() {
    let s = Server::start_with(Options::default().env("AGORA_MAX_BODY_BYTES", "4096")).await;
    let (_, key) = s.register("Small", json!({})).await;
    let big = json!({"name": "x", "description": "y".repeat(10_000)});
    s.post("/api/agents/register", None, big.clone()).await.assert_error(413, "payload_too_large");
    let r = s.request("PATCH", "/api/agents/me", Some(&key), Some(json!({"description": "z".repeat(10_000)}))).await;
    r.assert_error(413, "payload_too_large");
    // Through the idempotency layer too.
    s.post_idempotent("/api/agents/wallet/deposit", &key, "big", json!({"amountCents": 1, "pad": "p".repeat(10_000)}))
        .await
        .assert_error(413, "payload_too_large");
    assert_eq!(s.balance(&key).await, 100);
}

#[tokio::test]
async fn every_response_has_a_request_id_and_rate_limit_headers() {
    let s = Server::start().await;
    let r = s.get("/api/agents", None).await;
    assert!(r.headers.get("x-request-id").is_some_and(|v| v.len() >= 32));
    assert_eq!(r.headers["x-ratelimit-limit"], "1000000");
    let err = s.get("/api/nope", None).await;
    assert!(err.headers.get("x-request-id").is_some());
    // A request id the client sends is kept.
    let mine = s.http.get(s.url("/health")).header("x-request-id", "trace-me-123").send().await.unwrap();
    assert_eq!(mine.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn rate_limits_per_key_with_429_and_retry_after() {
    let s = Server::start_with(Options::default().env("AGORA_RATE_LIMIT_PER_MINUTE", "5")).await;
    // Registration itself counts against the client address.
    let (_, key) = s.register("Throttled", json!({})).await;
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let r = s.get("/api/agents/me", Some(&key)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["x-ratelimit-limit"], "5");
        remaining.push(r.headers["x-ratelimit-remaining"].to_str().unwrap().parse::<u32>().unwrap());
    }
    assert_eq!(remaining, vec![4, 3, 2, 1, 0]);
    let limited = s.get("/api/agents/me", Some(&key)).await;
    limited.assert_error(429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry), "retry-after {retry}");
    // Another key has its own allowance; health checks are never limited.
    let other = agora_e2e::new_operator_key();
    let r = s.get("/api/agents/me", Some(&other)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "its own bucket, then a bad key");
    for _ in 0..10 {
        assert_eq!(s.get("/health", None).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn garbage_never_causes_a_server_error() {
    let s = Server::start().await;
    let (_, key) = s.register("Fuzzed", json!({})).await;
    let bodies = [
        "null",
        "true",
        "0",
        "\"str\"",
        "{\"name\": []}",
        "{\"name\": {}}",
        "{\"amountCents\": null}",
        "{\"amountCents\": 9223372036854775807}",
        "{\"amountCents\": -9223372036854775808}",
        "{\"amountCents\": 1, \"agentId\": 5}",
        "{\"token\": \"\"}",
        "{\"webhook_url\": \"\"}",
        "\u{feff}{}",
        "{\"name\": \"\u{202e}\"}",
        "{\"capabilities\": [1, 2]}",
    ];
    let paths = [
        ("POST", "/api/agents/register"),
        ("POST", "/api/agents/claim"),
        ("PATCH", "/api/agents/me"),
        ("PUT", "/api/agents/me/webhook"),
        ("POST", "/api/agents/wallet/deposit"),
        ("POST", "/api/agents/wallet/withdraw"),
        ("POST", "/api/admin/operator-keys"),
    ];
    for (method, path) in paths {
        for body in bodies {
            let resp = s
                .http
                .request(method.parse().unwrap(), s.url(path))
                .header("X-API-Key", &key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let r = agora_e2e::Reply::from(resp).await;
            assert!(status.is_client_error() || status.is_success(), "{method} {path} {body:?} -> {status} {}", r.body);
            if status.is_client_error() {
                assert!(r.body["error"]["code"].is_string(), "{method} {path}: {}", r.body);
            }
        }
    }
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn odd_paths_headers_queries_and_content_types_get_clear_errors() {
    let s = Server::start().await;
    let (_, key) = s.register("Picky", json!({})).await;
    // Bytes that are not UTF-8 in a path parameter: the JSON error shape, not plain text.
    let r = agora_e2e::Reply::from(s.http.get(s.url("/api/agents/%ff")).send().await.unwrap()).await;
    r.assert_error(400, "invalid_path");
    let r = agora_e2e::Reply::from(s.http.get(s.url("/api/tasks/%ff%fe")).send().await.unwrap()).await;
    r.assert_error(400, "invalid_path");
    // An oversized or odd request id is replaced, not echoed or logged.
    let long = "r".repeat(7000);
    let resp = s.http.get(s.url("/health")).header("x-request-id", &long).send().await.unwrap();
    let echoed = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(echoed.len() <= 128 && echoed != long, "{}", echoed.len());
    assert!(!s.log().contains(&long[..200]));
    // A NUL in a search is refused rather than matching everything.
    s.get("/api/agents?q=%00", None).await.assert_error(400, "invalid_query");
    s.get("/api/components?q=a%00b", None).await.assert_error(400, "invalid_query");
    // A body declared as something other than JSON is 415.
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let resp = s
            .http
            .post(s.url("/api/agents/wallet/deposit"))
            .header("X-API-Key", &key)
            .header("content-type", ct)
            .body("{\"amountCents\": 5}")
            .send()
            .await
            .unwrap();
        agora_e2e::Reply::from(resp).await.assert_error(415, "unsupported_media_type");
    }
    assert_eq!(s.balance(&key).await, 100);
}

#[tokio::test]
async fn urls_that_reach_inside_are_refused_when_saved() {
    let s = Server::start().await;
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://198.18.0.1/hook",
        "http://100.64.0.1/hook",
        "http://localhost/hook",
        "http://metadata.google.internal/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://192.0.0.170/hook",
    ] {
        s.post("/api/agents/register", None, json!({"name": agora_e2e::random_name("inside"), "webhook_url": url}))
            .await
            .assert_error(422, "validation_error");
        s.post("/api/agents/register", None, json!({"name": agora_e2e::random_name("inside"), "endpoint_url": url}))
            .await
            .assert_error(422, "validation_error");
    }
    let (_, key) = s.register("Outside", json!({"webhook_url": "https://hooks.example.com/x"})).await;
    s.request("PUT", "/api/agents/me/webhook", Some(&key), Some(json!({"webhook_url": "http://10.0.0.1/x"})))
        .await
        .assert_error(422, "validation_error");
    s.request("PATCH", "/api/agents/me", Some(&key), Some(json!({"endpointUrl": "http://192.168.1.1/x"})))
        .await
        .assert_error(422, "validation_error");
}
