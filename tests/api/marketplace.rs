//! Toku's marketplace end to end: services with tiers, search, hiring with escrow, the job
//! lifecycle with its roles and refusals, cancellations, reviews and the events they record.

use agora_e2e::{Options, Server, StatusCode, TestHttp};
use serde_json::{json, Value};

fn options() -> Options {
    Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true").env("AGORA_ALLOW_INSECURE_URLS", "true")
}

fn code_review() -> Value {
    json!({
        "title": "Code Review & PR Feedback",
        "description": "Thorough code review of your pull request",
        "category": "Development",
        "tags": ["code-review", "Programming"],
        "tiers": [
            {"name": "Premium", "priceCents": 1500, "deliveryDays": 5, "features": ["Full codebase audit"]},
            {"name": "basic", "description": "Single file", "priceCents": 250, "deliveryDays": 1,
             "features": ["Single file or small PR", "Written feedback"]},
            {"name": "Standard", "priceCents": 750, "deliveryDays": 2}
        ]
    })
}

/// A worker offering the code review service; (worker id, key, service id).
async fn offering(s: &Server, name: &str) -> (String, String, String) {
    let (id, key) = s.register(name, json!({"description": "Reviews code"})).await;
    let r = s.post("/api/services", Some(&key), code_review()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (id, key, r.body["service"]["id"].as_str().unwrap().to_string())
}

async fn act(s: &Server, key: &str, job: &str, body: Value) -> agora_e2e::Reply {
    s.request("PATCH", &format!("/api/jobs/{job}"), Some(key), Some(body)).await
}

/// The event types of the deliveries queued for the agent behind `key`, oldest first.
async fn events_of(s: &Server, key: &str) -> Vec<String> {
    let r = s.get("/api/agents/me/webhooks/deliveries", Some(key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut types: Vec<String> =
        r.body["data"].as_array().unwrap().iter().map(|d| d["payload"]["event"].as_str().unwrap().into()).collect();
    types.reverse();
    types
}

#[tokio::test]
async fn toku_quick_start_search_hire_deliver_complete_review() {
    let s = Server::start_with(options()).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], "ok".into())).await;
    let (worker, worker_key, service) = offering(&s, "Lily").await;
    let (buyer, buyer_key) = s.buyer(5_000).await;
    for key in [&worker_key, &buyer_key] {
        s.post("/api/agents/me/webhooks", Some(key), json!({"webhookUrl": receiver.url("/hook")})).await;
    }

    // The listing: tiers in order, the cheapest as the service's price, labels lowercased.
    let got = s.get(&format!("/api/services/{service}"), None).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    let listed = &got.body["service"];
    assert_eq!(listed["priceCents"], 250);
    assert_eq!(listed["priceUsd"], "2.50");
    assert_eq!(listed["category"], "development");
    assert_eq!(listed["tags"], json!(["code-review", "programming"]));
    let names: Vec<&str> = listed["tiers"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Basic", "Standard", "Premium"]);
    assert_eq!(listed["agent"]["name"], "Lily");

    // Discovery.
    let found = s.get("/api/services/search?q=code+review&category=development", None).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(found.body["data"][0]["id"], service.as_str());
    assert_eq!(found.body["meta"]["total"], 1);
    for miss in ["q=cooking", "category=writing", "tags=python", "maxPrice=2", "agent=nobody", "minRating=1"] {
        let r = s.get(&format!("/api/services/search?{miss}"), None).await;
        assert_eq!(r.body["meta"]["total"], 0, "{miss}: {}", r.body);
    }
    for hit in ["tags=python,code-review", "maxPrice=2.5", "agent=lil"] {
        let r = s.get(&format!("/api/services/search?{hit}"), None).await;
        assert_eq!(r.body["meta"]["total"], 1, "{hit}: {}", r.body);
    }
    let directory = s.get("/api/agents?category=development&hasServices=true", None).await;
    assert!(
        directory.body["data"].as_array().unwrap().iter().any(|a| a["id"] == worker.as_str()),
        "{}",
        directory.body
    );

    // Hire at the Standard tier: held in escrow at once.
    let order = json!({"serviceId": service, "tierId": "Standard", "input": "Review my PR at example.com/pull/42"});
    let hired = s.post_idempotent("/api/jobs", &buyer_key, "hire-1", order.clone()).await;
    assert_eq!(hired.status, StatusCode::CREATED, "{}", hired.body);
    let job = hired.body["job"]["id"].as_str().unwrap().to_string();
    assert_eq!(hired.body["job"]["status"], "REQUESTED");
    assert_eq!(hired.body["job"]["priceCents"], 750);
    assert_eq!(hired.body["job"]["serviceName"], "Code Review & PR Feedback");
    assert_eq!(hired.body["job"]["workerName"], "Lily");
    assert_eq!(hired.body["balance"], 5_100 - 750);
    let again = s.post_idempotent("/api/jobs", &buyer_key, "hire-1", order).await;
    assert!(again.replayed(), "a retried hire is answered from its record");
    assert_eq!(again.body["job"]["id"], job.as_str());
    assert_eq!(s.balance(&buyer_key).await, 5_100 - 750, "held once");

    for (action, status) in [("accept", "ACCEPTED"), ("start", "IN_PROGRESS")] {
        let r = act(&s, &worker_key, &job, json!({"action": action})).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
        assert_eq!(r.body["job"]["status"], status);
    }
    let delivered = act(&s, &worker_key, &job, json!({"action": "deliver", "output": "LGTM with two nits"})).await;
    assert_eq!(delivered.body["job"]["status"], "DELIVERED", "{}", delivered.body);

    let seen = s.get(&format!("/api/jobs/{job}"), Some(&buyer_key)).await;
    assert_eq!(seen.body["job"]["output"], "LGTM with two nits");
    assert!(seen.body["job"]["deliveredAt"].is_string());

    let done = act(&s, &buyer_key, &job, json!({"action": "complete"})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["job"]["status"], "COMPLETED");
    assert_eq!(s.balance(&worker_key).await, 100 + 675, "the price less the 10% fee");
    assert_eq!(s.balance(&buyer_key).await, 5_100 - 750);

    let review =
        s.post(&format!("/api/jobs/{job}/review"), Some(&buyer_key), json!({"rating": 4, "comment": "Solid"})).await;
    assert_eq!(review.status, StatusCode::CREATED, "{}", review.body);
    assert_eq!(review.body["review"]["agentId"], worker.as_str());
    s.post(&format!("/api/jobs/{job}/review"), Some(&buyer_key), json!({"rating": 5}))
        .await
        .assert_error(409, "already_reviewed");
    s.post(&format!("/api/jobs/{job}/review"), Some(&worker_key), json!({"rating": 5}))
        .await
        .assert_error(403, "forbidden");
    let profile = s.get(&format!("/api/agents/{worker}"), None).await;
    assert_eq!(profile.body["agent"]["rating"], 4.0, "{}", profile.body);
    assert_eq!(profile.body["agent"]["jobsCompleted"], 1);
    assert_eq!(s.get("/api/services/search?minRating=4", None).await.body["meta"]["total"], 1);
    assert_eq!(s.get("/api/services/search?minRating=4.5", None).await.body["meta"]["total"], 0);

    // Each party was told of the other's steps, in Toku's payload shape.
    assert_eq!(events_of(&s, &worker_key).await, ["job.created", "job.completed"]);
    assert_eq!(events_of(&s, &buyer_key).await, ["job.accepted", "job.delivered"]);
    let log = s.get("/api/agents/me/webhooks/deliveries", Some(&worker_key)).await;
    let created = log.body["data"].as_array().unwrap().iter().find(|d| d["payload"]["event"] == "job.created").unwrap();
    assert_eq!(created["payload"]["jobId"], job.as_str());
    assert_eq!(created["payload"]["agentId"], worker.as_str());
    assert_eq!(created["payload"]["data"]["buyerId"], buyer.as_str());
    assert_eq!(created["payload"]["data"]["priceCents"], 750);

    // Lists by role and status.
    let mine = s.get("/api/jobs?role=worker&status=completed", Some(&worker_key)).await;
    assert_eq!(mine.body["jobs"][0]["id"], job.as_str(), "{}", mine.body);
    assert_eq!(s.get("/api/jobs?role=buyer", Some(&worker_key)).await.body["meta"]["total"], 0);
    s.get("/api/jobs?role=boss", Some(&worker_key)).await.assert_error(400, "invalid_query");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn wrong_parties_strangers_and_illegal_transitions_change_nothing() {
    let s = Server::start().await;
    let (_, worker_key, service) = offering(&s, "Strict").await;
    let (_, buyer_key) = s.buyer(1_000).await;
    let (_, stranger_key) = s.buyer(0).await;
    let r = s.post("/api/jobs", Some(&buyer_key), json!({"serviceId": service, "input": "x"})).await;
    assert_eq!(r.body["job"]["priceCents"], 250, "the cheapest tier by default: {}", r.body);
    let job = r.body["job"]["id"].as_str().unwrap().to_string();

    // A stranger learns nothing.
    s.get(&format!("/api/jobs/{job}"), Some(&stranger_key)).await.assert_error(404, "not_found");
    act(&s, &stranger_key, &job, json!({"action": "cancel"})).await.assert_error(404, "not_found");
    act(&s, &stranger_key, &job, json!({"action": "deliver"})).await.assert_error(404, "not_found");
    s.post(&format!("/api/jobs/{job}/review"), Some(&stranger_key), json!({"rating": 5}))
        .await
        .assert_error(404, "not_found");
    // The other party's actions.
    act(&s, &buyer_key, &job, json!({"action": "accept"})).await.assert_error(403, "forbidden");
    act(&s, &worker_key, &job, json!({"action": "complete"})).await.assert_error(403, "forbidden");
    // Steps out of order answer with the current status.
    for (key, action) in
        [(&worker_key, "start"), (&worker_key, "deliver"), (&buyer_key, "complete"), (&buyer_key, "dispute")]
    {
        let r = act(&s, key, &job, json!({"action": action, "output": "early"})).await;
        r.assert_error(409, "invalid_transition");
        assert_eq!(r.body["error"]["details"]["status"], "REQUESTED", "{}", r.body);
    }
    act(&s, &worker_key, &job, json!({"action": "fly"})).await.assert_error(422, "validation_error");
    act(&s, &worker_key, &job, json!({"action": "accept"})).await;
    act(&s, &worker_key, &job, json!({"action": "deliver"})).await.assert_error(422, "validation_error");
    s.post(&format!("/api/jobs/{job}/review"), Some(&buyer_key), json!({"rating": 5}))
        .await
        .assert_error(409, "invalid_transition");

    let seen = s.get(&format!("/api/jobs/{job}"), Some(&worker_key)).await;
    assert_eq!(seen.body["job"]["status"], "ACCEPTED");
    assert_eq!(seen.body["job"]["output"], Value::Null);
    assert_eq!(s.balance(&buyer_key).await, 1_100 - 250);
    assert_eq!(s.balance(&worker_key).await, 100);
    assert_eq!(s.balance(&stranger_key).await, 100);

    // Bad hires move nothing.
    let before = s.balance(&buyer_key).await;
    s.post("/api/jobs", Some(&buyer_key), json!({"serviceId": service, "tierId": "Gold", "input": "x"}))
        .await
        .assert_error(422, "validation_error");
    s.post("/api/jobs", Some(&buyer_key), json!({"serviceId": "nope", "input": "x"}))
        .await
        .assert_error(404, "not_found");
    s.post("/api/jobs", Some(&worker_key), json!({"serviceId": service, "input": "x"}))
        .await
        .assert_error(422, "validation_error");
    s.post("/api/jobs", Some(&stranger_key), json!({"serviceId": service, "tierId": "Premium", "input": "x"}))
        .await
        .assert_error(402, "insufficient_funds");
    s.request("DELETE", &format!("/api/services/{service}"), Some(&buyer_key), None)
        .await
        .assert_error(404, "not_found");
    let off = s.request("DELETE", &format!("/api/services/{service}"), Some(&worker_key), None).await;
    assert_eq!(off.body["service"]["active"], false, "{}", off.body);
    s.post("/api/jobs", Some(&buyer_key), json!({"serviceId": service, "input": "x"}))
        .await
        .assert_error(409, "service_unavailable");
    assert_eq!(s.get("/api/services/search", None).await.body["meta"]["total"], 0);
    assert_eq!(s.balance(&buyer_key).await, before);
    assert_eq!(s.balance(&stranger_key).await, 100);
    // The open job is unaffected by the service going away.
    let delivered = act(&s, &worker_key, &job, json!({"action": "deliver", "output": "done"})).await;
    assert_eq!(delivered.body["job"]["status"], "DELIVERED", "{}", delivered.body);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn cancellations_refund_the_escrow_by_the_documented_rule() {
    let s = Server::start().await;
    let (_, worker_key, service) = offering(&s, "Canceller").await;
    let (_, buyer_key) = s.buyer(2_000).await;
    let hire = |tier: &'static str| {
        let (s, buyer_key, service) = (&s, buyer_key.clone(), service.clone());
        async move {
            let r = s
                .post("/api/jobs", Some(&buyer_key), json!({"serviceId": service, "tierId": tier, "input": "x"}))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["job"]["id"].as_str().unwrap().to_string()
        }
    };

    // Before acceptance the buyer cancels: refunded whole.
    let first = hire("Basic").await;
    assert_eq!(s.balance(&buyer_key).await, 2_100 - 250);
    let c = act(&s, &buyer_key, &first, json!({"action": "cancel"})).await;
    assert_eq!(c.body["job"]["status"], "CANCELLED", "{}", c.body);
    assert_eq!(c.body["job"]["cancelledBy"], "buyer");
    assert_eq!(c.body["balance"], 2_100);
    act(&s, &buyer_key, &first, json!({"action": "cancel"})).await.assert_error(409, "invalid_transition");
    act(&s, &worker_key, &first, json!({"action": "accept"})).await.assert_error(409, "invalid_transition");

    // Once accepted, the buyer may not cancel before the delivery time; the worker may.
    let second = hire("Premium").await;
    act(&s, &worker_key, &second, json!({"action": "accept"})).await;
    act(&s, &buyer_key, &second, json!({"action": "cancel"})).await.assert_error(409, "not_allowed");
    assert_eq!(s.balance(&buyer_key).await, 2_100 - 1_500, "still held");
    let c = act(&s, &worker_key, &second, json!({"action": "cancel"})).await;
    assert_eq!(c.body["job"]["cancelledBy"], "worker", "{}", c.body);
    assert_eq!(s.balance(&buyer_key).await, 2_100);

    // Delivered work is completed or disputed, not cancelled.
    let third = hire("Standard").await;
    act(&s, &worker_key, &third, json!({"action": "accept"})).await;
    act(&s, &worker_key, &third, json!({"action": "deliver", "output": "here"})).await;
    for key in [&buyer_key, &worker_key] {
        act(&s, key, &third, json!({"action": "cancel"})).await.assert_error(409, "invalid_transition");
    }
    let d = act(&s, &buyer_key, &third, json!({"action": "dispute"})).await;
    assert_eq!(d.body["job"]["status"], "DISPUTED", "{}", d.body);
    act(&s, &buyer_key, &third, json!({"action": "complete"})).await.assert_error(409, "invalid_transition");
    assert_eq!(s.balance(&buyer_key).await, 2_100 - 750, "a disputed job's escrow stays held");
    assert_eq!(s.balance(&worker_key).await, 100);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn concurrent_completes_and_cancels_pay_or_refund_exactly_once() {
    let s = Server::start().await;
    let (_, worker_key, service) = offering(&s, "Racer").await;
    let (_, buyer_key) = s.buyer(10_000).await;
    let mut jobs = Vec::new();
    for _ in 0..8 {
        let r = s.post("/api/jobs", Some(&buyer_key), json!({"serviceId": service, "input": "x"})).await;
        let job = r.body["job"]["id"].as_str().unwrap().to_string();
        act(&s, &worker_key, &job, json!({"action": "accept"})).await;
        act(&s, &worker_key, &job, json!({"action": "deliver", "output": "o"})).await;
        jobs.push(job);
    }
    // Two completes and a dispute race on each job: exactly one wins.
    let mut racers = Vec::new();
    for job in &jobs {
        for action in ["complete", "complete", "dispute"] {
            let (s, key, job) = (&s, buyer_key.clone(), job.clone());
            racers.push(async move { act(s, &key, &job, json!({"action": action})).await.status });
        }
    }
    let statuses = futures::future::join_all(racers).await;
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(won, jobs.len(), "one action per job: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT), "{statuses:?}");
    let mut completed = 0;
    for job in &jobs {
        let j = s.get(&format!("/api/jobs/{job}"), Some(&buyer_key)).await;
        if j.body["job"]["status"] == "COMPLETED" {
            completed += 1;
        }
    }
    assert_eq!(s.balance(&worker_key).await, 100 + completed * 225);
    assert_eq!(s.balance(&buyer_key).await, 10_100 - 8 * 250);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn services_validate_edit_and_sort() {
    let s = Server::start().await;
    let (_, key) = s.register("Lister", json!({})).await;
    for bad in [
        json!({"title": "", "priceCents": 100}),
        json!({"title": "t"}),
        json!({"title": "t", "tiers": [{"name": "Gold", "priceCents": 100}]}),
        json!({"title": "t", "tiers": [{"name": "Basic", "priceCents": 0}]}),
        json!({"title": "t", "tiers": [{"name": "Basic", "priceCents": 100}, {"name": "basic", "priceCents": 200}]}),
        json!({"title": "t", "priceCents": 100, "deliveryDays": 1, "type": "WEEKLY"}),
        json!({"title": "t", "type": "SUBSCRIPTION", "monthlyPriceCents": 1000}),
        json!({"title": "t", "priceCents": 100, "runIntervalHours": 24}),
        json!({"title": "t", "priceCents": 100, "monthlyPriceCents": 100}),
        json!({"title": "t", "priceCents": 100, "fulfilment": "magic"}),
    ] {
        s.post("/api/services", Some(&key), bad.clone()).await.assert_error(422, "validation_error");
    }
    // The SDKs' shorthand: a price makes one Basic tier.
    let cheap = s.post("/api/services", Some(&key), json!({"title": "Cheap", "priceCents": 500})).await;
    assert_eq!(cheap.status, StatusCode::CREATED, "{}", cheap.body);
    assert_eq!(cheap.body["service"]["tiers"][0]["name"], "Basic");
    assert_eq!(cheap.body["service"]["type"], "ONE_OFF");
    assert_eq!(cheap.body["service"]["fulfilment"], "manual");
    let sub = s
        .post(
            "/api/services",
            Some(&key),
            json!({"title": "Daily Market Analysis", "type": "SUBSCRIPTION", "runIntervalHours": 24,
                   "monthlyPriceCents": 1000}),
        )
        .await;
    assert_eq!(sub.status, StatusCode::CREATED, "{}", sub.body);
    assert_eq!(sub.body["service"]["monthlyPriceCents"], 1000);
    let pricey = s.post("/api/services", Some(&key), json!({"title": "Pricey", "priceCents": 9_000})).await;
    let id = pricey.body["service"]["id"].as_str().unwrap().to_string();

    let order = |sort: &'static str| {
        let s = &s;
        async move {
            let r = s.get(&format!("/api/services?sort={sort}"), None).await;
            r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["title"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(order("price-low").await, ["Cheap", "Daily Market Analysis", "Pricey"]);
    assert_eq!(order("price-high").await, ["Pricey", "Daily Market Analysis", "Cheap"]);
    assert_eq!(order("newest").await, ["Pricey", "Daily Market Analysis", "Cheap"]);
    s.get("/api/services?sort=random", None).await.assert_error(400, "invalid_query");
    s.get("/api/services/search?maxPrice=-1", None).await.assert_error(400, "invalid_query");

    // Edits by the owner only; a stranger is told it does not exist.
    let (_, other) = s.register("Other", json!({})).await;
    s.request("PATCH", &format!("/api/services/{id}"), Some(&other), Some(json!({"title": "Mine"})))
        .await
        .assert_error(404, "not_found");
    let edited = s
        .request(
            "PATCH",
            &format!("/api/services/{id}"),
            Some(&key),
            Some(json!({"tiers": [{"name": "Basic", "priceCents": 100}, {"name": "Premium", "priceCents": 300}],
                        "tags": ["Fast"]})),
        )
        .await;
    assert_eq!(edited.body["service"]["priceCents"], 100, "{}", edited.body);
    assert_eq!(edited.body["service"]["title"], "Pricey");
    assert_eq!(s.get("/api/services/search?tags=fast", None).await.body["data"][0]["id"], id.as_str());
    let page = s.get("/api/services/search?limit=1", None).await;
    let cursor = page.body["meta"]["nextCursor"].as_str().unwrap().to_string();
    let next = s.get(&format!("/api/services/search?limit=1&cursor={cursor}"), None).await;
    assert_eq!(next.body["data"][0]["title"], "Daily Market Analysis", "{}", next.body);
    let setup = s.get("/api/agents/me/setup", Some(&key)).await;
    let step = setup.body["steps"].as_array().unwrap().iter().find(|s| s["id"] == "services").unwrap().clone();
    assert_eq!(step["done"], true);
}
