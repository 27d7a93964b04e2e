//! Toku's subscriptions end to end, with the host's clock moved forward instead of waiting:
//! runs on the interval (a component's output kept, a manual service's job created), monthly
//! billing through escrow, a failed renewal pausing, and the pro-rated pause and cancel.

use std::time::Duration;

use agora_e2e::{eventually, Options, Server, StatusCode, TestHttp};
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

fn options() -> Options {
    Options::default()
        .env("AGORA_TEST_CLOCK", "true")
        .env("AGORA_MARKETPLACE_SWEEP_MS", "50")
        .env("AGORA_FUEL_PER_CENT", "10000")
        .env("AGORA_ALLOW_PRIVATE_HTTP", "true")
        // Execution records outlive the months the tests move through.
        .env("AGORA_EXECUTION_RETENTION_DAYS", "3650")
}

async fn advance(s: &Server, ms: i64) {
    let r = s.post("/api/admin/clock", Some(&s.operator_key), json!({"advanceMs": ms})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn offer(s: &Server, key: &str, fulfilment: &str) -> String {
    let body = json!({"title": "Daily Market Analysis", "description": "Every day", "type": "SUBSCRIPTION",
                      "runIntervalHours": 24, "monthlyPriceCents": 3000, "fulfilment": fulfilment});
    let r = s.post("/api/services", Some(key), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["service"]["id"].as_str().unwrap().to_string()
}

async fn subscription(s: &Server, key: &str, id: &str) -> Value {
    let r = s.get(&format!("/api/subscriptions/{id}"), Some(key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["subscription"].clone()
}

/// The subscription once it has made `runs` runs, none of them still running.
async fn after_runs(s: &Server, key: &str, id: &str, runs: i64) -> Value {
    eventually(&format!("{runs} runs"), Duration::from_secs(30), || async {
        let sub = subscription(s, key, id).await;
        let settled = sub["runs"].as_array().unwrap().iter().all(|r| r["status"] != "RUNNING");
        (sub["totalRuns"] == runs && settled).then_some(sub)
    })
    .await
}

async fn subscribe(s: &Server, key: &str, service: &str) -> agora_e2e::Reply {
    s.post("/api/subscriptions", Some(key), json!({"serviceId": service, "input": "Markets rose. Bonds fell."})).await
}

async fn act(s: &Server, key: &str, id: &str, action: &str) -> agora_e2e::Reply {
    s.request("PATCH", &format!("/api/subscriptions/{id}"), Some(key), Some(json!({"action": action}))).await
}

/// What the component's runs burned, from their execution records.
async fn compute_of(s: &Server, key: &str, runs: &[Value]) -> i64 {
    let mut total = 0;
    for run in runs {
        let exec = run["executionId"].as_str().unwrap();
        let r = s.get(&format!("/api/executions/{exec}"), Some(key)).await;
        total += r.body["data"]["cost"]["compute_cents"].as_i64().unwrap_or_else(|| panic!("{run} {}", r.body));
    }
    total
}

#[tokio::test]
async fn a_component_subscription_runs_daily_bills_monthly_and_pauses_when_unpaid() {
    let s = Server::start_with(options()).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], "ok".into())).await;
    let (provider, provider_key, _) = s.component_agent("summarize", 0, json!({})).await;
    let service = offer(&s, &provider_key, "component").await;
    let (buyer, buyer_key) = s.buyer(5_000).await;
    s.post("/api/agents/me/webhooks", Some(&buyer_key), json!({"webhookUrl": receiver.url("/hook")})).await;

    // Refusals move nothing.
    let one_off = s.post("/api/services", Some(&provider_key), json!({"title": "Once", "priceCents": 100})).await;
    let one_off = one_off.body["service"]["id"].as_str().unwrap().to_string();
    subscribe(&s, &buyer_key, &one_off).await.assert_error(422, "validation_error");
    subscribe(&s, &provider_key, &service).await.assert_error(422, "validation_error");
    subscribe(&s, &buyer_key, "no-such-service").await.assert_error(404, "not_found");
    let (_, poor_key) = s.buyer(0).await;
    subscribe(&s, &poor_key, &service).await.assert_error(402, "insufficient_funds");
    assert_eq!(s.get("/api/subscriptions", Some(&poor_key)).await.body["subscriptions"], json!([]));
    assert_eq!(s.balance(&poor_key).await, 100);

    let r = subscribe(&s, &buyer_key, &service).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let sub = &r.body["subscription"];
    assert_eq!(sub["status"], "ACTIVE");
    assert_eq!((sub["priceCents"].as_i64(), sub["runIntervalHours"].as_i64()), (Some(3000), Some(24)));
    assert!(sub["nextRunAt"].is_string() && sub["nextBillingAt"].is_string(), "{sub}");
    assert_eq!(sub["service"]["agent"]["id"], provider.as_str());
    let id = sub["id"].as_str().unwrap().to_string();
    assert_eq!(s.balance(&buyer_key).await, 5_100 - 3_000, "the month is held in escrow");

    // The first run is due at once, the next a day later.
    let first = after_runs(&s, &buyer_key, &id, 1).await;
    assert_eq!(first["runs"][0]["status"], "COMPLETED", "{first}");
    assert!(!first["runs"][0]["output"].as_str().unwrap().is_empty());
    assert_eq!(first["reliability"], "100.0%");
    advance(&s, DAY_MS).await;
    let second = after_runs(&s, &buyer_key, &id, 2).await;
    assert_eq!(second["successfulRuns"], 2);

    // The provider sees it and cannot change it; a stranger does not see it.
    let theirs = s.get("/api/subscriptions?role=provider", Some(&provider_key)).await;
    assert_eq!(theirs.body["subscriptions"][0]["id"], id.as_str(), "{}", theirs.body);
    assert_eq!(theirs.body["subscriptions"][0]["_count"]["runs"], 2);
    assert_eq!(s.get("/api/subscriptions", Some(&provider_key)).await.body["subscriptions"], json!([]));
    act(&s, &provider_key, &id, "cancel").await.assert_error(403, "forbidden");
    s.get(&format!("/api/subscriptions/{id}"), Some(&poor_key)).await.assert_error(404, "not_found");
    act(&s, &poor_key, &id, "cancel").await.assert_error(404, "not_found");
    s.get("/api/subscriptions?role=owner", Some(&buyer_key)).await.assert_error(400, "invalid_query");

    // The month ends: the provider is paid, less the runs' compute and the fee; the buyer
    // cannot pay the next month, so the subscription pauses and the buyer is told.
    let provider_before = s.balance(&provider_key).await;
    advance(&s, 29 * DAY_MS).await;
    let paused = eventually("the failed renewal", Duration::from_secs(30), || async {
        let settled = |s: &Value| s["runs"].as_array().unwrap().iter().all(|r| r["status"] != "RUNNING");
        Some(subscription(&s, &buyer_key, &id).await).filter(|s| s["status"] == "PAUSED" && settled(s))
    })
    .await;
    assert_eq!(paused["pausedReason"], "payment_failed");
    assert!(paused["nextRunAt"].is_null());
    let compute = compute_of(&s, &buyer_key, paused["runs"].as_array().unwrap()).await;
    let gross = 3_000 - compute;
    assert_eq!(s.balance(&provider_key).await, provider_before + gross - gross / 10);
    assert_eq!(s.balance(&buyer_key).await, 2_100);
    let told = s.get("/api/agents/me/webhooks/deliveries?event=subscription.payment_failed", Some(&buyer_key)).await;
    assert_eq!(told.body["meta"]["total"], 1, "{}", told.body);
    // A sweep already under way when the clock jumped may have made one more run, due while the
    // month was still paid for, before the next sweep saw the month end; every run was told.
    let runs = paused["totalRuns"].as_i64().unwrap();
    assert!((2..=3).contains(&runs), "{paused}");
    let run_events =
        s.get("/api/agents/me/webhooks/deliveries?event=subscription.run_completed", Some(&buyer_key)).await;
    assert_eq!(run_events.body["meta"]["total"], runs, "{}", run_events.body);

    // Funded again, the buyer resumes: a new month is held and a run is due at once.
    act(&s, &buyer_key, &id, "pause").await.assert_error(409, "invalid_transition");
    s.fund(&buyer, 5_000).await;
    let resumed = act(&s, &buyer_key, &id, "resume").await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    assert_eq!(resumed.body["subscription"]["status"], "ACTIVE");
    assert_eq!(resumed.body["message"], "Subscription resumed successfully");
    assert_eq!(s.balance(&buyer_key).await, 2_100 + 5_000 - 3_000);
    after_runs(&s, &buyer_key, &id, runs + 1).await;
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_manual_subscription_creates_jobs_and_pauses_and_cancels_pro_rata() {
    let s = Server::start_with(options()).await;
    let (_, provider_key) = s.register("Analyst", json!({})).await;
    let service = offer(&s, &provider_key, "manual").await;
    let (_, buyer_key) = s.buyer(10_000).await;
    let r = s.post("/api/subscriptions", Some(&buyer_key), json!({"serviceId": service, "input": "EUR/USD"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["subscription"]["id"].as_str().unwrap().to_string();

    // Its run is a job for the provider, paid for by the subscription.
    let sub = after_runs(&s, &buyer_key, &id, 1).await;
    let job = sub["runs"][0]["jobId"].as_str().unwrap().to_string();
    let seen = s.get(&format!("/api/jobs/{job}"), Some(&provider_key)).await;
    assert_eq!(seen.body["job"]["status"], "REQUESTED", "{}", seen.body);
    assert_eq!(seen.body["job"]["subscriptionId"], id.as_str());
    assert_eq!(seen.body["job"]["input"], "EUR/USD");

    // Paused on day 10 (ten days begun): the provider earns a third of the month.
    advance(&s, 10 * DAY_MS - 3_600_000).await;
    let provider_before = s.balance(&provider_key).await;
    let paused = act(&s, &buyer_key, &id, "pause").await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(paused.body["subscription"]["status"], "PAUSED");
    assert_eq!(paused.body["subscription"]["pausedReason"], "buyer");
    assert!(paused.body["subscription"]["pausedAt"].is_string());
    assert!(paused.body["subscription"]["nextRunAt"].is_null());
    assert_eq!(paused.body["message"], "Subscription paused successfully");
    assert_eq!(s.balance(&provider_key).await, provider_before + 1_000 - 100);
    assert_eq!(s.balance(&buyer_key).await, 10_100 - 1_000);
    act(&s, &buyer_key, &id, "pause").await.assert_error(409, "invalid_transition");
    act(&s, &buyer_key, &id, "fly").await.assert_error(422, "validation_error");

    // Resumed and cancelled at once: one day begun.
    let resumed = act(&s, &buyer_key, &id, "resume").await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    let cancelled = act(&s, &buyer_key, &id, "cancel").await;
    assert_eq!(cancelled.body["subscription"]["status"], "CANCELLED", "{}", cancelled.body);
    assert_eq!(s.balance(&buyer_key).await, 10_100 - 1_000 - 100);
    assert_eq!(s.balance(&provider_key).await, provider_before + 900 + 90);
    for action in ["resume", "pause", "cancel"] {
        act(&s, &buyer_key, &id, action).await.assert_error(409, "invalid_transition");
    }
    let listed = s.get("/api/subscriptions?status=cancelled", Some(&buyer_key)).await;
    assert_eq!(listed.body["subscriptions"][0]["id"], id.as_str(), "{}", listed.body);
    s.assert_ledger_sound().await;
}
