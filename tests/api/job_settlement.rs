//! How marketplace jobs end: delivered by the worker's component in the hire request, disputes
//! resolved by an operator, completed when the review period passes (with the host's clock
//! moved forward), and referral earnings on jobs, executions and tasks.

use agora_e2e::{eventually, pay_checkout, Options, Server, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

fn service(fulfilment: &str, price: i64) -> Value {
    json!({"title": "Summaries", "description": "Short summaries of long text", "category": "writing",
           "priceCents": price, "fulfilment": fulfilment})
}

async fn offer(s: &Server, key: &str, fulfilment: &str, price: i64) -> String {
    let r = s.post("/api/services", Some(key), service(fulfilment, price)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["service"]["id"].as_str().unwrap().to_string()
}

async fn hire(s: &Server, key: &str, service: &str, input: &str) -> Value {
    let r = s.post("/api/jobs", Some(key), json!({"serviceId": service, "input": input})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["job"].clone()
}

async fn act(s: &Server, key: &str, job: &str, body: Value) -> agora_e2e::Reply {
    s.request("PATCH", &format!("/api/jobs/{job}"), Some(key), Some(body)).await
}

async fn job_of(s: &Server, key: &str, job: &str) -> Value {
    let r = s.get(&format!("/api/jobs/{job}"), Some(key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["job"].clone()
}

/// A job hired, accepted and delivered by hand; its id.
async fn delivered(s: &Server, buyer: &str, worker: &str, service: &str) -> String {
    let job = hire(s, buyer, service, "the work").await["id"].as_str().unwrap().to_string();
    assert_eq!(act(s, worker, &job, json!({"action": "accept"})).await.status, StatusCode::OK);
    let d = act(s, worker, &job, json!({"action": "deliver", "output": "done"})).await;
    assert_eq!(d.body["job"]["status"], "DELIVERED", "{}", d.body);
    job
}

fn fee(gross: i64) -> i64 {
    gross / 10
}

#[tokio::test]
async fn a_component_service_delivers_in_the_hire_request() {
    // Fuel, not time, stops the spinning run below.
    let s = Server::start_with(Options::default().env("AGORA_FUEL_PER_CENT", "10000")).await;
    let (worker, worker_key, _) = s.component_agent("summarize", 0, json!({})).await;
    let (_, plain_key) = s.register("Plain", json!({})).await;
    s.post("/api/services", Some(&plain_key), service("component", 300)).await.assert_error(422, "validation_error");
    let summaries = offer(&s, &worker_key, "component", 300).await;
    let (_, buyer_key) = s.buyer(1_000).await;

    let text = "Agora runs agents as components. Components are sandboxed. The weather is nice.";
    let job = hire(&s, &buyer_key, &summaries, text).await;
    assert_eq!(job["status"], "DELIVERED", "{job}");
    assert_eq!(job["fulfilment"], "component");
    assert!(!job["output"].as_str().unwrap().is_empty(), "{job}");
    assert!(job["acceptedAt"].is_string() && job["deliveredAt"].is_string(), "{job}");
    let compute = job["computeCents"].as_i64().unwrap();
    assert!(compute > 0, "the run is metered: {job}");
    assert_eq!(s.balance(&buyer_key).await, 1_100 - 300, "the buyer pays the price, no more");
    let exec = job["executionId"].as_str().unwrap();
    let record = s.get(&format!("/api/executions/{exec}"), Some(&buyer_key)).await;
    assert_eq!(record.body["data"]["agent_id"], worker.as_str(), "{}", record.body);
    assert_eq!(record.body["data"]["cost"]["compute_cents"], compute, "{}", record.body);

    // The buyer still completes: the worker earns the price less the compute and the fee.
    let id = job["id"].as_str().unwrap();
    let done = act(&s, &buyer_key, id, json!({"action": "complete"})).await;
    assert_eq!(done.body["job"]["status"], "COMPLETED", "{}", done.body);
    assert_eq!(done.body["job"]["completedBy"], "buyer");
    let gross = 300 - compute;
    assert_eq!(s.balance(&worker_key).await, 100 + gross - fee(gross));
    // Job events are in the inbox too.
    let inbox = s.get("/api/agents/notifications", Some(&worker_key)).await;
    let events: Vec<&str> = inbox.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["data"]["event"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(events, ["job.completed", "job.created"], "{}", inbox.body);

    // A run that fails hands the job to the worker, accepted, with the error and its cost.
    let (_, spin_key, _) = s.component_agent("spin", 0, json!({})).await;
    let spinning = offer(&s, &spin_key, "component", 20).await;
    let before = s.balance(&buyer_key).await;
    let job = hire(&s, &buyer_key, &spinning, "go").await;
    assert_eq!(job["status"], "ACCEPTED", "{job}");
    assert!(job["lastError"].as_str().unwrap().starts_with("out_of_fuel"), "{job}");
    assert_eq!(job["computeCents"], 20, "the run's fuel is capped at the price: {job}");
    assert_eq!(s.balance(&buyer_key).await, before - 20);
    // The worker gives up: the buyer gets the price back whole, the worker pays the compute.
    let id = job["id"].as_str().unwrap();
    let c = act(&s, &spin_key, id, json!({"action": "cancel"})).await;
    assert_eq!(c.body["job"]["status"], "CANCELLED", "{}", c.body);
    assert_eq!(s.balance(&buyer_key).await, before);
    assert_eq!(s.balance(&spin_key).await, 100 - 20);

    // A worker whose component is gone cannot be hired for it; nothing is held.
    let r = s.request("PATCH", "/api/agents/me", Some(&spin_key), Some(json!({"componentId": ""}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = s.post("/api/jobs", Some(&buyer_key), json!({"serviceId": spinning, "input": "go"})).await;
    r.assert_error(422, "agent_not_runnable");
    assert_eq!(s.balance(&buyer_key).await, before);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn an_operator_resolves_a_dispute_by_splitting_the_escrow() {
    let s = Server::start().await;
    let (_, worker_key) = s.register("Writer", json!({})).await;
    let writing = offer(&s, &worker_key, "manual", 800).await;
    let (_, buyer_key) = s.buyer(2_000).await;
    let op = s.operator_key.clone();

    let job = delivered(&s, &buyer_key, &worker_key, &writing).await;
    let resolve = |job: &str| format!("/api/admin/disputes/{job}/resolve");
    s.post(&resolve(&job), Some(&op), json!({"refundCents": 0})).await.assert_error(409, "invalid_transition");
    act(&s, &worker_key, &job, json!({"action": "dispute"})).await.assert_error(403, "forbidden");
    let d = act(&s, &buyer_key, &job, json!({"action": "dispute"})).await;
    assert_eq!(d.body["job"]["status"], "DISPUTED", "{}", d.body);
    assert!(d.body["job"]["disputedAt"].is_string());

    let listed = s.get("/api/admin/disputes", Some(&op)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["jobs"][0]["id"], job.as_str());
    assert_eq!(listed.body["meta"]["total"], 1);
    s.get("/api/admin/disputes", Some(&buyer_key)).await.assert_error(403, "forbidden");
    s.post(&resolve(&job), Some(&buyer_key), json!({"refundCents": 0})).await.assert_error(403, "forbidden");
    s.post(&resolve("no-such-job"), Some(&op), json!({"refundCents": 0})).await.assert_error(404, "not_found");
    for bad in [json!({"refundCents": 801}), json!({"refundCents": -1}), json!({"refundCents": "all"})] {
        let r = s.post(&resolve(&job), Some(&op), bad.clone()).await;
        assert_eq!(r.status.as_u16(), 422, "{bad}: {}", r.body);
    }
    assert_eq!(s.balance(&buyer_key).await, 2_100 - 800, "refused resolutions move nothing");

    let r = s.post(&resolve(&job), Some(&op), json!({"refundCents": 300, "note": "half the chapters missing"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["job"]["status"], "COMPLETED");
    assert_eq!(r.body["job"]["completedBy"], "operator");
    assert_eq!(r.body["job"]["resolution"]["refundCents"], 300);
    assert_eq!(s.balance(&buyer_key).await, 2_100 - 800 + 300);
    assert_eq!(s.balance(&worker_key).await, 100 + 500 - fee(500), "the fee is on the worker's part only");
    // Both parties see the note; a second resolution is refused.
    let seen = job_of(&s, &worker_key, &job).await;
    assert_eq!(seen["resolution"]["note"], "half the chapters missing");
    s.post(&resolve(&job), Some(&op), json!({"refundCents": 0})).await.assert_error(409, "invalid_transition");

    // A full refund cancels the job; the worker earns nothing.
    let job = delivered(&s, &buyer_key, &worker_key, &writing).await;
    act(&s, &buyer_key, &job, json!({"action": "dispute"})).await;
    let before = (s.balance(&buyer_key).await, s.balance(&worker_key).await);
    let r = s.post(&resolve(&job), Some(&op), json!({"refundCents": 800, "note": "not delivered"})).await;
    assert_eq!(r.body["job"]["status"], "CANCELLED", "{}", r.body);
    assert_eq!(r.body["job"]["cancelledBy"], "operator");
    assert_eq!((s.balance(&buyer_key).await, s.balance(&worker_key).await), (before.0 + 800, before.1));
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_delivered_job_completes_itself_after_the_review_period() {
    let options = Options::default()
        .env("AGORA_TEST_CLOCK", "true")
        .env("AGORA_MARKETPLACE_SWEEP_MS", "50")
        .env("AGORA_AUTO_COMPLETE_DAYS", "3");
    let s = Server::start_with(options).await;
    let (_, worker_key) = s.register("Writer", json!({})).await;
    let writing = offer(&s, &worker_key, "manual", 500).await;
    let (_, buyer_key) = s.buyer(2_000).await;
    let advance = |days: i64| {
        let op = s.operator_key.clone();
        let s = &s;
        async move {
            let r = s.post("/api/admin/clock", Some(&op), json!({"advanceMs": days * 86_400_000})).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
    };
    s.post("/api/admin/clock", Some(&buyer_key), json!({"advanceMs": 1})).await.assert_error(403, "forbidden");

    let early = delivered(&s, &buyer_key, &worker_key, &writing).await;
    advance(2).await;
    let late = delivered(&s, &buyer_key, &worker_key, &writing).await;
    advance(2).await;
    // Four days after its delivery the first job completes; the second, two days old, waits:
    // the sweep that completed the first looked at it too.
    let job = eventually("the overdue job completes", Duration::from_secs(20), || async {
        Some(job_of(&s, &buyer_key, &early).await).filter(|j| j["status"] == "COMPLETED")
    })
    .await;
    assert_eq!(job["completedBy"], "auto");
    assert_eq!(job_of(&s, &buyer_key, &late).await["status"], "DELIVERED");
    assert_eq!(s.balance(&worker_key).await, 100 + 500 - fee(500));
    // The buyer can still review it, and can no longer dispute it.
    act(&s, &buyer_key, &early, json!({"action": "dispute"})).await.assert_error(409, "invalid_transition");
    let r = s.post(&format!("/api/jobs/{early}/review"), Some(&buyer_key), json!({"rating": 4})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_referrer_earns_from_its_referrals_jobs_executions_and_tasks() {
    let s = Server::start_with(Options::default().env("AGORA_FUEL_PER_CENT", "1000000000")).await;
    let (_, lily_key) = s.register("Lily", json!({})).await;
    let code = s.get("/api/agents/referral", Some(&lily_key)).await.body["referralCode"].as_str().unwrap().to_string();
    let again = s.post("/api/agents/referral", Some(&lily_key), json!({})).await;
    assert_eq!(again.body["referralCode"], code.as_str(), "the code does not change");

    let (_, worker_key) = s.register("Referred", json!({"referralCode": code, "capabilities": ["writing"]})).await;
    let (component_agent, component_key, _) =
        s.component_agent_with("summarize", json!({}), json!({"referralCode": code, "price_per_task": 200})).await;
    let (_, buyer_key) = s.buyer(5_000).await;

    // A marketplace job: 5% of the worker's 1,000 comes out of the 10% fee.
    let writing = offer(&s, &worker_key, "manual", 1_000).await;
    let job = delivered(&s, &buyer_key, &worker_key, &writing).await;
    act(&s, &buyer_key, &job, json!({"action": "complete"})).await;
    assert_eq!(s.balance(&worker_key).await, 100 + 900, "the referral costs the worker nothing");
    // A direct execution of the referred component agent (price 200; compute is free here).
    let r = s.execute(&buyer_key, &component_agent, "Summarize this. It is short.", 300).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(s.balance(&component_key).await, 100 + 180);
    // A task done by the referred worker (budget 400).
    let t = s.post("/api/tasks", Some(&buyer_key), json!({"title": "t", "description": "d", "budget": 400})).await;
    let task = t.body["data"]["id"].as_str().unwrap().to_string();
    s.post(&format!("/api/tasks/{task}/accept"), Some(&worker_key), json!({})).await;
    let c = s.post(&format!("/api/tasks/{task}/complete"), Some(&worker_key), json!({"result": "ok"})).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);

    let stats = s.get("/api/agents/referral", Some(&lily_key)).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    assert_eq!(stats.body["agentsReferred"], 2);
    assert_eq!(stats.body["totalEarningsCents"], 50 + 10 + 20, "{}", stats.body);
    assert_eq!(s.balance(&lily_key).await, 100 + 80);
    let history = s.get("/api/agents/wallet", Some(&lily_key)).await;
    let kinds: Vec<&str> =
        history.body["transactions"].as_array().unwrap().iter().filter_map(|t| t["type"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "REFERRAL_EARNING").count(), 3, "{}", history.body);
    s.get("/api/agents/referral", None).await.assert_error(401, "unauthorized");
    s.assert_ledger_sound().await;
}

/// One buyer's round: hire the component service (delivered at once) and race two completes
/// and a dispute on it; hire the manual service and race its cancel against the worker's accept.
/// Returns (component job, manual job) as they ended.
async fn race_one(s: &Server, buyer: &str, worker: &str, component: &str, manual: &str) -> (Value, Value) {
    let job = hire(s, buyer, component, "Race me. Twice. Then dispute.").await;
    assert_eq!(job["status"], "DELIVERED", "{job}");
    let id = job["id"].as_str().unwrap();
    let complete = || act(s, buyer, id, json!({"action": "complete"}));
    let (a, b, c) = tokio::join!(complete(), complete(), act(s, buyer, id, json!({"action": "dispute"})));
    let won = [&a, &b, &c].iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(won, 1, "exactly one action applies: {} {} {}", a.body, b.body, c.body);

    let job = hire(s, buyer, manual, "by hand").await;
    let id = job["id"].as_str().unwrap();
    let (cancel, accept) =
        tokio::join!(act(s, buyer, id, json!({"action": "cancel"})), act(s, worker, id, json!({"action": "accept"})));
    assert_ne!(cancel.status == StatusCode::OK, accept.status == StatusCode::OK, "one of cancel and accept applies");
    if accept.status == StatusCode::OK {
        let given_up = act(s, worker, id, json!({"action": "cancel"})).await;
        assert_eq!(given_up.body["job"]["status"], "CANCELLED", "{}", given_up.body);
    }
    (job_of(s, buyer, &job_id(&a, &b, &c)).await, job_of(s, buyer, id).await)
}

fn job_id(a: &agora_e2e::Reply, b: &agora_e2e::Reply, c: &agora_e2e::Reply) -> String {
    let won = [a, b, c].into_iter().find(|r| r.status == StatusCode::OK).unwrap();
    won.body["job"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn sixteen_buyers_racing_on_one_component_service_pay_and_refund_exactly_once() {
    let s = Server::start_with(Options::default().env("AGORA_FUEL_PER_CENT", "10000")).await;
    let (_, worker_key, _) = s.component_agent("summarize", 0, json!({})).await;
    let component = offer(&s, &worker_key, "component", 300).await;
    let manual = offer(&s, &worker_key, "manual", 200).await;
    let mut buyers = Vec::new();
    for _ in 0..16 {
        buyers.push(s.buyer(1_000).await.1);
    }
    let rounds =
        futures::future::join_all(buyers.iter().map(|buyer| race_one(&s, buyer, &worker_key, &component, &manual)))
            .await;

    // Every disputed job is refunded whole by the operator.
    let mut worker_expected = 100;
    for ((job, by_hand), buyer) in rounds.iter().zip(&buyers) {
        assert_eq!(by_hand["status"], "CANCELLED", "{by_hand}");
        let compute = job["computeCents"].as_i64().unwrap();
        match job["status"].as_str().unwrap() {
            "COMPLETED" => {
                worker_expected += (300 - compute) - fee(300 - compute);
                assert_eq!(s.balance(buyer).await, 1_100 - 300, "{job}");
            }
            "DISPUTED" => {
                let path = format!("/api/admin/disputes/{}/resolve", job["id"].as_str().unwrap());
                let r = s.post(&path, Some(&s.operator_key), json!({"refundCents": 300})).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
                worker_expected -= compute;
                assert_eq!(s.balance(buyer).await, 1_100, "{job}");
            }
            other => panic!("a raced job ended {other}: {job}"),
        }
    }
    assert_eq!(s.balance(&worker_key).await, worker_expected);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_short_wallet_hires_through_a_checkout_and_the_job_starts_when_paid() {
    let s = Server::start_with(Options::default().env("AGORA_FUEL_PER_CENT", "10000")).await;
    let (_, worker_key, _) = s.component_agent("summarize", 0, json!({})).await;
    let summaries = offer(&s, &worker_key, "component", 500).await;
    let (_, buyer_key) = s.buyer(0).await;
    let text = "Checkouts take a moment. Jobs wait for them. Then they run.";

    // POST /api/jobs pays from the wallet only; Toku's hire falls back to a checkout.
    let body = json!({"serviceId": summaries, "input": text});
    s.post("/api/jobs", Some(&buyer_key), body.clone()).await.assert_error(402, "insufficient_funds");
    let r = s.post("/api/agents/hire", Some(&buyer_key), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["paymentMethod"], "stripe");
    assert_eq!(r.body["job"]["status"], "PENDING_PAYMENT");
    assert_eq!(r.body["balance"], 100, "nothing is held yet");
    let job = r.body["job"]["id"].as_str().unwrap().to_string();
    let url = r.body["checkoutUrl"].as_str().unwrap().to_string();
    assert!(url.starts_with(&s.url("/pay/test/checkout/")), "{url}");
    act(&s, &worker_key, &job, json!({"action": "accept"})).await.assert_error(409, "invalid_transition");

    // Paid: the price is held from the credited wallet and the component delivers.
    pay_checkout(&url).await;
    let delivered = eventually("the paid job is delivered", Duration::from_secs(30), || async {
        Some(job_of(&s, &buyer_key, &job).await).filter(|j| j["status"] == "DELIVERED")
    })
    .await;
    assert!(!delivered["output"].as_str().unwrap().is_empty(), "{delivered}");
    assert_eq!(s.balance(&buyer_key).await, 100, "paid 500, held 500");

    // A job cancelled before its checkout is paid stays cancelled; the payment stays in the wallet.
    let manual = offer(&s, &worker_key, "manual", 300).await;
    let r = s.post("/api/agents/hire", Some(&buyer_key), json!({"serviceId": manual, "input": "x"})).await;
    let job = r.body["job"]["id"].as_str().unwrap().to_string();
    let c = act(&s, &buyer_key, &job, json!({"action": "cancel"})).await;
    assert_eq!(c.body["job"]["status"], "CANCELLED", "{}", c.body);
    pay_checkout(r.body["checkoutUrl"].as_str().unwrap()).await;
    eventually("the payment is credited", Duration::from_secs(30), || async {
        (s.balance(&buyer_key).await == 100 + 300).then_some(())
    })
    .await;
    assert_eq!(job_of(&s, &buyer_key, &job).await["status"], "CANCELLED");
    s.assert_ledger_sound().await;
}
