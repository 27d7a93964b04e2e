//! Hostile components are contained: the right error, a full refund, a host that keeps
//! serving, bounded memory, and books that still balance.

use std::time::{Duration, Instant};

use agora_e2e::{Options, Server, StatusCode};
use serde_json::json;

/// Tight limits; fuel is plentiful so that the wall-clock limit is what stops `spin`.
fn limits() -> Options {
    Options::default()
        .env("AGORA_EXEC_FUEL", "1000000000000")
        .env("AGORA_FUEL_PER_CENT", "1000000000000")
        .env("AGORA_EXEC_TIMEOUT_MS", "1000")
        .env("AGORA_EXEC_MEMORY_BYTES", "33554432")
        .env("AGORA_EXEC_MAX_OUTPUT_BYTES", "65536")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hostile_guest_gets_the_right_error_and_a_full_refund() {
    let s = Server::start_with(limits()).await;
    let (_, buyer) = s.buyer(10_000).await;
    for (guest, code) in [
        ("spin", "timeout"),
        ("hog", "memory_limit"),
        ("recurse", "trap"),
        ("panic", "trap"),
        ("flood", "output_too_large"),
        ("sneaky", "capability_denied"),
    ] {
        let (agent, worker_key, _) = s.component_agent(guest, 10, json!({})).await;
        let before = s.balance(&buyer).await;
        // flood: 1 MiB to each of stdout and stderr, a 2 MiB result against the 64 KiB limit.
        let params =
            if guest == "flood" { json!({"stdout_mib": 1, "stderr_mib": 1, "result_mib": 2}) } else { json!(null) };
        let r = s
            .post(
                "/api/execute",
                Some(&buyer),
                json!({"agent_id": agent, "task_description": "go", "budget": 100, "params": params}),
            )
            .await;
        r.assert_error(422, code);
        assert_eq!(s.balance(&buyer).await, before, "{guest}: refunded in full");
        assert_eq!(s.balance(&worker_key).await, 100, "{guest}: the worker earns nothing");
        let id = r.body["error"]["details"]["executionId"].as_str().unwrap().to_string();
        let e = s.get(&format!("/api/executions/{id}"), Some(&buyer)).await;
        assert_eq!(e.body["data"]["status"], "failed");
        assert_eq!(e.body["data"]["error"]["code"], code);
        assert_eq!(e.body["data"]["cost"]["refunded_cents"], 100, "{}", e.body);
    }
    // With its defaults (64 MiB each way) flood is stopped by the memory or the time limit.
    let (flood, _, _) = s.component_agent("flood", 0, json!({})).await;
    let r = s.execute(&buyer, &flood, "go", 10).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(["memory_limit", "timeout"].contains(&r.body["error"]["code"].as_str().unwrap()), "{}", r.body);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn spin_runs_out_of_fuel_when_fuel_is_the_tighter_limit() {
    let s = Server::start_with(limits().env("AGORA_EXEC_FUEL", "5000000")).await;
    let (agent, _, _) = s.component_agent("spin", 0, json!({})).await;
    let (_, buyer) = s.buyer(0).await;
    s.execute(&buyer, &agent, "go", 10).await.assert_error(422, "out_of_fuel");
    assert_eq!(s.balance(&buyer).await, 100);
}

#[tokio::test]
async fn escape_gets_nothing_from_the_host() {
    let s = Server::start_with(limits()).await;
    let (agent, _, _) = s.component_agent("escape", 0, json!({})).await;
    let (_, buyer) = s.buyer(0).await;
    let r = s.execute(&buyer, &agent, "try", 10).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let report: serde_json::Value = serde_json::from_str(r.body["data"]["result"].as_str().unwrap()).unwrap();
    let text = report.to_string();
    assert!(!text.contains("root:"), "no /etc/passwd: {text}");
    assert!(!text.contains("AGORA_") && !text.contains(&s.operator_key), "no host environment: {text}");
    assert_eq!(report["env vars"], json!([]), "{text}");
    assert_eq!(report["args"], json!([]), "{text}");
    let probes = report.as_object().unwrap();
    for probe in [
        "read /etc/passwd",
        "read /proc/self/environ",
        "list /",
        "write /tmp/agora-escape",
        "tcp 127.0.0.1:22",
        "udp bind",
    ] {
        assert!(probes[probe].get("error").is_some(), "{probe} must fail: {text}");
    }
    for (probe, outcome) in probes {
        if probe != "current dir" && outcome.is_object() {
            assert!(outcome.get("ok").is_none(), "{probe} succeeded: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_keeps_serving_while_spin_and_hog_run() {
    let s = Server::start_with(limits().env("AGORA_EXEC_TIMEOUT_MS", "3000")).await;
    let (spin, _, _) = s.component_agent("spin", 0, json!({})).await;
    let (hog, _, _) = s.component_agent("hog", 0, json!({})).await;
    let (_, buyer) = s.buyer(1_000).await;
    let mut running = Vec::new();
    for agent in [&spin, &spin, &hog, &hog] {
        let (s2, buyer, agent) = (s.http.clone(), buyer.clone(), agent.clone());
        let url = s.url("/api/execute");
        running.push(tokio::spawn(async move {
            s2.post(url)
                .header("X-API-Key", buyer)
                .json(&json!({"agent_id": agent, "task_description": "go", "budget": 10}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let db = agora::db::Db::connect(&s.database_url, 1).await.unwrap();
    // The hogs may already have hit their memory limit; the spins run until their deadline.
    agora_e2e::eventually("both spins to be running", Duration::from_secs(10), || async {
        let running: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM executions WHERE status = 'running' AND agent_id = $1")
                .bind(&spin)
                .fetch_one(&*db.read)
                .await
                .unwrap();
        (running == 2).then_some(())
    })
    .await;
    db.close().await;
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let r = s.http.get(s.url("/health")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        slowest = slowest.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(slowest < Duration::from_millis(100), "/health took {slowest:?} while guests ran");
    for r in running {
        assert_eq!(r.await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(s.balance(&buyer).await, 1_100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_hostile_runs_leave_memory_bounded_and_books_sound() {
    let s = Server::start_with(limits().env("AGORA_EXEC_TIMEOUT_MS", "300").env("AGORA_EXEC_FUEL", "200000000")).await;
    let mut agents = Vec::new();
    for guest in ["spin", "hog", "recurse", "panic", "flood", "sneaky", "escape", "echo"] {
        agents.push((guest, s.component_agent(guest, 3, json!({})).await.0));
    }
    let (_, buyer) = s.buyer(100_000).await;
    let start_balance = s.balance(&buyer).await;
    let run_batch = |n: usize| {
        let jobs: Vec<_> = (0..n)
            .map(|i| {
                let (http, url, key) = (s.http.clone(), s.url("/api/execute"), buyer.clone());
                let (guest, agent) = agents[i % agents.len()].clone();
                tokio::spawn(async move {
                    let r = http
                        .post(url)
                        .header("X-API-Key", key)
                        .json(&json!({"agent_id": agent, "task_description": "go", "budget": 5}))
                        .send()
                        .await
                        .unwrap();
                    (guest, r.status())
                })
            })
            .collect();
        futures::future::join_all(jobs)
    };
    // Warm up: compile caches, pools, allocator arenas.
    for r in run_batch(40).await {
        r.unwrap();
    }
    let warm = s.rss_bytes();
    let mut succeeded = 0;
    for _ in 0..5 {
        for r in run_batch(40).await {
            let (guest, status) = r.unwrap();
            let ok = matches!(guest, "escape" | "echo");
            assert_eq!(status.is_success(), ok, "{guest} -> {status}");
            succeeded += usize::from(ok);
        }
    }
    let after = s.rss_bytes();
    assert!(warm > 0 && after > 0, "reads /proc/<pid>/status");
    assert!(after < warm + 64 * 1024 * 1024, "RSS grew from {warm} to {after} over 200 hostile runs");
    assert!(after < 512 * 1024 * 1024, "RSS {after} over the 512 MiB ceiling");

    // Every successful run cost exactly the price (3 cents); every failure was refunded.
    let spent = start_balance - s.balance(&buyer).await;
    let warm_successes = 10; // 40 warm-up runs over 8 agents, 2 of which succeed
    assert_eq!(spent, 3 * (succeeded as i64 + warm_successes));
    let report = s.assert_ledger_sound().await;
    assert_eq!(report["escrowCents"], 0);
}
