//! `/api/execute` and execution records, end to end with real components and endpoints.

use std::time::Duration;

use agora_e2e::{eventually, Options, Server, StatusCode, TestHttp};
use hmac::Mac;
use serde_json::json;

#[tokio::test]
async fn echo_pays_the_worker_less_the_fee_and_refunds_the_rest() {
    let s = Server::start().await;
    let (worker, worker_key, component) = s.component_agent("echo", 40, json!({})).await;
    let (buyer, buyer_key) = s.buyer(1000).await;
    let r = s.execute(&buyer_key, &worker, "Write a haiku about distributed systems", 100).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(d["result"], "Write a haiku about distributed systems");
    assert_eq!(d["task_id"], d["execution_id"]);
    assert!(d["usage"]["fuel"].as_i64().unwrap() > 0);
    assert!(d["usage"]["memory_bytes"].as_i64().unwrap() > 0);
    assert_eq!(d["cost"]["price_cents"], 40);
    assert_eq!(d["cost"]["fee_cents"], 4);
    assert_eq!(d["cost"]["compute_cents"], 0, "a small run costs less than a cent of compute");
    assert_eq!(d["cost"]["refunded_cents"], 60);
    assert_eq!(r.body["balance"], 1100 - 40);
    assert_eq!(s.balance(&worker_key).await, 100 + 36);

    let id = d["execution_id"].as_str().unwrap();
    for key in [&buyer_key, &worker_key] {
        let e = s.get(&format!("/api/executions/{id}"), Some(key)).await;
        assert_eq!(e.status, StatusCode::OK, "{}", e.body);
        assert_eq!(e.body["data"]["status"], "succeeded");
        assert_eq!(e.body["data"]["buyer_id"], buyer);
        assert_eq!(e.body["data"]["component_id"], component);
        assert_eq!(e.body["data"]["result"], d["result"]);
    }
    let (_, stranger) = s.register("Stranger", json!({})).await;
    s.get(&format!("/api/executions/{id}"), Some(&stranger)).await.assert_error(404, "not_found");
    s.get("/api/executions/nope", Some(&stranger)).await.assert_error(404, "not_found");
    assert_eq!(s.get(&format!("/api/agents/{worker}"), None).await.body["agent"]["jobsCompleted"], 1);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn summarize_and_counter_do_real_work() {
    let s = Server::start().await;
    let (summarizer, _, _) = s.component_agent("summarize", 0, json!({})).await;
    let (counter, _, _) = s.component_agent("counter", 0, json!({"kv": true})).await;
    let (_, buyer) = s.buyer(0).await;
    let text = "Rust is a systems programming language. It guarantees memory safety without a garbage collector. \
        Cargo is its build tool. The borrow checker enforces memory safety rules at compile time. \
        Many people enjoy the weather. Memory safety and speed make Rust popular for systems programming.";
    let r = s.execute(&buyer, &summarizer, text, 5).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let summary = r.body["data"]["result"].as_str().unwrap();
    assert!(!summary.is_empty() && summary.len() < text.len(), "{summary}");
    assert!(summary.contains("memory safety"), "the most central sentences are kept: {summary}");
    assert!(!summary.contains("weather"), "{summary}");

    // The counter keeps its state in the agent's key-value store across executions.
    for expected in ["1", "2", "3"] {
        let r = s.execute(&buyer, &counter, "visits", 1).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["data"]["result"], expected);
    }
    let other = s.execute(&buyer, &counter, "other-key", 1).await;
    assert_eq!(other.body["data"]["result"], "1");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn every_example_guest_runs_through_the_api() {
    let s = Server::start_with(Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let site =
        TestHttp::start(|path, _| (200, vec![("content-type".into(), "text/plain".into())], format!("page at {path}")))
            .await;
    let (_, key) = s.register("Toolsmith", json!({})).await;
    let p = s.publisher(&key).await;
    let mut ids = std::collections::HashMap::new();
    for (name, kind, caps) in [
        ("markdown", "skill", json!({})),
        ("fetch", "skill", json!({"http": ["127.0.0.1"]})),
        ("spend-cap", "policy", json!({})),
        ("auto-reply", "handler", json!({})),
    ] {
        let r = s.publish(&p, &agora_e2e::guest(name), kind, name, caps).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.body);
        ids.insert(name, r.body["component"]["id"].as_str().unwrap().to_string());
    }
    let run = |name: &str, body: serde_json::Value| {
        let path = format!("/api/components/{}/run", ids[name]);
        let key = key.clone();
        let s = &s;
        async move { s.post(&path, Some(&key), body).await }
    };

    let md = run(
        "markdown",
        json!({"input": json!({"markdown": "# Title\n\nSome *emphasis* and `code`. <script>x</script>"}).to_string()}),
    )
    .await;
    assert_eq!(md.status, StatusCode::OK, "{}", md.body);
    assert_eq!(md.body["data"]["status"], "succeeded", "{}", md.body);
    let out: serde_json::Value = serde_json::from_str(md.body["data"]["result"].as_str().unwrap()).unwrap();
    let html = out["html"].as_str().unwrap();
    assert!(!html.contains("<script>"), "raw HTML is escaped: {html}");
    let bad = run("markdown", json!({"input": "not json"})).await;
    assert_eq!(bad.body["data"]["error"]["code"], "guest_error", "{}", bad.body);
    assert!(
        html.contains("<h1>Title</h1>") && html.contains("<em>emphasis</em>") && html.contains("<code>code</code>"),
        "{html}"
    );
    let described = run("markdown", json!({"describe": true})).await;
    assert_eq!(described.body["data"]["result"]["name"], "markdown", "{}", described.body);

    let fetched = run("fetch", json!({"input": json!({"url": site.url("/hello")}).to_string()})).await;
    assert_eq!(fetched.body["data"]["status"], "succeeded", "{}", fetched.body);
    let out: serde_json::Value = serde_json::from_str(fetched.body["data"]["result"].as_str().unwrap()).unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"], "page at /hello");

    for (amount, decision) in [(100, "allow"), (7_000, "require-approval"), (20_000, "deny")] {
        let r = run("spend-cap", json!({"action": {"kind": "spend", "actor": "someone", "amountCents": amount}})).await;
        assert_eq!(r.body["data"]["status"], "succeeded", "{}", r.body);
        assert_eq!(r.body["data"]["result"]["decision"], decision, "{amount}: {}", r.body);
    }

    let reply = run("auto-reply", json!({"message": {"from": "alice", "to": "bob", "content": "Hello there"}})).await;
    assert_eq!(reply.body["data"]["result"]["action"], "reply", "{}", reply.body);
    assert!(reply.body["data"]["result"]["content"].as_str().unwrap().contains("Hello there"));
    let bye = run("auto-reply", json!({"message": {"from": "alice", "to": "bob", "content": "bye"}})).await;
    assert_eq!(bye.body["data"]["result"]["action"], "close-thread", "{}", bye.body);

    // Only the publisher may run its components this way.
    let (_, stranger) = s.register("Stranger", json!({})).await;
    s.post(&format!("/api/components/{}/run", ids["markdown"]), Some(&stranger), json!({"input": "x"}))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn fetch_reaches_only_granted_public_hosts() {
    let site = TestHttp::start(|_, _| (200, vec![], "secret intranet page".into())).await;
    let target = json!({"url": site.url("/")}).to_string();
    // Private addresses are refused unless the operator allows them, even when granted.
    let strict = Server::start().await;
    let r = fetch_through_a_skill(&strict, json!({"http": ["127.0.0.1"]}), &target).await;
    assert_eq!(r.body["data"]["status"], "failed", "{}", r.body);
    assert!(!r.body.to_string().contains("secret intranet page"));
    // A host that was not granted is denied.
    let open = Server::start_with(Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let r = fetch_through_a_skill(&open, json!({"http": ["api.example.com"]}), &target).await;
    assert_eq!(r.body["data"]["status"], "failed", "{}", r.body);
    assert_eq!(r.body["data"]["error"]["code"], "capability_denied", "{}", r.body);
    assert!(site.seen.lock().unwrap().is_empty(), "no request reached the server");
}

/// Publishes the `fetch` skill with `grants` on `s` and runs it on `target`.
async fn fetch_through_a_skill(s: &Server, grants: serde_json::Value, target: &str) -> agora_e2e::Reply {
    let (_, key) = s.register("Fetcher", json!({})).await;
    let p = s.publisher(&key).await;
    let c = s.publish(&p, &agora_e2e::guest("fetch"), "skill", "fetch", grants).await;
    let id = c.body["component"]["id"].as_str().unwrap();
    s.post(&format!("/api/components/{id}/run"), Some(&key), json!({"input": target})).await
}

#[tokio::test]
async fn endpoint_agents_get_a_signed_request() {
    let s = Server::start_with(Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let remote = TestHttp::start(|_, body| {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        (
            200,
            vec![("content-type".into(), "application/json".into())],
            json!({"result": format!("done: {}", v["task_description"].as_str().unwrap())}).to_string(),
        )
    })
    .await;
    let (worker, worker_key) =
        s.register("Remote Bot", json!({"endpoint_url": remote.url("/execute"), "price_per_task": 15})).await;
    let secret =
        s.get("/api/agents/me", Some(&worker_key)).await.body["agent"]["endpointSecret"].as_str().unwrap().to_string();
    let (buyer, buyer_key) = s.buyer(100).await;
    let r = s.execute(&buyer_key, &worker, "Do this thing", 15).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["result"], "done: Do this thing");
    assert_eq!(r.body["balance"], 185);

    let seen = remote.seen.lock().unwrap();
    let (headers, path, body) = &seen[0];
    assert_eq!(path, "/execute");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(headers["x-agora-signature"], expected.as_str(), "the body is signed with the agent's secret");
    let sent: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(sent["caller_id"], buyer);
    assert_eq!(sent["budget"], 15);
}

#[tokio::test]
async fn endpoint_failures_refund_and_private_targets_are_refused() {
    let s = Server::start_with(Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let broken = TestHttp::start(|_, _| (500, vec![], "boom".into())).await;
    let (worker, _) = s.register("Broken Bot", json!({"endpoint_url": broken.url("/x"), "price_per_task": 10})).await;
    let (_, buyer) = s.buyer(0).await;
    let r = s.execute(&buyer, &worker, "please", 50).await;
    r.assert_error(422, "endpoint_error");
    assert!(r.body["error"]["details"]["executionId"].is_string());
    assert_eq!(s.balance(&buyer).await, 100, "refunded in full");

    // Without private targets allowed, an internal endpoint is refused when it is saved...
    let mut strict = Server::start_with(Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let (worker, _) = strict.register("Internal Bot", json!({"endpoint_url": broken.url("/x")})).await;
    let (_, buyer) = strict.buyer(0).await;
    strict.options = Options::default();
    strict.restart().await;
    strict
        .post("/api/agents/register", None, json!({"name": "Another", "endpoint_url": broken.url("/x")}))
        .await
        .assert_error(422, "validation_error");
    // ...and one saved while they were allowed is refused when it is called.
    strict.execute(&buyer, &worker, "please", 50).await.assert_error(422, "endpoint_refused");
    assert_eq!(strict.balance(&buyer).await, 100);
    strict.assert_ledger_sound().await;
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn refusals_before_any_money_moves() {
    let s = Server::start().await;
    let (echo, _, _) = s.component_agent("echo", 50, json!({})).await;
    let (prompted, _) = s.register("Prompted", json!({"system_prompt": "You are helpful"})).await;
    let (idle, _) = s.register("Idle", json!({})).await;
    let (me, buyer) = s.buyer(0).await;
    s.execute(&buyer, &echo, "x", 49).await.assert_error(422, "budget_too_low");
    s.execute(&buyer, &echo, "x", 101).await.assert_error(402, "insufficient_funds");
    s.execute(&buyer, &prompted, "x", 10).await.assert_error(503, "unavailable");
    s.execute(&buyer, &idle, "x", 10).await.assert_error(422, "agent_not_runnable");
    s.execute(&buyer, &me, "x", 10).await.assert_error(422, "validation_error");
    s.execute(&buyer, "no-such-agent", "x", 10).await.assert_error(404, "not_found");
    s.execute(&buyer, &echo, "", 60).await.assert_error(422, "validation_error");
    s.execute(&buyer, &echo, "x", 0).await.assert_error(422, "validation_error");
    s.execute(&buyer, &echo, "x", -5).await.assert_error(422, "validation_error");
    assert_eq!(s.balance(&buyer).await, 100);
    let w = s.get("/api/agents/wallet", Some(&buyer)).await;
    assert_eq!(w.body["transactions"].as_array().unwrap().len(), 1, "only the sign-up credit");
}

#[tokio::test]
async fn execute_honours_idempotency_keys() {
    let s = Server::start().await;
    let (counter, _, _) = s.component_agent("counter", 1, json!({"kv": true})).await;
    let (_, buyer) = s.buyer(0).await;
    let body = json!({"agent_id": counter, "task_description": "n", "budget": 5});
    let first = s.post_idempotent("/api/execute", &buyer, "run-once", body.clone()).await;
    let second = s.post_idempotent("/api/execute", &buyer, "run-once", body).await;
    assert!(second.replayed());
    assert_eq!(first.body, second.body);
    assert_eq!(first.body["data"]["result"], "1");
    assert_eq!(s.balance(&buyer).await, 99, "charged once");
    let r = s.execute(&buyer, &counter, "n", 5).await;
    assert_eq!(r.body["data"]["result"], "2", "the component ran once for the two requests");
}

#[tokio::test]
async fn a_failed_run_refunds_the_price_and_bills_the_compute_it_burned() {
    // 1 cent buys 10 million fuel here; a spin burns through its whole allowance.
    let s = Server::start_with(Options::default().env("AGORA_FUEL_PER_CENT", "10000000")).await;
    let (spin, spin_key, _) = s.component_agent("spin", 5, json!({})).await;
    let (_, buyer) = s.buyer(0).await;
    let r = s.execute(&buyer, &spin, "go", 25).await;
    r.assert_error(422, "out_of_fuel");
    let details = &r.body["error"]["details"];
    let compute = details["cost"]["compute_cents"].as_i64().unwrap();
    assert_eq!(compute, 20, "the whole budget beyond the price: {details}");
    assert_eq!(details["cost"]["price_cents"], 0, "the price is refunded");
    assert_eq!(details["cost"]["refunded_cents"], 5);
    assert_eq!(s.balance(&buyer).await, 100 - 20);
    assert_eq!(s.balance(&spin_key).await, 100, "the worker is not paid for a failure");
    let record = s.get(&format!("/api/executions/{}", details["executionId"].as_str().unwrap()), Some(&buyer)).await;
    assert_eq!(record.body["data"]["cost"]["compute_cents"], 20);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn trial_runs_are_paid_from_the_publishers_wallet() {
    let s = Server::start_with(Options::default().env("AGORA_FUEL_PER_CENT", "10000000")).await;
    let (_, key, component) = s.component_agent("spin", 0, json!({})).await;
    let r = s.post(&format!("/api/components/{component}/run"), Some(&key), json!({"input": "x", "budget": 7})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "failed");
    assert_eq!(r.body["data"]["cost"]["compute_cents"], 7);
    assert_eq!(r.body["data"]["balance"], 93);
    let record =
        s.get(&format!("/api/executions/{}", r.body["data"]["execution_id"].as_str().unwrap()), Some(&key)).await;
    assert_eq!(record.status, StatusCode::OK, "{}", record.body);
    assert_eq!(record.body["data"]["cost"]["compute_cents"], 7);
    // A publisher with nothing left cannot run trials for free.
    let (_, broke, component) = s.component_agent("echo", 0, json!({})).await;
    let t = s.post("/api/tasks", Some(&broke), json!({"title": "t", "description": "d", "budget": 100})).await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    s.post(&format!("/api/components/{component}/run"), Some(&broke), json!({"input": "x"}))
        .await
        .assert_error(402, "insufficient_funds");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn execution_records_keep_a_bounded_part_and_old_ones_are_pruned() {
    let mut s = Server::start_with(Options::default().env("AGORA_EXECUTION_RECORD_BYTES", "1024")).await;
    let (echo, _, _) = s.component_agent("echo", 0, json!({})).await;
    let (_, buyer) = s.buyer(0).await;
    let input = "long task ".repeat(9_900);
    let r = s.execute(&buyer, &echo, &input, 1).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["result"].as_str().unwrap().len(), input.trim().len(), "the answer is whole");
    let old = r.body["data"]["execution_id"].as_str().unwrap().to_string();
    let record = s.get(&format!("/api/executions/{old}"), Some(&buyer)).await.body["data"].clone();
    assert_eq!(record["input"].as_str().unwrap().len(), 1024);
    assert_eq!(record["input_truncated"], true);
    assert_eq!(record["result"].as_str().unwrap().len(), 1024);
    assert_eq!(record["result_truncated"], true);

    // Records older than the retention period go at the next sweep (one runs at start).
    let fresh = s.execute(&buyer, &echo, "short", 1).await.body["data"]["execution_id"].as_str().unwrap().to_string();
    let db = agora::db::Db::connect(&s.database_url, 1).await.unwrap();
    sqlx::query("UPDATE executions SET finished_at = 1 WHERE id = $1").bind(&old).execute(&db.direct).await.unwrap();
    db.close().await;
    s.restart().await;
    let gone = agora_e2e::eventually("the sweep at start to prune the old record", Duration::from_secs(10), || async {
        let r = s.get(&format!("/api/executions/{old}"), Some(&buyer)).await;
        (r.status != StatusCode::OK).then_some(r)
    })
    .await;
    gone.assert_error(404, "not_found");
    assert_eq!(s.get(&format!("/api/executions/{fresh}"), Some(&buyer)).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_evicted_from_the_compiled_cache_are_prepared_again_mid_run() {
    // A compiled-cache budget smaller than the large component: preparing either agent's
    // component evicts the other's, so concurrent runs of the two keep finding theirs gone.
    let s =
        std::sync::Arc::new(Server::start_with(Options::default().env("AGORA_COMPILED_CACHE_BYTES", "1048576")).await);
    let (echo, _, _) = s.component_agent("echo", 1, json!({})).await;
    let (bloat, _, _) = s.component_agent("bloat", 1, json!({})).await;
    let (_, buyer) = s.buyer(10_000).await;
    let runs: Vec<_> = (0..24)
        .map(|i| {
            let (s, buyer) = (s.clone(), buyer.clone());
            let agent = if i % 2 == 0 { echo.clone() } else { bloat.clone() };
            tokio::spawn(async move { s.execute(&buyer, &agent, "abc", 10).await })
        })
        .collect();
    for run in runs {
        let r = run.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    s.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_answer_is_not_kept_for_the_idempotency_key() {
    let s = std::sync::Arc::new(
        Server::start_with(
            Options::default()
                .env("AGORA_MAX_CONCURRENT_EXECUTIONS", "1")
                .env("AGORA_EXEC_QUEUE_TIMEOUT_MS", "100")
                .env("AGORA_EXEC_TIMEOUT_MS", "3000")
                .env("AGORA_EXEC_FUEL", "1000000000000")
                .env("AGORA_FUEL_PER_CENT", "1000000000000"),
        )
        .await,
    );
    let (spin, _, _) = s.component_agent("spin", 0, json!({})).await;
    let (echo, _, _) = s.component_agent("echo", 1, json!({})).await;
    let (_, buyer) = s.buyer(1_000).await;
    // The one slot is taken by a run that lasts until its time limit.
    let holder = {
        let (s, buyer) = (s.clone(), buyer.clone());
        tokio::spawn(async move { s.execute(&buyer, &spin, "go", 5).await })
    };
    eventually("the pool to be full", Duration::from_secs(10), || async {
        let probe = s.execute(&buyer, &echo, "probe", 5).await;
        (probe.status == StatusCode::SERVICE_UNAVAILABLE).then_some(())
    })
    .await;
    let body = json!({"agent_id": echo, "task_description": "kept?", "budget": 5});
    let busy = s.post_idempotent("/api/execute", &buyer, "after-busy", body.clone()).await;
    busy.assert_error(503, "busy");
    assert_eq!(holder.await.unwrap().status, StatusCode::UNPROCESSABLE_ENTITY, "spin ends at its time limit");

    // The same key runs now: the 503 was not the request's answer.
    let ran = s.post_idempotent("/api/execute", &buyer, "after-busy", body.clone()).await;
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.body);
    assert!(!ran.replayed());
    assert_eq!(ran.body["data"]["result"], "kept?");
    let again = s.post_idempotent("/api/execute", &buyer, "after-busy", body).await;
    assert!(again.replayed());
    s.assert_ledger_sound().await;
}
