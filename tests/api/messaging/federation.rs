//! Two Agora hosts on loopback: signed envelopes delivered and acknowledged, tampered, replayed
//! and stale ones refused, a key rotation followed (and a block with it), delivery retried until
//! the receiving host is back.

use std::time::Duration;

use agora_e2e::{eventually, Options, Server, StatusCode};
use serde_json::{json, Value};

use super::{agent, millis, next_message, send};

fn federating() -> Options {
    Options::default().env("AGORA_MESSAGING_FEDERATION_SCHEME", "http").env("AGORA_ALLOW_PRIVATE_HTTP", "true")
}

/// The envelope of a message as its sender's history shows it.
fn envelope(m: &Value) -> Value {
    json!({"id": m["id"], "thread_id": m["thread_id"], "from": m["from"], "from_key": m["from_key"], "to": m["to"],
           "reply_to": m["reply_to"], "content_type": m["content_type"], "body": m["body"].to_string(),
           "created_ms": millis(&m["timestamp"]), "signature": m["signature"]})
}

#[tokio::test]
async fn two_hosts_exchange_signed_messages() {
    let a = Server::start_with(federating()).await;
    let mut b = Server::start_with(federating()).await;
    let (alice, alice_at) = agent(&a, "Alice Far").await;
    let (bob, bob_at) = agent(&b, "Bob Far").await;
    let mut live = b.sse("/v1/messages", &bob, &[]).await;

    let sent = a
        .post("/v1/messages?wait=true&timeout=10", Some(&alice), json!({"to": bob_at, "body": {"text": "across"}}))
        .await;
    assert_eq!((sent.status, sent.body["status"].clone()), (StatusCode::OK, json!("delivered")), "{}", sent.body);
    let (_, got) = next_message(&mut live).await;
    assert_eq!((got["from"].clone(), got["body"]["text"].clone()), (json!(alice_at), json!("across")));
    assert_eq!(got["signature"], sent.body["messages"][0]["signature"], "the sender's signature, carried");

    // A ping across hosts answers the remote key.
    let bob_key = b.get("/v1/card", Some(&bob)).await.body["public_key"].clone();
    let pong = a.post("/v1/ping", Some(&alice), json!({"address": bob_at})).await;
    assert_eq!(pong.body["public_key"], bob_key, "{}", pong.body);

    // Bob answers in the thread; it reaches alice on her host.
    let thread = got["thread_id"].clone();
    let reply = b
        .post(
            "/v1/messages?wait=true",
            Some(&bob),
            json!({"to": alice_at, "body": {"text": "back"}, "thread_id": thread}),
        )
        .await;
    assert_eq!(reply.body["status"], "delivered", "{}", reply.body);
    let hers = a.get("/v1/messages/history", Some(&alice)).await.body;
    assert_eq!(hers["messages"][0]["body"]["text"], "back", "{hers}");

    // Tampered, replayed and stale envelopes.
    let original = envelope(&a.get("/v1/messages/history", Some(&alice)).await.body["messages"][1]);
    let mut tampered = original.clone();
    tampered["body"] = json!(json!({"text": "acrosS"}).to_string());
    tampered["id"] = json!("tampered-1");
    b.post("/federation/v1/messages", None, tampered).await.assert_error(401, "invalid_signature");
    let replayed = b.post("/federation/v1/messages", None, original.clone()).await;
    assert_eq!(replayed.body["status"], "duplicate", "{}", replayed.body);
    let mut stale = original.clone();
    stale["created_ms"] = json!(1_000_000);
    b.post("/federation/v1/messages", None, stale).await.assert_error(400, "stale_envelope");
    assert_eq!(b.get("/v1/messages/history", Some(&bob)).await.body["messages"].as_array().unwrap().len(), 2);

    // Bob blocks alice's key; she rotates it; the block follows her new key, which bob's host
    // accepts only through her old key's signed statement.
    let alice_key = a.get("/v1/card", Some(&alice)).await.body["public_key"].clone();
    b.post("/v1/block", Some(&bob), json!({"key": alice_key})).await;
    let rotated = a.post("/v1/keys/rotate", Some(&alice), json!({})).await.body;
    let refused =
        a.post("/v1/messages?wait=true", Some(&alice), json!({"to": bob_at, "body": {"text": "new key"}})).await;
    refused.assert_error(502, "not_reachable");
    let rules = b.get("/v1/permissions", Some(&bob)).await.body;
    assert_eq!(rules["blocked"][0]["key"], rotated["new_key"], "the block followed the rotation: {rules}");
    b.request("DELETE", "/v1/block", Some(&bob), Some(json!({"key": rotated["new_key"]}))).await;
    let through =
        a.post("/v1/messages?wait=true", Some(&alice), json!({"to": bob_at, "body": {"text": "new key"}})).await;
    assert_eq!(through.body["status"], "delivered", "{}", through.body);

    // The receiving host is down: the message waits, and is delivered once it is back.
    b.stop().await;
    let queued = send(&a, &alice, json!({"to": bob_at, "body": {"text": "are you back?"}})).await;
    assert_eq!(queued.body["status"], "queued", "{}", queued.body);
    b.relaunch().await;
    let id = queued.body["id"].clone();
    eventually("the message to be delivered after the restart", Duration::from_secs(40), || async {
        let history = a.get("/v1/messages/history?limit=1", Some(&alice)).await.body;
        (history["messages"][0]["id"] == id && history["messages"][0]["status"] == "delivered").then_some(())
    })
    .await;
    let bobs = b.get("/v1/messages/history?limit=1", Some(&bob)).await.body;
    assert_eq!(bobs["messages"][0]["body"]["text"], "are you back?", "{bobs}");
}

#[tokio::test]
async fn a_stream_to_another_host_arrives_chunk_by_chunk_and_whole() {
    let a = Server::start_with(federating()).await;
    let b = Server::start_with(federating()).await;
    let (alice, alice_at) = agent(&a, "Alice Streams").await;
    let (bob, bob_at) = agent(&b, "Bob Watches").await;
    let mut live = b.sse("/v1/messages", &bob, &[]).await;

    let started = a.post("/v1/stream/start", Some(&alice), json!({"to": bob_at})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let stream = started.body["stream_id"].as_str().unwrap().to_string();
    for (i, text) in ["Hel", "lo"].iter().enumerate() {
        let sent = a.post("/v1/stream/chunk", Some(&alice), json!({"stream_id": stream, "text": text})).await;
        assert_eq!(sent.body, json!({"stream_id": stream, "index": i}), "{}", sent.body);
        let event = live.next(Duration::from_secs(10)).await.expect("the chunk, live");
        assert_eq!(event.event, "stream.chunk", "{event:?}");
        let chunk = event.json();
        assert_eq!((chunk["text"].clone(), chunk["index"].clone()), (json!(text), json!(i)));
        assert_eq!((chunk["from"].clone(), chunk["stream_id"].clone()), (json!(alice_at), json!(stream)));
    }

    // A chunk that is not alice's (its signature does not verify) is refused by bob's host.
    let forged = json!({"stream_id": stream, "index": 2, "thread_id": started.body["thread_id"], "from": alice_at,
        "from_key": a.get("/v1/card", Some(&alice)).await.body["public_key"], "to": bob_at, "text": "evil",
        "created_ms": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64,
        "signature": "AAAA"});
    b.post("/federation/v1/stream-chunks", None, forged).await.assert_error(401, "invalid_signature");

    let ended = a.post("/v1/stream/end", Some(&alice), json!({"stream_id": stream})).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    let (_, whole) = next_message(&mut live).await;
    assert_eq!(whole["body"], json!({"text": "Hello", "stream_id": stream, "chunks": 2}), "{whole}");
    assert_eq!(whole["from"], json!(alice_at));
    a.post("/v1/stream/chunk", Some(&alice), json!({"stream_id": stream, "text": "late"}))
        .await
        .assert_error(409, "conflict");

    // Once bob blocks alice, her host hears the refusal at her next chunk, which is not added.
    let alice_key = a.get("/v1/card", Some(&alice)).await.body["public_key"].clone();
    b.post("/v1/block", Some(&bob), json!({"key": alice_key})).await;
    let again = a.post("/v1/stream/start", Some(&alice), json!({"to": bob_at})).await.body;
    let refused = a.post("/v1/stream/chunk", Some(&alice), json!({"stream_id": again["stream_id"], "text": "x"})).await;
    refused.assert_error(502, "not_reachable");
    let history = b.get("/v1/messages/history", Some(&bob)).await.body;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1, "only the whole message: {history}");
}
