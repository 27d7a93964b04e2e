//! Abuse limits: made-up keys get no fresh rate-limit buckets, registration has its own
//! per-address limit, slow clients cannot hold the server, and one account's executions
//! cannot take the runtime from another's.

use std::time::{Duration, Instant};

use agora_e2e::{random_name, Options, Server, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn made_up_keys_count_against_the_client_address() {
    let s = Server::start_with(Options::default().env("AGORA_RATE_LIMIT_PER_MINUTE", "10")).await;
    let mut statuses = Vec::new();
    for i in 0..15 {
        let fake = format!("ak_{}{:04}", "x".repeat(44), i);
        let r = s.http.get(s.url("/api/agents/me")).header("X-API-Key", fake).send().await.unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|&&c| c == 401).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&c| c == 429).count(), 5, "{statuses:?}");
    // Registrations from the same address are throttled the same way, keys or not.
    let r = s
        .http
        .post(s.url("/api/agents/register"))
        .header("X-API-Key", "ak_madeup")
        .json(&json!({"name": random_name("sneaky")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn registration_has_its_own_per_address_limit() {
    let s = Server::start_with(Options::default().env("AGORA_REGISTER_PER_HOUR", "3")).await;
    for _ in 0..3 {
        s.register(&random_name("ok"), json!({})).await;
    }
    let r = s.post("/api/agents/register", None, json!({"name": random_name("one-too-many")})).await;
    r.assert_error(429, "rate_limited");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1200).contains(&wait), "a third of an hour per registration: {wait}");
    assert_eq!(s.get("/api/agents", None).await.body["meta"]["total"], 3, "nothing registered past the limit");
}

/// Opens `n` connections that send half a request header and stop.
async fn slow_sockets(s: &Server, n: usize) -> Vec<TcpStream> {
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut sockets = Vec::new();
    for _ in 0..n {
        let mut socket = TcpStream::connect(&addr).await.unwrap();
        socket.write_all(b"GET /health HTTP/1.1\r\nHost: slow\r\nX-Slow: ").await.unwrap();
        sockets.push(socket);
    }
    sockets
}

/// Waits (boundedly) for the server to close the connection.
async fn closed_by_server(mut socket: TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a 408 answer may come first
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_the_server_keeps_answering() {
    let s = Server::start_with(
        Options::default().env("AGORA_HEADER_READ_TIMEOUT_MS", "1000").env("AGORA_MAX_CONNECTIONS", "400"),
    )
    .await;
    let sockets = slow_sockets(&s, 300).await;
    let started = Instant::now();
    let r = s.get("/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(5), "health answered in {:?}", started.elapsed());
    let closed = futures::future::join_all(sockets.into_iter().map(closed_by_server)).await;
    assert!(closed.iter().all(|c| *c), "every slow connection is closed by the header timeout");
}

#[tokio::test]
async fn at_the_connection_cap_new_clients_are_served_once_slow_ones_time_out() {
    let s = Server::start_with(
        Options::default().env("AGORA_HEADER_READ_TIMEOUT_MS", "1000").env("AGORA_MAX_CONNECTIONS", "32"),
    )
    .await;
    let sockets = slow_sockets(&s, 32).await;
    // The cap is reached: this request waits in the backlog until slow connections are cut.
    let r = s.get("/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let closed = futures::future::join_all(sockets.into_iter().map(closed_by_server)).await;
    assert!(closed.iter().all(|c| *c));
    assert_eq!(s.get("/ready", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn one_account_cannot_take_the_runtime_from_another() {
    let s = Server::start_with(
        Options::default()
            .env("AGORA_AGENT_MAX_CONCURRENT_EXECUTIONS", "2")
            .env("AGORA_EXEC_TIMEOUT_MS", "3000")
            .env("AGORA_FUEL_PER_CENT", "1000000000000"),
    )
    .await;
    let (spin, _, _) = s.component_agent("spin", 0, json!({})).await;
    let (echo, _, _) = s.component_agent("echo", 0, json!({})).await;
    let (_, abuser) = s.buyer(0).await;
    let (_, victim) = s.buyer(0).await;

    let mut baseline = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(s.execute(&victim, &echo, "hello", 1).await.status, StatusCode::OK);
        baseline.push(t.elapsed());
    }

    // The abuser asks for six spinning runs at once: two run, four are refused at once.
    let (answered, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let (s, abuser, spin) = (&s, &abuser, &spin);
    let abuse = futures::future::join_all((0..6).map(|_| {
        let answered = answered.clone();
        async move {
            let r = s.execute(abuser, spin, "spin", 1).await;
            let _ = answered.send(r.status);
            r
        }
    }));
    let victim_runs = async {
        // Once four are refused, the other two hold their slots and spin.
        let four_refused = async {
            let mut refusals = 0;
            while refusals < 4 {
                if answers.recv().await == Some(StatusCode::TOO_MANY_REQUESTS) {
                    refusals += 1;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), four_refused).await.expect("four runs refused at once");
        let mut during = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let r = s.execute(&victim, &echo, "hello", 1).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            during.push((t.elapsed(), Instant::now()));
        }
        during
    };
    let (abused, during) = tokio::join!(abuse, victim_runs);
    let abuse_done = Instant::now();
    let refused = abused.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(refused, 4, "{:?}", abused.iter().map(|r| r.status).collect::<Vec<_>>());
    let spun = abused.iter().filter(|r| r.status != StatusCode::TOO_MANY_REQUESTS);
    assert!(spun.clone().all(|r| r.status == StatusCode::UNPROCESSABLE_ENTITY), "the two that ran spun to their limit");
    assert_eq!(spun.count(), 2);
    abused.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).for_each(|r| {
        r.assert_error(429, "too_many_executions");
    });

    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let before = median(baseline);
    let slowest = during.iter().map(|(d, _)| *d).max().unwrap();
    let after = median(during.iter().map(|(d, _)| *d).collect());
    eprintln!("victim's echo: median {before:?} alone, {after:?} (slowest {slowest:?}) beside the abuse");
    // The victim is served while the spins run, each run well within the spins' 3 s.
    assert!(during.iter().all(|(_, done)| *done < abuse_done), "the victim finished before the abuse ended");
    assert!(slowest < Duration::from_millis(2500), "slowest {slowest:?}");
    assert!(after < before * 50 + Duration::from_millis(500), "slowed from {before:?} to {after:?}");
    s.assert_ledger_sound().await;
}
