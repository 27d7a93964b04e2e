//! The AI gateway end to end, against a fake upstream on loopback: runtime keys and their scope,
//! routing by mode with fallback in each failure mode (streams included), the cache, workspace
//! budgets, exact metering through the ledger, and the official OpenAI Python client.

mod inside;
mod local_endpoints;
mod media;
mod provider_keys;
mod usage;

use agora_e2e::fixtures::fake_llm::{Behaviour, FakeLlm};
use agora_e2e::{Options, Server, StatusCode};
use serde_json::{json, Value};

/// A host whose upstreams are the fake: `auto` tries `primary` (failing as the test sets it)
/// then `backup` on another upstream; `fast` and `max` have one model each; prices are high
/// enough that a few words cost cents; `one` also has a model for each media route. Upstream `one` takes accounts' OpenAI keys, `two` their
/// Anthropic keys.
pub(super) async fn gateway(fake: &FakeLlm, extra: &[(&str, &str)]) -> Server {
    let file = tempfile::NamedTempFile::new().unwrap();
    let base = fake.base_url();
    let text = format!(
        "[[upstream]]\nname = \"one\"\nkind = \"openai\"\nprovider = \"openai\"\nbase_url = \"{base}\"\n\
         api_key = \"sk-upstream-one\"\n\
         timeout_ms = 3000\nfirst_byte_timeout_ms = 1000\n\
         [[upstream.model]]\nname = \"primary\"\nmodes = [\"auto\"]\ninput_per_1m = 100\noutput_per_1m = 200\n\
         capabilities = [\"chat\", \"tools\"]\n\
         [[upstream.model]]\nname = \"quick\"\nmodes = [\"fast\"]\ninput_per_1m = 10\noutput_per_1m = 20\n\
         [[upstream.model]]\nname = \"tools\"\ninput_per_1m = 10\noutput_per_1m = 20\ncapabilities = [\"chat\", \"tools\"]\n\
         [[upstream.model]]\nname = \"nomic-embed\"\ninput_per_1m = 50\noutput_per_1m = 0\ncapabilities = [\"embeddings\"]\n\
         [[upstream.model]]\nname = \"dall-e-3\"\nmodes = [\"auto\"]\ncapabilities = [\"images\"]\nunit_price = 0.04\n\
         [[upstream.model]]\nname = \"gpt-image-1\"\ncapabilities = [\"images\"]\nunit_price = 0.05\n\
         [[upstream.model]]\nname = \"tts-1\"\ncapabilities = [\"speech\"]\nunit_price = 0.015\n\
         [[upstream.model]]\nname = \"whisper-1\"\ncapabilities = [\"transcription\"]\nunit_price = 0.006\n\
         [[upstream.model]]\nname = \"sora-2\"\ncapabilities = [\"video\"]\nunit_price = 0.1\n\
         [[upstream]]\nname = \"two\"\nkind = \"anthropic\"\nprovider = \"anthropic\"\nbase_url = \"{base}\"\n\
         api_key = \"sk-upstream-two\"\n\
         timeout_ms = 3000\nfirst_byte_timeout_ms = 1000\n\
         [[upstream.model]]\nname = \"backup\"\nmodes = [\"auto\", \"max\"]\ninput_per_1m = 300\noutput_per_1m = 600\n\
         capabilities = [\"chat\", \"tools\"]\n"
    );
    std::fs::write(file.path(), text).unwrap();
    let (_, path) = file.keep().unwrap();
    let mut options = Options::default()
        .env("AGORA_GATEWAY_UPSTREAMS_FILE", path.to_str().unwrap())
        .env("AGORA_GATEWAY_BREAKER_FAILURES", "1000")
        .env("AGORA_SIGNUP_CREDITS", "0");
    for (k, v) in extra {
        options = options.env(k, v);
    }
    Server::start_with(options).await
}

pub(super) fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]})
}

pub(super) async fn runtime_key(s: &Server, agent_key: &str, body: Value) -> (String, String) {
    let r = s.post("/v1/keys", Some(agent_key), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let key = r.body["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("tok_") && r.body["prefix"].as_str().is_some_and(|p| key.starts_with(p)));
    (r.body["id"].as_str().unwrap().to_string(), key)
}

/// micro-USD from a USD number in a usage row.
pub(super) fn micros(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 1e6).round() as i64
}

#[tokio::test]
async fn runtime_keys_reach_only_runtime_routes_and_revoke_at_once() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (_, agent) = s.buyer(1_000).await;
    let (key_id, key) =
        runtime_key(&s, &agent, json!({"name": "prod", "workspace_id": "acme", "metadata": {"team": "a"}})).await;
    let listed = s.get("/v1/keys", Some(&agent)).await;
    assert_eq!(listed.body["data"][0]["workspace_id"], json!("acme"));
    assert_eq!(listed.body["data"][0]["lastUsedAt"], Value::Null);
    assert!(listed.body.to_string().find(&key).is_none(), "a key is shown once");

    for (method, path) in
        [("GET", "/v1/keys"), ("POST", "/v1/workspaces"), ("GET", "/api/agents/wallet"), ("GET", "/api/agents/me")]
    {
        let r = s.request(method, path, Some(&key), Some(json!({}))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("Session authentication required"));
    }
    assert_eq!(s.get("/v1/models", Some(&key)).await.body["data"][0]["id"], json!("auto"));
    assert_eq!(s.get("/v1/balance", Some(&key)).await.status, StatusCode::OK);
    let r = s.post("/v1/chat/completions", Some(&key), chat("auto", "hello there")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(s.get("/v1/keys", Some(&agent)).await.body["data"][0]["lastUsedAt"].is_string());

    let (_, stranger) = s.buyer(0).await;
    s.request("DELETE", &format!("/v1/keys/{key_id}"), Some(&stranger), None).await.assert_error(404, "not_found");
    assert_eq!(
        s.request("DELETE", &format!("/v1/keys/{key_id}"), Some(&agent), None).await.body["deleted"],
        json!(true)
    );
    let r = s.post("/v1/chat/completions", Some(&key), chat("auto", "again")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "revoked at once: {}", r.body);
    assert_eq!(r.body["error"]["message"].as_str().map(|m| !m.is_empty()), Some(true));
}

#[tokio::test]
async fn fallback_in_each_failure_mode_records_every_attempt() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (_, agent) = s.buyer(10_000).await;
    for (i, failure) in
        [Behaviour::Status(500), Behaviour::Status(429), Behaviour::Reset, Behaviour::Hang].into_iter().enumerate()
    {
        fake.set("primary", failure.clone());
        let before = (fake.attempts("primary"), fake.attempts("backup"));
        let r = s.post("/v1/chat/completions", Some(&agent), chat("auto", &format!("try {i}"))).await;
        assert_eq!(r.status, StatusCode::OK, "{failure:?}: {}", r.body);
        assert_eq!(r.body["model"], json!("auto"), "the mode is echoed, the upstream hidden");
        assert_eq!(r.body["choices"][0]["message"]["content"], json!(format!("echo: try {i}")));
        assert_eq!((fake.attempts("primary"), fake.attempts("backup")), (before.0 + 1, before.1 + 1), "{failure:?}");
    }
    // A request the upstream refuses as bad is not retried elsewhere.
    fake.set("primary", Behaviour::Status(400));
    let backup = fake.attempts("backup");
    let r = s.post("/v1/chat/completions", Some(&agent), chat("auto", "bad")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["type"], json!("invalid_request_error"));
    assert_eq!(fake.attempts("backup"), backup);

    let usage = s.get("/v1/usage?limit=10", Some(&agent)).await;
    let rows = usage.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "failed requests are not usage: {}", usage.body);
    assert!(rows.iter().all(|r| r["provider"] == json!("two") && r["tier"] == json!("auto")));
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn streams_fall_back_before_the_first_byte_and_end_with_usage() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (_, agent) = s.buyer(10_000).await;
    fake.set("primary", Behaviour::Reset);
    let mut body = chat("auto", "one two three");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = s.http.post(s.url("/v1/chat/completions")).bearer_auth(&agent).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(*events.last().unwrap(), "data: [DONE]", "{text}");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    let content: String =
        chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/content").and_then(Value::as_str)).collect();
    assert_eq!(content, "echo: one two three");
    assert!(chunks.iter().all(|c| c["model"] == json!("auto") && c["object"] == json!("chat.completion.chunk")));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["total_tokens"].as_i64().unwrap() > 0, "{last}");
    let usage = s.get("/v1/usage?limit=1", Some(&agent)).await.body;
    assert_eq!(last["usage"]["cost"], usage["data"][0]["charged_usd"], "the stream's charge in its last chunk");

    // A stream that breaks after its first chunk cannot fall back: the client gets the error.
    fake.set("primary", Behaviour::StreamError);
    body["messages"][1]["content"] = json!("broken stream please");
    let text = s
        .http
        .post(s.url("/v1/chat/completions"))
        .bearer_auth(&agent)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"error\"") && !text.contains("[DONE]"), "{text}");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn the_second_identical_call_is_a_free_cache_hit() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (_, agent) = s.buyer(10_000).await;
    let first = s.post("/v1/chat/completions", Some(&agent), chat("fast", "cache me")).await;
    assert_eq!(first.headers["x-tokaroo-cache"], "miss");
    assert!(first.headers["x-tokaroo-cost"].to_str().unwrap().parse::<f64>().unwrap() > 0.0);
    let attempts = fake.attempts("quick");
    let second = s.post("/v1/chat/completions", Some(&agent), chat("fast", "cache me")).await;
    assert_eq!(
        (second.headers["x-tokaroo-cache"].to_str().unwrap(), second.headers["x-tokaroo-cost"].to_str().unwrap()),
        ("hit", "0.000000")
    );
    assert_eq!(second.body["choices"], first.body["choices"]);
    assert_eq!(fake.attempts("quick"), attempts, "a hit never reaches the upstream");
    let bypass = s
        .request_with(
            "POST",
            "/v1/chat/completions",
            &agent,
            chat("fast", "cache me"),
            &[("cache-control", "no-cache")],
        )
        .await;
    assert_eq!(bypass.headers["x-tokaroo-cache"], "miss");
    assert_eq!(fake.attempts("quick"), attempts + 1);
    // Another account never sees this account's entries.
    let (_, other) = s.buyer(1_000).await;
    assert_eq!(
        s.post("/v1/chat/completions", Some(&other), chat("fast", "cache me")).await.headers["x-tokaroo-cache"],
        "miss"
    );
}

#[tokio::test]
async fn a_workspace_budget_stops_requests_before_any_upstream_call() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (_, agent) = s.buyer(10_000).await;
    let w = s
        .post(
            "/v1/workspaces",
            Some(&agent),
            json!({"workspace_id": "tight", "name": "Tight", "monthly_budget_usd": 0.5}),
        )
        .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.body);
    s.post("/v1/workspaces", Some(&agent), json!({"workspace_id": "tight", "name": "again"}))
        .await
        .assert_error(409, "conflict");
    let (_, key) = runtime_key(&s, &agent, json!({"workspace_id": "tight"})).await;
    let mut small = chat("fast", "short");
    small["max_tokens"] = json!(10);
    assert_eq!(s.post("/v1/chat/completions", Some(&key), small.clone()).await.status, StatusCode::OK);
    let attempts = fake.attempts("primary") + fake.attempts("backup");
    // Without max_tokens the worst case is 4,096 completion tokens at $600/1M: past $0.50.
    let r = s.post("/v1/chat/completions", Some(&key), chat("auto", "a long answer please")).await;
    r.assert_error(402, "budget_exceeded");
    assert_eq!(r.headers["x-should-retry"], "false");
    assert_eq!(fake.attempts("primary") + fake.attempts("backup"), attempts, "refused before any upstream call");
    let raised =
        s.request("PATCH", "/v1/workspaces/tight", Some(&agent), Some(json!({"monthly_budget_usd": null}))).await;
    assert_eq!(raised.body["monthly_budget_usd"], Value::Null, "{}", raised.body);
    assert_eq!(
        s.post("/v1/chat/completions", Some(&key), chat("auto", "a long answer please")).await.status,
        StatusCode::OK
    );
    let (_, stranger) = s.buyer(0).await;
    s.request("PATCH", "/v1/workspaces/tight", Some(&stranger), Some(json!({"name": "mine"})))
        .await
        .assert_error(404, "not_found");
    let usage = s.get("/v1/usage", Some(&key)).await;
    assert!(usage.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["workspace_id"] == json!("tight") && r["provider"] == json!("")));
}

#[tokio::test]
async fn exact_cents_after_mixed_calls_and_refusals_without_money() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[("AGORA_GATEWAY_MARKUP_BPS", "2500")]).await;
    let (_, agent) = s.buyer(20_000).await;
    let before = s.balance(&agent).await;
    fake.set("primary", Behaviour::Status(503));
    let mut served = 0;
    for i in 0..200 {
        let mode = ["auto", "fast", "max", "auto"][i % 4];
        let mut body = chat(mode, &format!("call number {i} {}", "word ".repeat(i % 20)));
        if i % 3 == 0 {
            body["max_tokens"] = json!(3);
        }
        if i % 5 == 0 {
            body["stream"] = json!(true);
        }
        let r = s.post("/v1/chat/completions", Some(&agent), body).await;
        assert_eq!(r.status, StatusCode::OK, "{i}: {}", r.body);
        served += 1;
        if i % 7 == 0 {
            let r =
                s.post("/v1/embeddings", Some(&agent), json!({"model": "nomic-embed", "input": ["a b", "c"]})).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            served += 1;
        }
    }
    let usage = s.get("/v1/usage?limit=1000", Some(&agent)).await;
    let rows = usage.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), served);
    let charged: i64 = rows.iter().map(|r| micros(&r["charged_usd"])).sum();
    let cost: i64 = rows.iter().map(|r| micros(&r["actual_cost_usd"])).sum();
    assert!(charged >= cost + cost / 4, "the markup is charged: {charged} vs {cost}");
    assert_eq!(before - s.balance(&agent).await, charged / 10_000, "the wallet paid the whole cents of every charge");
    s.assert_ledger_sound().await;

    // Refusals move no money: no balance, no provider, bad input.
    let (_, broke) = s.register(&agora_e2e::random_name("broke"), json!({})).await;
    let r = s.post("/v1/chat/completions", Some(&broke), chat("auto", "hi")).await;
    r.assert_error(402, "billing_required");
    s.post("/v1/chat/completions", Some(&agent), chat("gpt-nothing", "hi"))
        .await
        .assert_error(503, "provider_not_configured");
    s.post("/v1/chat/completions", Some(&agent), json!({"model": "auto", "messages": []}))
        .await
        .assert_error(400, "invalid_request");
    s.post(
        "/v1/chat/completions",
        Some(&agent),
        json!({"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}),
    )
    .await
    .assert_error(400, "invalid_request");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn the_official_openai_python_client_works_unmodified() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (_, agent) = s.buyer(10_000).await;
    let (_, limited) = runtime_key(&s, &agent, json!({"rate_limit_per_minute": 1})).await;
    let (revoked_id, revoked) = runtime_key(&s, &agent, json!({})).await;
    s.request("DELETE", &format!("/v1/keys/{revoked_id}"), Some(&agent), None).await;
    let (_, broke) = s.register(&agora_e2e::random_name("broke"), json!({})).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = tokio::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/python/openai_client.py"))
        .env("OPENAI_BASE_URL", s.url("/v1"))
        .env("OPENAI_API_KEY", &agent)
        .env("AGORA_BAD_KEY", &revoked)
        .env("AGORA_BROKE_KEY", &broke)
        .env("AGORA_LIMITED_KEY", &limited)
        .env("AGORA_UNAVAILABLE_MODEL", "gpt-nothing")
        .env("AGORA_TOOLS_MODEL", "tools")
        .env("AGORA_EMBEDDING_MODEL", "nomic-embed")
        .output()
        .await
        .expect("the test venv (scripts/setup.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let found: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        found["errors"],
        json!({"401": "AuthenticationError", "402": "APIStatusError", "429": "RateLimitError", "503": "InternalServerError"})
    );
    assert_eq!(found["cache"], json!("hit"), "{found}");
    assert_eq!(found["tools"]["name"], json!("get_weather"), "{found}");
    s.assert_ledger_sound().await;
}
