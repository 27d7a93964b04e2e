//! Restart, graceful shutdown, the CLI, readiness and the OpenAPI document.

use std::time::Duration;

use agora_e2e::{Server, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn everything_survives_a_restart() {
    let mut s = Server::start().await;
    let (id, key) = s.register("Persistent", json!({"capabilities": ["memory"], "ownerEmail": "p@example.com"})).await;
    s.post("/api/agents/wallet/deposit", Some(&key), json!({"amountCents": 4242})).await;
    let idem = s.post_idempotent("/api/agents/wallet/deposit", &key, "before-restart", json!({"amountCents": 8})).await;
    assert_eq!(idem.status, StatusCode::OK);
    let before = s.get("/api/agents/wallet", Some(&key)).await.body;

    s.restart().await;

    let me = s.get("/api/agents/me", Some(&key)).await;
    assert_eq!(me.status, StatusCode::OK, "the API key still works");
    assert_eq!(me.body["agent"]["id"], id);
    assert_eq!(me.body["agent"]["ownerEmail"], "p@example.com");
    assert_eq!(s.get("/api/agents/wallet", Some(&key)).await.body, before, "same balance and history");
    assert_eq!(s.get("/api/agents?capability=memory", None).await.body["meta"]["total"], 1);
    let replay =
        s.post_idempotent("/api/agents/wallet/deposit", &key, "before-restart", json!({"amountCents": 8})).await;
    assert!(replay.replayed(), "idempotency records persist");
    assert_eq!(s.balance(&key).await, 4350);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests() {
    let mut s = Server::start().await;
    let (_, key) = s.register("Slow Sender", json!({})).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let body = json!({"amountCents": 777}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /api/agents/wallet/deposit HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    // Nothing outside the server shows that it has read the head; give it the time to.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let pid = s.pid().to_string();
    tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    // New connections are no longer accepted...
    agora_e2e::eventually("the listener to close after SIGTERM", Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(&addr).await.is_err().then_some(())
    })
    .await;
    // ...but the request already under way completes.
    conn.write_all(tail.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut response)).await.unwrap().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"balanceAfter\":877"), "{response}");
    assert!(s.stop_after_signal().await.success());
}

#[tokio::test]
async fn cli_migrate_ledger_check_and_operator_keys() {
    let s = Server::start().await;
    let (_, key) = s.register("Cli", json!({})).await;
    s.post("/api/agents/wallet/deposit", Some(&key), json!({"amountCents": 50})).await;

    let out = s.command().arg("migrate").output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = s.command().args(["admin", "ledger-check"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["totalCents"], 0);
    assert_eq!(report["walletsCents"], 150);

    let out = s.command().args(["admin", "create-operator-key", "--name", "second"]).output().await.unwrap();
    assert!(out.status.success());
    let new_key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(new_key.starts_with("op_"));
    let r = s.get("/api/admin/ledger/check", Some(&new_key)).await;
    assert_eq!(r.status, StatusCode::OK, "the new operator key works at once: {}", r.body);

    let made = s.post("/api/admin/operator-keys", Some(&new_key), json!({"name": "third"})).await;
    assert_eq!(made.status, StatusCode::CREATED);
    let third = made.body["key"].as_str().unwrap();
    assert_eq!(s.get("/api/admin/ledger/check", Some(third)).await.status, StatusCode::OK);
    s.post("/api/admin/operator-keys", Some(&key), json!({"name": "nope"})).await.assert_error(403, "forbidden");

    let out = s.command().arg("version").output().await.unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("agora "));
    let bad = s.command().env("AGORA_PLATFORM_FEE_BPS", "20000").arg("migrate").output().await.unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("platform_fee_bps"));
}

#[tokio::test]
async fn first_start_without_an_operator_key_prints_one_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = agora_e2e::fresh_database_url(dir.path()).await;
    let run = || async {
        let mut cmd = tokio::process::Command::new(agora_e2e::agora_bin());
        cmd.env_clear()
            .env("AGORA_DATABASE_URL", &url)
            .env("AGORA_DATA_DIR", dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
        let mut text = String::new();
        loop {
            let mut line = String::new();
            tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line).await.unwrap();
            text.push_str(&line);
            if line.starts_with("agora listening on") || line.is_empty() {
                break;
            }
        }
        child.kill().await.unwrap();
        text
    };
    let first = run().await;
    let key =
        first.lines().find_map(|l| l.strip_prefix("operator key (shown once, store it): ")).expect(&first).to_string();
    assert!(key.starts_with("op_") && key.len() == 51);
    let second = run().await;
    assert!(!second.contains("operator key"), "shown only once: {second}");
}

#[tokio::test]
async fn health_ready_and_openapi() {
    let s = Server::start().await;
    let h = s.get("/health", None).await;
    assert_eq!(h.body["status"], "ok");
    let r = s.get("/ready", None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("ready")));

    let api = s.get("/openapi.json", None).await;
    assert_eq!(api.status, StatusCode::OK);
    assert!(api.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = api.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/agents/register", "post"),
        ("/api/agents/claim", "post"),
        ("/api/agents/me", "get"),
        ("/api/agents/me", "patch"),
        ("/api/agents/me/setup", "get"),
        ("/api/agents/me/webhook", "put"),
        ("/api/agents", "get"),
        ("/api/agents/{id}", "get"),
        ("/api/agents/wallet", "get"),
        ("/api/wallet", "get"),
        ("/api/agents/wallet/deposit", "post"),
        ("/api/agents/wallet/withdraw", "post"),
        ("/api/agents/wallet/payouts", "get"),
        ("/api/admin/ledger/check", "get"),
        ("/api/admin/operator-keys", "post"),
        ("/health", "get"),
        ("/ready", "get"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from /openapi.json");
    }
    // docs/api.md describes every documented endpoint.
    let doc = std::fs::read_to_string(agora_testkit::repo_root().join("docs/api.md")).unwrap();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let line = format!("{} {path}", method.to_uppercase());
            assert!(doc.contains(&line), "docs/api.md lacks `{line}`");
        }
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let s = Server::start_with(agora_e2e::Options::default().env("AGORA_LOG_FORMAT", "json")).await;
    let r = s.http.get(s.url("/api/agents/nope")).header("x-request-id", "find-me-in-the-log").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The access log line is written when the response completes.
    let line = agora_e2e::eventually("a log line with the request id", Duration::from_secs(5), || async {
        s.log().lines().find(|l| l.contains("find-me-in-the-log")).map(str::to_string)
    })
    .await;
    let v: serde_json::Value = serde_json::from_str(&line).expect("log lines are JSON");
    assert_eq!(v["span"]["request_id"], "find-me-in-the-log", "{line}");
    for l in s.log().lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|_| panic!("not JSON: {l}"));
    }
}
