//! Job threads, direct messages with unread counts, blocking and the per-sender rate, and what
//! each tells the other side.

use agora_e2e::{Options, Server, StatusCode, TestHttp};
use serde_json::json;

async fn events_of(s: &Server, key: &str) -> Vec<String> {
    let r = s.get("/api/agents/me/webhooks/deliveries", Some(key)).await;
    r.body["data"].as_array().unwrap().iter().map(|d| d["event"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_jobs_thread_is_its_buyers_and_workers() {
    let s = Server::start_with(Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], "ok".into())).await;
    let (_, worker) = s.register("Reviewer", json!({})).await;
    s.post("/api/agents/me/webhooks", Some(&worker), json!({"webhookUrl": receiver.url("/hook")})).await;
    let (_, buyer) = s.buyer(1_000).await;
    let (_, stranger) = s.register("Nosy", json!({})).await;
    let service = s.post("/api/services", Some(&worker), json!({"title": "Review", "priceCents": 100})).await;
    let service = service.body["service"]["id"].as_str().unwrap().to_string();
    let job = s.post("/api/jobs", Some(&buyer), json!({"serviceId": service, "input": "my PR"})).await;
    let job = job.body["job"]["id"].as_str().unwrap().to_string();
    let thread = format!("/api/jobs/{job}/messages");

    let sent = s.post(&thread, Some(&buyer), json!({"content": "Can you also check the auth module?"})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    assert_eq!(sent.body["message"]["sender"], "buyer");
    let reply = s.post(&thread, Some(&worker), json!({"content": "Sure, I'll include that in the review."})).await;
    assert_eq!(reply.body["message"]["sender"], "worker", "{}", reply.body);
    let seen = s.get(&thread, Some(&worker)).await;
    let senders: Vec<&str> =
        seen.body["messages"].as_array().unwrap().iter().map(|m| m["sender"].as_str().unwrap()).collect();
    assert_eq!(senders, ["buyer", "worker"]);
    let with_job = s.get(&format!("/api/jobs/{job}"), Some(&buyer)).await;
    assert_eq!(with_job.body["messages"].as_array().unwrap().len(), 2, "{}", with_job.body);

    s.get(&thread, Some(&stranger)).await.assert_error(404, "not_found");
    s.post(&thread, Some(&stranger), json!({"content": "hi"})).await.assert_error(404, "not_found");
    s.get(&thread, None).await.assert_error(401, "unauthorized");
    s.post(&thread, Some(&buyer), json!({"content": "  "})).await.assert_error(422, "validation_error");
    assert!(events_of(&s, &worker).await.contains(&"job.message".to_string()));
    let inbox = s.get("/api/agents/notifications", Some(&worker)).await;
    assert_eq!(inbox.body["notifications"][0]["type"], "job_message", "{}", inbox.body);
}

#[tokio::test]
async fn direct_messages_with_unread_counts_blocks_and_a_rate() {
    let s = Server::start_with(Options::default().env("AGORA_DM_PER_MINUTE", "4")).await;
    let (lily_id, lily) = s.register("Lily", json!({})).await;
    let (me_id, me) = s.register("MyAgent", json!({})).await;

    let sent = s.post("/api/agents/dm", Some(&me), json!({"to": "lily", "message": "Hey! Let's collaborate."})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    assert_eq!(sent.body["message"]["to"]["id"], lily_id.as_str());
    assert_eq!(sent.body["message"]["from"]["name"], "MyAgent");
    let conversation = sent.body["message"]["conversationId"].clone();
    let again = s.post("/api/agents/dm", Some(&me), json!({"to": lily_id, "message": "Are you there?"})).await;
    assert_eq!(again.body["message"]["conversationId"], conversation, "one conversation per pair");

    let list = s.get("/api/agents/dm", Some(&lily)).await;
    let first = &list.body["conversations"][0];
    assert_eq!(
        (first["unread"].as_i64(), first["with"]["id"].as_str()),
        (Some(2), Some(me_id.as_str())),
        "{}",
        list.body
    );
    assert_eq!(first["lastMessage"]["content"], "Are you there?");
    assert_eq!(first["lastMessage"]["fromMe"], false);
    let read = s.get(&format!("/api/agents/dm?with={me_id}"), Some(&lily)).await;
    let messages = read.body["conversation"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{}", read.body);
    assert_eq!(messages[0]["content"], "Hey! Let's collaborate.");
    assert_eq!(s.get("/api/agents/dm", Some(&lily)).await.body["conversations"][0]["unread"], 0);
    let mine = s.get("/api/agents/dm?with=Lily", Some(&me)).await;
    assert_eq!(mine.body["conversation"]["messages"][0]["fromMe"], true);
    assert_eq!(mine.body["conversation"]["messages"][0]["read"], true, "{}", mine.body);

    for (body, status) in [
        (json!({"to": "nobody-here", "message": "hi"}), 404),
        (json!({"to": "MyAgent", "message": "me"}), 422),
        (json!({"to": "Lily", "message": "x".repeat(5_001)}), 422),
        (json!({"to": "Lily", "message": ""}), 422),
    ] {
        let r = s.post("/api/agents/dm", Some(&me), body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.body);
    }

    // Lily blocks MyAgent: its messages are refused until she unblocks it.
    let b = s.post("/api/agents/blocks", Some(&lily), json!({"agent": "MyAgent"})).await;
    assert_eq!(b.body["blocked"]["id"], me_id.as_str(), "{}", b.body);
    s.post("/api/agents/dm", Some(&me), json!({"to": "Lily", "message": "hello?"})).await.assert_error(403, "blocked");
    assert_eq!(s.get("/api/agents/blocks", Some(&lily)).await.body["blocked"][0]["name"], "MyAgent");
    let u = s.request("DELETE", &format!("/api/agents/blocks/{me_id}"), Some(&lily), None).await;
    assert_eq!(u.body["unblocked"], true, "{}", u.body);
    let r = s.post("/api/agents/dm", Some(&me), json!({"to": "Lily", "message": "hello again"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // Three sent in the last minute, the rate is four: one more, then 429.
    assert_eq!(
        s.post("/api/agents/dm", Some(&me), json!({"to": "Lily", "message": "4"})).await.status,
        StatusCode::CREATED
    );
    s.post("/api/agents/dm", Some(&me), json!({"to": "Lily", "message": "5"})).await.assert_error(429, "rate_limited");
    s.get("/api/agents/dm", None).await.assert_error(401, "unauthorized");
}
