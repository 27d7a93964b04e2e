//! Custom proposals: a guest asks, every agent hears of it, an operator quotes with an agent,
//! and the guest, now with an agent key and its token, accepts into a job paid by checkout; an
//! agent's own proposal is paid from its wallet.

use std::time::Duration;

use agora_e2e::{eventually, pay_checkout, Server, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_guest_proposal_from_submission_to_a_paid_job() {
    let s = Server::start().await;
    let op = s.operator_key.clone();
    let (worker_id, worker) = s.register("Builder", json!({})).await;
    let (_, other) = s.register("Bystander", json!({})).await;

    let body = json!({"title": "Custom AI chatbot", "description": "A chatbot for my shop",
                      "attachments": ["https://example.com/spec.pdf"]});
    s.post("/api/custom-proposals", None, body.clone()).await.assert_error(422, "validation_error");
    let mut guest = body.clone();
    guest["name"] = json!("John");
    guest["email"] = json!("john@co.example");
    let r = s.post("/api/custom-proposals", None, guest).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["proposal"]["status"], "pending");
    let id = r.body["proposal"]["id"].as_str().unwrap().to_string();
    let token = r.body["accessToken"].as_str().unwrap().to_string();
    let path = format!("/api/custom-proposals/{id}");

    // Every active agent is told, in the background.
    for key in [&worker, &other] {
        eventually("the proposal is announced", Duration::from_secs(20), || async {
            let n = s.get("/api/agents/notifications", Some(key)).await;
            n.body["notifications"].as_array().unwrap().iter().any(|n| n["type"] == "proposal").then_some(())
        })
        .await;
    }

    // Who sees it: the guest with its token, operators; nobody else.
    let seen = s.request("GET", &path, None, None).await;
    seen.assert_error(404, "not_found");
    let by_token = s.http.get(s.url(&path)).header("X-Proposal-Token", &token).send().await.unwrap();
    assert_eq!(by_token.status(), 200);
    let wrong = s.http.get(s.url(&path)).header("X-Proposal-Token", "pt_wrong").send().await.unwrap();
    assert_eq!(wrong.status(), 404);
    s.get(&path, Some(&other)).await.assert_error(404, "not_found");
    let listed = s.get("/api/custom-proposals", Some(&op)).await;
    assert_eq!(listed.body["proposals"][0]["user"]["email"], "john@co.example", "{}", listed.body);
    s.get("/api/custom-proposals", Some(&other)).await.assert_error(403, "forbidden");

    // Accepting before a quote is refused; the operator quotes with the agent that will build it.
    let (buyer_id, buyer) = s.buyer(0).await;
    let accept = |key: String| {
        let (s, path, token) = (&s, format!("{path}/accept"), token.clone());
        async move {
            let resp =
                s.http.post(s.url(&path)).bearer_auth(key).header("X-Proposal-Token", token).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    assert_eq!(accept(buyer.clone()).await.0, 409);
    let quote = json!({"priceCents": 25_000, "responseMessage": "We can build this in 2 weeks.", "agentId": worker_id});
    s.request("PATCH", &path, Some(&other), Some(quote.clone())).await.assert_error(403, "forbidden");
    let quoted = s.request("PATCH", &path, Some(&op), Some(quote)).await;
    assert_eq!(quoted.body["proposal"]["status"], "quoted", "{}", quoted.body);
    assert_eq!(quoted.body["proposal"]["priceCents"], 25_000);

    // The guest registered an agent (100 cents of credit): the job waits for its checkout.
    let (status, accepted) = accept(buyer.clone()).await;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["paymentMethod"], "stripe");
    assert_eq!(accepted["job"]["status"], "PENDING_PAYMENT");
    assert_eq!(accepted["job"]["workerId"], worker_id.as_str());
    assert_eq!(accepted["job"]["buyerId"], buyer_id.as_str());
    assert_eq!(accept(buyer.clone()).await.0, 409, "accepted once");
    pay_checkout(accepted["checkoutUrl"].as_str().unwrap()).await;
    let job = accepted["job"]["id"].as_str().unwrap().to_string();
    eventually("the job starts once paid", Duration::from_secs(20), || async {
        let j = s.get(&format!("/api/jobs/{job}"), Some(&buyer)).await;
        (j.body["job"]["status"] == "REQUESTED").then_some(())
    })
    .await;
    assert_eq!(s.balance(&buyer).await, 100, "paid 25,000, held 25,000");
    let after = s.http.get(s.url(&path)).header("X-Proposal-Token", &token).send().await.unwrap();
    let after: serde_json::Value = after.json().await.unwrap();
    assert_eq!(after["proposal"]["status"], "accepted");
    assert_eq!(after["proposal"]["job"]["id"], job.as_str());
    // The quoted agent works it like any job.
    let r = s.request("PATCH", &format!("/api/jobs/{job}"), Some(&worker), Some(json!({"action": "accept"}))).await;
    assert_eq!(r.body["job"]["status"], "ACCEPTED", "{}", r.body);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn an_agents_proposal_is_paid_from_its_wallet() {
    let s = Server::start().await;
    let (worker_id, _) = s.register("Builder", json!({})).await;
    let (_, asker) = s.buyer(1_000).await;
    let r = s.post("/api/custom-proposals", Some(&asker), json!({"title": "A logo", "description": "Blue"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.get("accessToken").is_none());
    let id = r.body["proposal"]["id"].as_str().unwrap().to_string();
    let q = json!({"priceCents": 400, "agentId": worker_id});
    s.request("PATCH", &format!("/api/custom-proposals/{id}"), Some(&s.operator_key), Some(q)).await;
    let done = s.post(&format!("/api/custom-proposals/{id}/accept"), Some(&asker), json!({})).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert_eq!(done.body["paymentMethod"], "wallet");
    assert_eq!(done.body["job"]["status"], "REQUESTED");
    assert_eq!(s.balance(&asker).await, 1_100 - 400);
    s.assert_ledger_sound().await;
}
