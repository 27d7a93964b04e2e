//! The media routes: passed through to the upstream that has them, falling back like chat,
//! billed per unit through the ledger, refused before any upstream call when they cannot be.

use agora_e2e::fixtures::fake_llm::{Behaviour, FakeLlm};
use agora_e2e::reply::Reply;
use agora_e2e::{Server, StatusCode};
use serde_json::{json, Value};

use super::{gateway, micros};

/// A multipart form of text fields and one file, as a client sends it.
async fn form(s: &Server, key: &str, fields: &[(&str, &str)], file: Option<&[u8]>) -> Reply {
    let boundary = "test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some(file) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n\
                 Content-Type: audio/mpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let req = s
        .http
        .post(s.url("/v1/audio/transcriptions"))
        .header("X-API-Key", key)
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .body(body);
    Reply::from(req.send().await.expect("request sent")).await
}

fn cost(r: &Reply) -> i64 {
    micros(&json!(r.headers["x-tokaroo-cost"].to_str().unwrap().parse::<f64>().unwrap()))
}

async fn last_usage(s: &Server, agent: &str) -> Value {
    s.get("/v1/usage?limit=1", Some(agent)).await.body["data"][0].clone()
}

#[tokio::test]
async fn media_routes_pass_through_and_bill_per_unit() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (_, agent) = s.buyer(10_000).await;
    let before = s.balance(&agent).await;

    let r = s
        .post("/v1/images/generations", Some(&agent), json!({"prompt": "a sunset", "n": 2, "size": "1024x1024"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(cost(&r), 80_000, "two images at $0.04");
    let row = last_usage(&s, &agent).await;
    assert_eq!((row["request_type"].clone(), micros(&row["charged_usd"])), (json!("images"), 80_000), "{row}");

    // The mode's model fails: the next images model serves, at its price.
    fake.set("dall-e-3", Behaviour::Status(500));
    let r = s.post("/v1/images/generations", Some(&agent), json!({"prompt": "a sunset", "n": 2})).await;
    assert_eq!((r.status, cost(&r)), (StatusCode::OK, 100_000), "{}", r.body);
    fake.set("dall-e-3", Behaviour::Ok);

    let r = s.post("/v1/audio/speech", Some(&agent), json!({"input": "word ".repeat(300), "voice": "nova"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "audio/mpeg");
    assert!(r.body.as_str().unwrap().starts_with("ID3fake-audio"));
    assert_eq!(cost(&r), 30_000, "1,500 characters: two thousands at $0.015");

    let r = form(&s, &agent, &[("model", "auto"), ("language", "en")], Some(&[7u8; 1500])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["text"], json!("transcribed 1500 bytes"));
    assert_eq!(cost(&r), 6_000, "a started megabyte at $0.006");
    let sent = fake.requests().into_iter().rfind(|r| r.path == "/v1/audio/transcriptions").unwrap();
    assert!(sent.body.contains("whisper-1") && !sent.body.contains("name=\"model\"\r\n\r\nauto"));

    let r = s.post("/v1/videos/generations", Some(&agent), json!({"prompt": "a flower", "duration": 3})).await;
    assert_eq!((r.status, cost(&r)), (StatusCode::OK, 300_000), "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("video_") && r.body["status"] == json!("processing"), "{}", r.body);
    let polled = s.get(&format!("/v1/videos/generations/{id}"), Some(&agent)).await;
    assert_eq!(polled.body["status"], json!("completed"), "{}", polled.body);
    assert!(polled.body["url"].as_str().unwrap().starts_with("https://video.example/"));

    let charged: i64 = 80_000 + 100_000 + 30_000 + 6_000 + 300_000;
    assert_eq!(before - s.balance(&agent).await, charged / 10_000, "the wallet paid the whole cents");

    // Refused before any upstream call, with nothing charged.
    let (_, stranger) = s.buyer(100).await;
    s.get(&format!("/v1/videos/generations/{id}"), Some(&stranger)).await.assert_error(404, "not_found");
    let calls = fake.requests().len();
    s.post("/v1/images/generations", Some(&agent), json!({"prompt": ""})).await.assert_error(400, "invalid_request");
    s.post("/v1/images/generations", Some(&agent), json!({"prompt": "x", "n": 11}))
        .await
        .assert_error(400, "invalid_request");
    s.post("/v1/audio/speech", Some(&agent), json!({"input": "x", "speed": 9}))
        .await
        .assert_error(400, "invalid_request");
    s.post("/v1/images/generations", Some(&agent), json!({"prompt": "x", "model": "midjourney"}))
        .await
        .assert_error(503, "provider_not_configured");
    form(&s, &agent, &[("model", "auto")], None).await.assert_error(400, "invalid_request");
    let (_, broke) = s.register(&agora_e2e::random_name("broke"), json!({})).await;
    s.post("/v1/audio/speech", Some(&broke), json!({"input": "hi"})).await.assert_error(402, "billing_required");
    let huge = vec![0u8; 25 * 1024 * 1024 + 1];
    assert_eq!(form(&s, &agent, &[], Some(&huge)).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(fake.requests().len(), calls, "nothing reached the upstream");
    assert_eq!(before - s.balance(&agent).await, charged / 10_000);
    s.assert_ledger_sound().await;
}
