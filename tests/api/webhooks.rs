//! Events and signed webhooks, end to end: a local receiver checks both signatures (the
//! Standard Webhooks one with the official Python library), retries follow the schedule,
//! secrets rotate, and the deliveries log replays.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agora_e2e::{eventually, Options, Server, StatusCode, TestHttp};
use serde_json::{json, Value};

/// Deliveries retried 200 ms, then 400 ms after a failure; three attempts in all.
fn options() -> Options {
    Options::default()
        .env("AGORA_ALLOW_PRIVATE_HTTP", "true")
        .env("AGORA_ALLOW_INSECURE_URLS", "true")
        .env("AGORA_WEBHOOK_RETRY_SCHEDULE_MS", "200,400")
        .env("AGORA_WEBHOOK_TIMEOUT_MS", "1000")
}

/// Verifies a recorded request with the `standardwebhooks` package; the parsed payload.
fn verify_with_python(secret: &str, headers: &axum::http::HeaderMap, body: &str) -> Result<Value, String> {
    use std::io::Write;
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), Value::String(v.to_str().ok()?.to_string()))))
        .collect();
    let root = agora_testkit::repo_root();
    let mut child = std::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/python/verify_webhook.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the test venv (scripts/setup.sh)");
    let input = json!({"secret": secret, "headers": headers, "body": body}).to_string();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() {
        Ok(serde_json::from_str(&text).unwrap())
    } else {
        Err(text)
    }
}

fn agentmarket_signature(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A worker listening for tasks of `capability`, with its webhook set; its key and secret.
async fn subscriber(s: &Server, receiver: &TestHttp, capability: &str) -> (String, String) {
    let (_, key) = s.register(&agora_e2e::random_name("listener"), json!({"capabilities": [capability]})).await;
    let r = s.post("/api/agents/me/webhooks", Some(&key), json!({"webhookUrl": receiver.url("/hook")})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{}", r.body);
    (key, secret)
}

async fn deliveries(s: &Server, key: &str, query: &str) -> Vec<Value> {
    let r = s.get(&format!("/api/agents/me/webhooks/deliveries{query}"), Some(key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_posted_task_reaches_matching_agents_signed_both_ways() {
    let s = Server::start_with(options()).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], "ok".into())).await;
    let (key, secret) = subscriber(&s, &receiver, "translation").await;
    let (_, other) = s.register("Unrelated", json!({"capabilities": ["cooking"]})).await;
    s.post("/api/agents/me/webhooks", Some(&other), json!({"webhookUrl": receiver.url("/other")})).await;
    let (_, poster) = s.buyer(100).await;
    let r = s
        .post(
            "/api/tasks",
            Some(&poster),
            json!({"title": "Translate", "description": "Bonjour", "budget": 25, "required_capabilities": ["translation"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let task_id = r.body["data"]["id"].as_str().unwrap().to_string();

    let (headers, path, body) = eventually("the task.posted delivery", Duration::from_secs(10), || async {
        receiver.seen.lock().unwrap().first().cloned()
    })
    .await;
    assert_eq!(path, "/hook", "only the agent with an overlapping capability is told");
    let payload = verify_with_python(&secret, &headers, &body).expect("the official library verifies it");
    assert_eq!(payload["event"], "task.posted");
    assert_eq!(payload["task"]["id"], task_id.as_str());
    assert_eq!(payload["task"]["budget"], 25);
    assert_eq!(payload["task"]["required_capabilities"], json!(["translation"]));
    assert!(payload["marketplace_url"].as_str().unwrap().starts_with("http"));
    assert_eq!(headers["x-agentmarket-event"], "task.posted");
    assert_eq!(headers["x-agentmarket-signature"].to_str().unwrap(), agentmarket_signature(&secret, &body));
    // A forged body does not verify.
    assert!(verify_with_python(&secret, &headers, &body.replace("Bonjour", "Bonsoir")).is_err());

    let log = eventually("the delivery recorded as delivered", Duration::from_secs(10), || async {
        let log = deliveries(&s, &key, "").await;
        (log.first()?["status"] == "delivered").then_some(log)
    })
    .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["id"].as_str().unwrap(), headers["webhook-id"].to_str().unwrap());
    assert_eq!(log[0]["payload"], payload);
    // Another agent sees none of it.
    assert!(deliveries(&s, &other, "").await.is_empty());
    let id = log[0]["id"].as_str().unwrap();
    s.get(&format!("/api/agents/me/webhooks/deliveries/{id}"), Some(&other)).await.assert_error(404, "not_found");
}

#[tokio::test]
async fn failed_deliveries_retry_on_the_schedule_then_fail_and_can_be_replayed() {
    let s = Server::start_with(options()).await;
    let answers = Arc::new(AtomicUsize::new(0));
    let counter = answers.clone();
    // 500, then a timeout (longer than the 1 s limit), then 500: all three attempts fail.
    let receiver = TestHttp::start(move |_, _| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        if n == 1 {
            std::thread::sleep(Duration::from_millis(1500));
        }
        (if n < 3 { 500 } else { 204 }, vec![], "nope".into())
    })
    .await;
    let (key, _) = subscriber(&s, &receiver, "audit").await;
    let (_, poster) = s.buyer(100).await;
    s.post(
        "/api/tasks",
        Some(&poster),
        json!({"title": "t", "description": "d", "budget": 5, "required_capabilities": ["audit"]}),
    )
    .await;

    let failed = eventually("three attempts and a failed delivery", Duration::from_secs(20), || async {
        let log = deliveries(&s, &key, "?status=failed").await;
        log.first().cloned()
    })
    .await;
    let id = failed["id"].as_str().unwrap().to_string();
    let one = s.get(&format!("/api/agents/me/webhooks/deliveries/{id}"), Some(&key)).await;
    let attempts = one.body["data"]["attemptLog"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 3, "{}", one.body);
    assert_eq!(attempts[0]["statusCode"], 500);
    assert_eq!(attempts[0]["responseExcerpt"], "nope");
    assert_eq!(attempts[1]["error"], "timed out");
    assert_eq!(attempts[2]["statusCode"], 500);
    // The pauses between attempts follow the schedule (200 ms, then 400 ms, plus jitter).
    let at = |i: usize| chrono_ms(attempts[i]["createdAt"].as_str().unwrap());
    assert!(at(1) - at(0) >= 200, "{attempts:?}");
    assert!(at(2) - at(1) >= 400, "{attempts:?}");
    assert!(deliveries(&s, &key, "?status=pending").await.is_empty());
    assert_eq!(deliveries(&s, &key, "?event=task.posted&status=failed").await.len(), 1);
    assert!(deliveries(&s, &key, "?event=job.created").await.is_empty());
    s.get("/api/agents/me/webhooks/deliveries?status=lost", Some(&key)).await.assert_error(400, "invalid_query");

    // Replayed: the receiver answers 204 now.
    let r = s.post(&format!("/api/agents/me/webhooks/deliveries/{id}/retry"), Some(&key), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    eventually("the replay delivered", Duration::from_secs(10), || async {
        (deliveries(&s, &key, "?status=delivered").await.len() == 1).then_some(())
    })
    .await;
    assert_eq!(answers.load(Ordering::SeqCst), 4);
    let (_, stranger) = s.register("Stranger", json!({})).await;
    s.post(&format!("/api/agents/me/webhooks/deliveries/{id}/retry"), Some(&stranger), json!({}))
        .await
        .assert_error(404, "not_found");
}

/// Milliseconds since the epoch of an RFC 3339 time with milliseconds (`...T12:00:00.123Z`).
fn chrono_ms(text: &str) -> i64 {
    let (date, time) = text.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (hms, ms) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 24 + t[0]) * 60 + t[1]) * 60_000 + t[2] * 1000 + ms.parse::<i64>().unwrap()
}

#[tokio::test]
async fn the_test_webhook_reports_the_answer_and_rotation_signs_with_both_secrets() {
    let s = Server::start_with(options()).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], "ok".into())).await;
    let (key, old) = subscriber(&s, &receiver, "anything").await;
    let t = s.post("/api/agents/me/webhooks/test", Some(&key), json!({})).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    assert_eq!(t.body["success"], true);
    assert_eq!(t.body["statusCode"], 200);
    assert_eq!(t.body["webhookUrl"], receiver.url("/hook"));
    assert_eq!(t.body["payloadSent"]["event"], "webhook.test");
    let (headers, _, body) = receiver.seen.lock().unwrap()[0].clone();
    verify_with_python(&old, &headers, &body).unwrap();

    let r = s.post("/api/agents/me/webhooks/rotate-secret", Some(&key), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = r.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let config = s.get("/api/agents/me/webhooks", Some(&key)).await;
    assert_eq!(config.body["secret"], new.as_str());
    assert_eq!(config.body["previousSecret"], old.as_str());
    s.post("/api/agents/me/webhooks/test", Some(&key), json!({})).await;
    let (headers, _, body) = receiver.seen.lock().unwrap()[1].clone();
    let signatures = headers["webhook-signature"].to_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    verify_with_python(&new, &headers, &body).expect("the new secret verifies");
    verify_with_python(&old, &headers, &body).expect("the old secret still verifies for a day");
    assert_eq!(headers["x-agentmarket-signature"].to_str().unwrap(), agentmarket_signature(&new, &body));

    // Removed: the test has nowhere to go.
    let removed = s.request("DELETE", "/api/agents/me/webhooks", Some(&key), None).await;
    assert_eq!(removed.body["removed"], true);
    s.post("/api/agents/me/webhooks/test", Some(&key), json!({})).await.assert_error(409, "no_webhook");
    assert!(s.get("/api/agents/me/webhooks", Some(&key)).await.body["webhookUrl"].is_null());
}

#[tokio::test]
async fn internal_webhook_urls_are_refused_unless_the_operator_allows_them() {
    let s = Server::start_with(Options::default().env("AGORA_ALLOW_INSECURE_URLS", "true")).await;
    let (_, key) = s.register("Careful", json!({})).await;
    for url in ["http://127.0.0.1:9/hook", "http://10.0.0.1/hook", "http://[::1]/hook", "ftp://example.com/x"] {
        s.post("/api/agents/me/webhooks", Some(&key), json!({"webhookUrl": url}))
            .await
            .assert_error(422, "validation_error");
        s.request("PUT", "/api/agents/me/webhook", Some(&key), Some(json!({"webhook_url": url})))
            .await
            .assert_error(422, "validation_error");
    }
    // AgentMarket's shape answers with the secret when the webhook is set.
    let r = s
        .request(
            "PUT",
            "/api/agents/me/webhook",
            Some(&key),
            Some(json!({"webhook_url": "https://example.com/hooks/agentmarket"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["webhook_url"], "...gentmarket", "the last 10 characters, as AgentMarket shows them");
    assert!(r.body["data"]["secret"].as_str().unwrap().starts_with("whsec_"));
}

/// `agents` listeners of capability `capability` behind one receiver, then `tasks` tasks posted
/// through `servers` in turn: `agents × tasks` deliveries.
async fn fan_out(servers: &[&Server], receiver: &TestHttp, capability: &str, agents: usize, tasks: usize) {
    for _ in 0..agents {
        subscriber(servers[0], receiver, capability).await;
    }
    let (_, poster) = servers[0].buyer(1_000).await;
    for i in 0..tasks {
        let task =
            json!({"title": format!("t{i}"), "description": "d", "budget": 1, "required_capabilities": [capability]});
        let r = servers[i % servers.len()].post("/api/tasks", Some(&poster), task).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
}

/// How many times each `webhook-id` reached the receiver.
fn received(receiver: &TestHttp) -> std::collections::HashMap<String, usize> {
    let mut seen = std::collections::HashMap::new();
    for (headers, _, _) in receiver.seen.lock().unwrap().iter() {
        *seen.entry(headers["webhook-id"].to_str().unwrap().to_string()).or_insert(0) += 1;
    }
    seen
}

async fn delivered(s: &Server) -> i64 {
    let db = agora::db::Db::connect(&s.database_url, 1).await.unwrap();
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'")
        .fetch_one(&*db.read)
        .await
        .unwrap();
    db.close().await;
    n
}

#[tokio::test]
async fn a_task_for_many_listeners_is_announced_to_each_once() {
    let s = Server::start_with(options()).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], String::new())).await;
    // Few listeners are told in the posting transaction, many by the announce job: both here.
    fan_out(&[&s], &receiver, "crowded", 20, 1).await;
    fan_out(&[&s], &receiver, "quiet", 2, 1).await;
    eventually("22 deliveries", Duration::from_secs(30), || async { (delivered(&s).await == 22).then_some(()) }).await;
    let seen = received(&receiver);
    assert_eq!(seen.len(), 22);
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
}

#[tokio::test]
async fn a_long_task_description_is_cut_in_the_webhook_and_whole_in_the_api() {
    let s = Server::start_with(options()).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], String::new())).await;
    let (_, secret) = subscriber(&s, &receiver, "long-reads").await;
    let (_, poster) = s.buyer(100).await;
    let description = "é".repeat(5_000);
    let task =
        json!({"title": "Read", "description": description, "budget": 1, "required_capabilities": ["long-reads"]});
    let r = s.post("/api/tasks", Some(&poster), task).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (headers, _, body) = eventually("the task.posted delivery", Duration::from_secs(10), || async {
        receiver.seen.lock().unwrap().first().cloned()
    })
    .await;
    let payload = verify_with_python(&secret, &headers, &body).expect("still signed as sent");
    assert_eq!(payload["task"]["description"].as_str().unwrap().chars().count(), 2_000);
    assert_eq!(payload["task"]["description_truncated"], true);
    let id = payload["task"]["id"].as_str().unwrap();
    let whole = s.get(&format!("/api/tasks/{id}"), None).await;
    assert_eq!(whole.body["data"]["description"].as_str().unwrap().chars().count(), 5_000, "{}", whole.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_one_postgresql_deliver_each_event_once() {
    if agora_e2e::backend() != agora_e2e::Backend::Postgres {
        return; // Two processes on one SQLite file is not a supported deployment.
    }
    let first = Server::start_with(options()).await;
    let second = Server::start_beside(&first).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], String::new())).await;
    // 20 listeners: more than a post tells itself, so announcing is a job too.
    fan_out(&[&first, &second], &receiver, "shared", 20, 5).await;
    eventually("100 deliveries", Duration::from_secs(30), || async { (delivered(&first).await == 100).then_some(()) })
        .await;
    let seen = received(&receiver);
    assert_eq!(seen.len(), 100);
    assert!(seen.values().all(|&n| n == 1), "a delivery was sent twice: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_resume_after_the_host_is_killed_mid_batch() {
    let mut s = Server::start_with(options()).await;
    let receiver = TestHttp::start(|_, _| {
        std::thread::sleep(Duration::from_millis(30));
        (200, vec![], String::new())
    })
    .await;
    fan_out(&[&s], &receiver, "resilient", 10, 5).await;
    eventually("some deliveries under way", Duration::from_secs(10), || async {
        (receiver.seen.lock().unwrap().len() >= 5).then_some(())
    })
    .await;
    s.kill().await;
    let sent_before_the_kill = receiver.seen.lock().unwrap().len();
    s.relaunch().await;
    eventually("all 50 delivered after the restart", Duration::from_secs(30), || async {
        (delivered(&s).await == 50).then_some(())
    })
    .await;
    let seen = received(&receiver);
    assert_eq!(seen.len(), 50, "every event reached the receiver");
    // At least once: only a delivery sent before the kill, whose end was not recorded, twice.
    let again = seen.values().filter(|&&n| n > 1).count();
    assert!(seen.values().all(|&n| n <= 2), "{seen:?}");
    assert!(again <= sent_before_the_kill, "{again} sent twice, {sent_before_the_kill} sent before the kill");
}

#[tokio::test]
async fn an_endpoint_failing_too_long_is_disabled_until_its_url_is_set_again() {
    let s = Server::start_with(
        options()
            .env("AGORA_WEBHOOK_RETRY_SCHEDULE_MS", "150,150,150,150,150,150,150,150,150,150,150,150")
            .env("AGORA_WEBHOOK_DISABLE_AFTER_MS", "1000"),
    )
    .await;
    let receiver = TestHttp::start(|_, _| (500, vec![], "down".into())).await;
    let (key, _) = subscriber(&s, &receiver, "fragile").await;
    let (_, poster) = s.buyer(100).await;
    let post = |title: &'static str| {
        let body = json!({"title": title, "description": "d", "budget": 1, "required_capabilities": ["fragile"]});
        s.post("/api/tasks", Some(&poster), body)
    };
    post("first").await;
    let config = eventually("the endpoint disabled", Duration::from_secs(20), || async {
        let c = s.get("/api/agents/me/webhooks", Some(&key)).await.body;
        c["disabledAt"].is_string().then_some(c)
    })
    .await;
    assert!(config["failingSince"].is_string(), "{config}");
    let attempts_before = receiver.seen.lock().unwrap().len();
    assert!(attempts_before >= 2, "failed for a second before being disabled");

    // Nothing more is sent: the next delivery fails without an attempt.
    post("second").await;
    let failed = eventually("the second delivery given up", Duration::from_secs(10), || async {
        deliveries(&s, &key, "?status=failed").await.into_iter().find(|d| d["payload"]["task"]["title"] == "second")
    })
    .await;
    assert_eq!(failed["attempts"], 0, "{failed}");
    assert!(failed["lastError"].as_str().unwrap().contains("disabled"), "{failed}");
    assert_eq!(receiver.seen.lock().unwrap().len(), attempts_before);

    // Setting the URL again enables it with a clean record.
    let again = s.post("/api/agents/me/webhooks", Some(&key), json!({"webhookUrl": receiver.url("/hook")})).await;
    assert!(again.body["disabledAt"].is_null() && again.body["failingSince"].is_null(), "{}", again.body);
}
