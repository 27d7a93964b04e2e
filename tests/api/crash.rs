//! Idempotency across a crash: an answered key replays its answer, and a key whose request
//! died with the host is retried once its lease runs out, and executes once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_e2e::{Options, Reply, Server, StatusCode};
use serde_json::json;

/// Retries `send` while it answers 409 (the dead request's lease), for at most 30 s.
async fn retry_past_the_lease<F, Fut>(send: F) -> Reply
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = send().await;
        if r.status != StatusCode::CONFLICT || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lease() -> Options {
    Options::default().env("AGORA_IDEMPOTENCY_LEASE_MS", "1000")
}

#[tokio::test]
async fn deposits_under_kill_nine_happen_exactly_once() {
    let mut s = Server::start_with(lease()).await;
    let (_, key) = s.register("Crash Saver", json!({})).await;
    let acked: Arc<std::sync::Mutex<HashMap<String, Reply>>> = Default::default();
    let sent = AtomicUsize::new(0);
    let clients = (0..8).map(|c| {
        let (s, key, acked, sent) = (&s, &key, acked.clone(), &sent);
        async move {
            for i in 0.. {
                let k = format!("dep-{c}-{i}");
                sent.fetch_add(1, Ordering::Relaxed);
                let req = s
                    .http
                    .post(s.url("/api/agents/wallet/deposit"))
                    .header("X-API-Key", key)
                    .header("Idempotency-Key", &k)
                    .json(&json!({"amountCents": 1}));
                match req.send().await {
                    Ok(resp) => {
                        let r = Reply::from(resp).await;
                        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                        acked.lock().unwrap().insert(k, r);
                    }
                    Err(_) => return i, // the server died under this request
                }
            }
            unreachable!()
        }
    });
    let load = futures::future::join_all(clients);
    let crash = async {
        while sent.load(Ordering::Relaxed) < 200 {
            tokio::task::yield_now().await;
        }
        s.kill_now();
    };
    let (per_client, ()) = tokio::join!(load, crash);
    s.reap().await;
    s.relaunch().await;

    // Every key, answered or not, is retried; each deposit must exist exactly once.
    let acked = acked.lock().unwrap().clone();
    let mut keys = Vec::new();
    for (c, n) in per_client.iter().enumerate() {
        for i in 0..=*n {
            keys.push(format!("dep-{c}-{i}"));
        }
    }
    for k in &keys {
        let r = retry_past_the_lease(|| {
            s.post_idempotent("/api/agents/wallet/deposit", &key, k, json!({"amountCents": 1}))
        })
        .await;
        assert_eq!(r.status, StatusCode::OK, "{k}: {}", r.body);
        if let Some(first) = acked.get(k) {
            assert!(r.replayed(), "{k} was answered before the crash: it replays");
            assert_eq!(r.body, first.body);
        }
    }
    assert!(acked.len() >= 150, "{} deposits were answered before the crash", acked.len());
    assert_eq!(s.balance(&key).await, 100 + keys.len() as i64, "one deposit per key, {} keys", keys.len());
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_request_that_died_with_its_host_is_executed_once_on_retry() {
    let mut s = Server::start_with(lease().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    // The agent's endpoint holds its first call forever (the host dies meanwhile), then answers.
    let calls = Arc::new(AtomicUsize::new(0));
    let (called_tx, mut called) = tokio::sync::mpsc::unbounded_channel::<()>();
    let endpoint = {
        let calls = calls.clone();
        axum::Router::new().fallback(move || {
            let (calls, called_tx) = (calls.clone(), called_tx.clone());
            async move {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                let _ = called_tx.send(());
                if first {
                    std::future::pending::<()>().await;
                }
                axum::Json(json!({"result": "done"}))
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/run", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, endpoint).await.unwrap() });
    let (worker, worker_key) = s.register("Slow Bot", json!({"endpoint_url": url, "price_per_task": 7})).await;
    let (_, buyer) = s.buyer(500).await;
    let body = json!({"agent_id": worker, "task_description": "work", "budget": 10});

    let first = s.post_idempotent("/api/execute", &buyer, "exec-1", body.clone());
    tokio::select! {
        _ = first => panic!("the first call is held"),
        _ = called.recv() => {}
    }
    // The budget is held, the request is in flight: the host dies.
    s.kill().await;
    s.relaunch().await;
    let retry = retry_past_the_lease(|| s.post_idempotent("/api/execute", &buyer, "exec-1", body.clone())).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);
    assert!(!retry.replayed());
    assert_eq!(retry.body["data"]["result"], "done");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "executed once more, not more");
    let again = s.post_idempotent("/api/execute", &buyer, "exec-1", body).await;
    assert!(again.replayed());
    assert_eq!(again.body, retry.body);
    // The worker was paid once; the dead run's budget waits in escrow for recovery.
    assert_eq!(s.balance(&worker_key).await, 100 + 7, "the price, its 10% fee rounding down to 0");
    assert_eq!(s.balance(&buyer).await, 600 - 7 - 10);
    s.assert_ledger_sound().await;
}
