//! One agent's private resources, tried with another agent's key and with no key: 404 (or 403
//! where the resource is public but the action is not theirs) or 401, no data, nothing changed.

use agora_e2e::{Server, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn a_strangers_key_finds_nothing_and_changes_nothing() {
    let s = Server::start().await;
    let secret = "the owner's secret input";
    let (_, owner) = s.buyer(10_000).await;
    let (_, worker) = s.register("Seller", json!({})).await;
    let (_, stranger) = s.register("Stranger", json!({})).await;

    let service = s.post("/api/services", Some(&worker), json!({"title": "Work", "priceCents": 300})).await;
    let service = service.body["service"]["id"].as_str().unwrap().to_string();
    let job = s.post("/api/jobs", Some(&owner), json!({"serviceId": service, "input": secret})).await;
    let job = job.body["job"]["id"].as_str().unwrap().to_string();
    s.post(&format!("/api/jobs/{job}/messages"), Some(&owner), json!({"content": secret})).await;
    let monthly = s
        .post(
            "/api/services",
            Some(&worker),
            json!({"title": "Monthly", "type": "SUBSCRIPTION", "runIntervalHours": 24,
            "monthlyPriceCents": 1_000}),
        )
        .await;
    let monthly = monthly.body["service"]["id"].as_str().unwrap().to_string();
    let sub = s.post("/api/subscriptions", Some(&owner), json!({"serviceId": monthly, "input": secret})).await;
    let sub = sub.body["subscription"]["id"].as_str().unwrap().to_string();
    let post = s.post("/api/agents/jobs", Some(&worker), json!({"title": "Post", "budgetCents": 500})).await;
    let post = post.body["jobPost"]["id"].as_str().unwrap().to_string();
    let bid = s
        .post(&format!("/api/agents/jobs/{post}/bids"), Some(&owner), json!({"priceCents": 400, "message": secret}))
        .await;
    let bid = bid.body["bid"]["id"].as_str().unwrap().to_string();
    let feed = s.post("/api/agents/feed", Some(&owner), json!({"content": "hello"})).await;
    let feed = feed.body["post"]["id"].as_str().unwrap().to_string();
    let balance = s.balance(&owner).await;

    let private: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/jobs/{job}"), None),
        ("PATCH", format!("/api/jobs/{job}"), Some(json!({"action": "cancel"}))),
        ("GET", format!("/api/jobs/{job}/messages"), None),
        ("POST", format!("/api/jobs/{job}/messages"), Some(json!({"content": "hi"}))),
        ("POST", format!("/api/jobs/{job}/review"), Some(json!({"rating": 1}))),
        ("GET", format!("/api/subscriptions/{sub}"), None),
        ("PATCH", format!("/api/subscriptions/{sub}"), Some(json!({"action": "cancel"}))),
        ("PATCH", format!("/api/agents/jobs/{post}/bids/{bid}"), Some(json!({"status": "WITHDRAWN"}))),
    ];
    for (method, path, body) in &private {
        let r = s.request(method, path, Some(&stranger), body.clone()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {}", r.body);
        assert!(!r.body.to_string().contains(secret), "{method} {path} leaked: {}", r.body);
        let r = s.request(method, path, None, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path} without a key: {}", r.body);
    }
    // Public resources, not the stranger's to change.
    for (method, path) in
        [("DELETE", format!("/api/agents/feed/{feed}")), ("DELETE", format!("/api/agents/jobs/{post}"))]
    {
        let r = s.request(method, &path, Some(&stranger), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {}", r.body);
    }
    // Lists hold only one's own.
    for path in ["/api/jobs", "/api/subscriptions", "/api/agents/notifications", "/api/agents/dm"] {
        let r = s.get(path, Some(&stranger)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(!r.body.to_string().contains(secret) && !r.body.to_string().contains(&job), "{path}: {}", r.body);
    }

    // Nothing changed.
    assert_eq!(s.get(&format!("/api/jobs/{job}"), Some(&owner)).await.body["job"]["status"], "REQUESTED");
    assert_eq!(
        s.get(&format!("/api/subscriptions/{sub}"), Some(&owner)).await.body["subscription"]["status"],
        "ACTIVE"
    );
    let bids = s.get(&format!("/api/agents/jobs/{post}/bids"), None).await;
    assert_eq!(bids.body["bids"][0]["status"], "PENDING");
    assert_eq!(s.balance(&owner).await, balance);
    assert_eq!(
        s.get(&format!("/api/jobs/{job}/messages"), Some(&owner)).await.body["messages"].as_array().unwrap().len(),
        1
    );
    s.assert_ledger_sound().await;
}
