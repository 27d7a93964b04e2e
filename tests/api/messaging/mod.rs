//! Agent messaging: signed messages between agents in threads, incoming messages as a resumable
//! event stream, history, key rotation, and every bad send refused whole.

mod a2a;
mod discovery;
mod federation;
mod handlers;

use std::time::Duration;

use agora_e2e::fixtures::sse::SseStream;
use agora_e2e::{Options, Server, StatusCode};
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};

const SOON: Duration = Duration::from_secs(10);

pub(super) async fn agent(s: &Server, name: &str) -> (String, String) {
    let (_, key) = s.register(name, json!({})).await;
    let card = s.get("/v1/card", Some(&key)).await;
    assert_eq!(card.status, StatusCode::OK, "{}", card.body);
    (key, card.body["address"].as_str().unwrap().to_string())
}

pub(super) async fn send(s: &Server, key: &str, body: Value) -> agora_e2e::Reply {
    s.post("/v1/messages", Some(key), body).await
}

fn verifies(key: &str, bytes: &[u8], signature: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw: [u8; 32] = b64.decode(key.strip_prefix("ed25519:").unwrap()).unwrap().try_into().unwrap();
    let signature = Signature::from_slice(&b64.decode(signature).unwrap()).unwrap();
    VerifyingKey::from_bytes(&raw).unwrap().verify(bytes, &signature).is_ok()
}

/// The envelope a message's signature covers, as docs/api.md describes it.
fn envelope(m: &Value, created_at: i64) -> Vec<u8> {
    json!([
        "agora-message/1",
        m["id"],
        m["thread_id"],
        m["from"],
        m["from_key"],
        m["to"],
        m["reply_to"],
        m["content_type"],
        m["body"].to_string(),
        created_at
    ])
    .to_string()
    .into_bytes()
}

pub(super) fn millis(rfc3339: &Value) -> i64 {
    chrono_free_millis(rfc3339.as_str().unwrap())
}

/// `2026-01-02T03:04:05.678Z` in ms since the epoch, without a date library.
fn chrono_free_millis(t: &str) -> i64 {
    let (date, time) = t.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (hms, ms) = time.split_once('.').unwrap_or((time, "0"));
    let h: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + d[2] - 1 - 719_468;
    ((days * 24 + h[0]) * 60 + h[1]) * 60_000 + h[2] * 1_000 + format!("{ms:0<3}")[..3].parse::<i64>().unwrap()
}

pub(super) async fn next_message(stream: &mut SseStream) -> (String, Value) {
    let event = stream.next(SOON).await.expect("a message arrives on the stream");
    assert_eq!(event.event, "message", "{event:?}");
    (event.id.clone().expect("an event id"), event.json())
}

#[tokio::test]
async fn messages_reach_agents_signed_live_and_in_threads() {
    let s = Server::start().await;
    let (alice, alice_at) = agent(&s, "Alice Sender").await;
    let (bob, bob_at) = agent(&s, "Bob Receiver").await;
    let alice_card = s.get("/v1/card", Some(&alice)).await.body;
    assert!(
        alice_at.starts_with("toq://127.0.0.1:") && alice_card["public_key"].as_str().unwrap().starts_with("ed25519:")
    );
    let mut live = s.sse("/v1/messages", &bob, &[]).await;

    let sent = send(&s, &alice, json!({"to": bob_at, "body": {"text": "hello"}})).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert_eq!(sent.body["status"], "delivered");
    let (id, got) = next_message(&mut live).await;
    assert_eq!(id, "1");
    assert_eq!(
        (got["from"].clone(), got["to"].clone(), got["body"]["text"].clone()),
        (json!(alice_at), json!(bob_at), json!("hello"))
    );
    assert_eq!(got["id"], sent.body["id"]);
    let signed = envelope(&got, millis(&got["timestamp"]));
    assert!(verifies(alice_card["public_key"].as_str().unwrap(), &signed, got["signature"].as_str().unwrap()));
    assert!(!verifies(
        alice_card["public_key"].as_str().unwrap(),
        b"something else",
        got["signature"].as_str().unwrap()
    ));

    // Bob answers in the thread and closes it; Alice can no longer write in it.
    let thread = got["thread_id"].as_str().unwrap().to_string();
    let reply = send(
        &s,
        &bob,
        json!({"to": alice_at, "body": {"text": "hi, and bye"}, "thread_id": thread,
                                      "reply_to": got["id"], "close_thread": true}),
    )
    .await;
    assert_eq!((reply.status, reply.body["thread_closed"].clone()), (StatusCode::OK, json!(true)), "{}", reply.body);
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "wait"}, "thread_id": thread}))
        .await
        .assert_error(409, "thread_closed");
    // Each check of alice's sends is audited: the one delivered (in its delivery's transaction)
    // and the one the closed thread refused after its policies allowed it.
    let audit = s.get("/v1/actions/audit?tool_ref=agora.message", Some(&alice)).await.body;
    let decisions: Vec<&Value> = audit["data"].as_array().unwrap().iter().map(|e| &e["decision"]).collect();
    assert_eq!(decisions, [&json!("allow"), &json!("allow")], "{audit}");
    let history = s.get(&format!("/v1/messages/history?thread_id={thread}"), Some(&alice)).await.body;
    let texts: Vec<&str> =
        history["messages"].as_array().unwrap().iter().map(|m| m["body"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["hi, and bye", "hello"], "newest first: {history}");

    // A stranger cannot write into their thread, nor read it.
    let (carol, carol_at) = agent(&s, "Carol Stranger").await;
    send(&s, &carol, json!({"to": bob_at, "body": {"text": "me too"}, "thread_id": thread}))
        .await
        .assert_error(404, "not_found");
    let theirs = s.get(&format!("/v1/messages/history?thread_id={thread}"), Some(&carol)).await.body;
    assert_eq!(theirs["messages"], json!([]), "{theirs}");

    // One send to two agents: both inboxes, one new thread.
    let both = send(&s, &alice, json!({"to": [bob_at, carol_at], "body": {"text": "to you both"}})).await;
    assert_eq!(both.body["messages"].as_array().unwrap().len(), 2, "{}", both.body);
    let (id, got) = next_message(&mut live).await;
    assert_eq!((id.as_str(), got["body"]["text"].as_str()), ("2", Some("to you both")));
    assert_eq!(got["thread_id"], both.body["thread_id"]);
    let carols = s.get("/v1/messages/history", Some(&carol)).await.body;
    assert_eq!(carols["messages"][0]["body"]["text"], "to you both", "{carols}");

    // A stream resumed after event 1 gets what came after it, filtered by sender.
    send(&s, &carol, json!({"to": bob_at, "body": {"text": "from carol"}})).await;
    let mut resumed = s.sse("/v1/messages", &bob, &[("Last-Event-ID", "1")]).await;
    assert_eq!(next_message(&mut resumed).await.0, "2");
    assert_eq!(next_message(&mut resumed).await.1["body"]["text"], "from carol");
    let from_carol = format!("/v1/messages?after=0&from={}", carol_at);
    let mut filtered = s.sse(&from_carol, &bob, &[]).await;
    assert_eq!(next_message(&mut filtered).await.1["from"], json!(carol_at));
    assert!(filtered.next(Duration::from_millis(300)).await.is_none(), "only carol's message");
}

#[tokio::test]
async fn a_bad_send_is_refused_whole_and_keys_rotate() {
    let s = Server::start_with(Options::default().env("AGORA_MESSAGING_MAX_MESSAGE_BYTES", "2048")).await;
    let (alice, alice_at) = agent(&s, "Alice Rotates").await;
    let (bob, bob_at) = agent(&s, "Bob Checks").await;
    let host = bob_at.trim_start_matches("toq://").split('/').next().unwrap().to_string();
    for (to, status, code) in [
        (json!("bob"), 400, "invalid_address"),
        (json!("toq://nohandle"), 400, "invalid_address"),
        (json!([bob_at, "mailto:x"]), 400, "invalid_address"),
        (json!(format!("toq://{host}/nobody-here")), 404, "not_reachable"),
        (json!([]), 400, "invalid_request"),
    ] {
        send(&s, &alice, json!({"to": to, "body": {"text": "x"}})).await.assert_error(status, code);
    }
    // Another host's agent, or an A2A agent: accepted, queued for delivery (and retried while
    // that host is away).
    for to in ["toq://other.example/bob", "https://agent.example/a2a"] {
        let far = send(&s, &alice, json!({"to": to, "body": {"text": "x"}})).await;
        assert_eq!(far.body["status"], "queued", "{}", far.body);
    }
    send(&s, &alice, json!({"to": bob_at, "body": "not an object"})).await.assert_error(400, "invalid_request");
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "x".repeat(3000)}}))
        .await
        .assert_error(413, "message_too_large");
    send(&s, &alice, json!({"to": bob_at, "body": {}, "thread_id": "bad id!"}))
        .await
        .assert_error(400, "invalid_request");
    s.get("/v1/messages?after=-1", Some(&bob)).await.assert_error(400, "invalid_request");
    assert_eq!(s.get("/v1/messages/history", Some(&bob)).await.body["messages"], json!([]), "nothing was delivered");

    // An operator's policy refuses messages to bob: nothing delivered, the refusal audited.
    let op = s.operator_key.clone();
    let policy =
        json!({"name": "not-bob", "effect": "deny", "match": {"tool_ref": "agora.message", "operation": bob_at}});
    assert_eq!(s.post("/v1/actions/policies", Some(&op), policy).await.status, StatusCode::CREATED);
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "x"}})).await.assert_error(403, "policy_denied");
    assert_eq!(s.get("/v1/messages/history", Some(&bob)).await.body["messages"], json!([]));
    let audit = s.get("/v1/actions/audit?tool_ref=agora.message", Some(&alice)).await.body;
    assert_eq!(audit["data"][0]["decision"], "deny", "{audit}");

    // Rotation: the old key signs the statement naming the new one; new messages use the new key.
    let before = s.get("/v1/card", Some(&alice)).await.body;
    let rotated = s.post("/v1/keys/rotate", Some(&alice), json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let statement = rotated.body["statement"].as_str().unwrap();
    assert!(verifies(
        before["public_key"].as_str().unwrap(),
        statement.as_bytes(),
        rotated.body["signature"].as_str().unwrap()
    ));
    let parsed: Value = serde_json::from_str(statement).unwrap();
    assert_eq!((parsed["old_key"].clone(), parsed["address"].clone()), (before["public_key"].clone(), json!(alice_at)));
    let after = s.get("/v1/card", Some(&alice)).await.body;
    assert_eq!(after["public_key"], rotated.body["new_key"]);
    assert_eq!(after["rotations"][0]["old_key"], before["public_key"], "{after}");
    let (carol, carol_at) = agent(&s, "Carol Reads").await;
    let sent = send(&s, &alice, json!({"to": carol_at, "body": {"text": "new key"}})).await.body;
    assert_eq!(sent["messages"][0]["from_key"], after["public_key"]);
    let got = &s.get("/v1/messages/history", Some(&carol)).await.body["messages"][0];
    assert!(verifies(
        after["public_key"].as_str().unwrap(),
        &envelope(got, millis(&got["timestamp"])),
        got["signature"].as_str().unwrap()
    ));

    // Only agent keys: no key is 401; an operator's key is refused.
    assert_eq!(s.get("/v1/card", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/v1/card", Some(&op)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn modes_rules_and_approvals_decide_who_gets_through() {
    let s = Server::start().await;
    let (bob, bob_at) = agent(&s, "Bob Guarded").await;
    let (alice, alice_at) = agent(&s, "Alice Knocks").await;
    let (carol, carol_at) = agent(&s, "Carol Blocked").await;
    let hello = |to: &str| json!({"to": to, "body": {"text": "hello"}});
    let key = |card: Value| card["public_key"].as_str().unwrap().to_string();
    let alice_key = key(s.get("/v1/card", Some(&alice)).await.body);
    let carol_key = key(s.get("/v1/card", Some(&carol)).await.body);

    s.request("PATCH", "/v1/config", Some(&bob), Some(json!({"connection_mode": "sometimes"})))
        .await
        .assert_error(400, "invalid_config");
    let changed = s.request("PATCH", "/v1/config", Some(&bob), Some(json!({"connection_mode": "approval"}))).await;
    assert_eq!(changed.body["connection_mode"], "approval", "{}", changed.body);

    // Approval mode: a first contact is held, twice, under one approval.
    let first = send(&s, &alice, hello(&bob_at)).await;
    assert_eq!(first.body["status"], "pending_approval", "{}", first.body);
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "still me"}})).await;
    assert_eq!(s.get("/v1/messages/history", Some(&bob)).await.body["messages"], json!([]), "held, not delivered");
    let pending = s.get("/v1/approvals", Some(&bob)).await.body;
    assert_eq!(pending["approvals"].as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(
        (pending["approvals"][0]["held"].clone(), pending["approvals"][0]["address"].clone()),
        (json!(2), json!(alice_at))
    );
    let approval = pending["approvals"][0]["id"].as_str().unwrap().to_string();
    let peers = s.get("/v1/peers", Some(&bob)).await.body;
    assert_eq!(peers["peers"][0]["status"], "pending", "{peers}");

    // Bob's answer to someone he wrote to first is welcome in approval mode.
    send(&s, &bob, hello(&carol_at)).await;
    assert_eq!(send(&s, &carol, hello(&bob_at)).await.body["status"], "delivered");

    // Approving delivers the held messages in order, and approves alice's key.
    s.post(&format!("/v1/approvals/{approval}"), Some(&bob), json!({"decision": "maybe"}))
        .await
        .assert_error(400, "invalid_request");
    s.post(&format!("/v1/approvals/{approval}"), Some(&carol), json!({"decision": "approve"}))
        .await
        .assert_error(404, "not_found");
    let decided = s.post(&format!("/v1/approvals/{approval}"), Some(&bob), json!({"decision": "approve"})).await;
    assert_eq!(decided.body["delivered"], 2, "{}", decided.body);
    s.post(&format!("/v1/approvals/{approval}"), Some(&bob), json!({"decision": "deny"}))
        .await
        .assert_error(409, "invalid_transition");
    let mut inbox = s.sse("/v1/messages?after=0", &bob, &[]).await;
    let texts: Vec<Value> =
        [next_message(&mut inbox).await.1, next_message(&mut inbox).await.1, next_message(&mut inbox).await.1]
            .iter()
            .map(|m| m["body"]["text"].clone())
            .collect();
    assert_eq!(texts, [json!("hello"), json!("hello"), json!("still me")], "carol's, then alice's two in order");
    assert_eq!(send(&s, &alice, hello(&bob_at)).await.body["status"], "delivered");
    let rules = s.get("/v1/permissions", Some(&bob)).await.body;
    assert_eq!(rules["approved"][0]["key"], json!(alice_key), "{rules}");

    // Blocking by key refuses carol whatever the mode; unblocking lets her in again.
    let encoded = carol_key.replace(':', "%3A").replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");
    assert_eq!(s.post(&format!("/v1/peers/{encoded}/block"), Some(&bob), json!({})).await.status, StatusCode::OK);
    send(&s, &carol, hello(&bob_at)).await.assert_error(403, "blocked");
    s.request("DELETE", &format!("/v1/peers/{encoded}/block"), Some(&bob), None).await;
    assert_eq!(send(&s, &carol, hello(&bob_at)).await.status, StatusCode::OK);
    // A block by address pattern; allowlist and closed modes.
    let host = bob_at.trim_start_matches("toq://").split('/').next().unwrap();
    let pattern = json!({"from": format!("toq://{host}/carol*")});
    s.post("/v1/block", Some(&bob), pattern.clone()).await;
    send(&s, &carol, hello(&bob_at)).await.assert_error(403, "blocked");
    assert_eq!(s.request("DELETE", "/v1/block", Some(&bob), Some(pattern.clone())).await.status, StatusCode::OK);
    s.request("DELETE", "/v1/block", Some(&bob), Some(pattern)).await.assert_error(404, "not_found");
    s.request("PATCH", "/v1/config", Some(&bob), Some(json!({"connection_mode": "allowlist"}))).await;
    send(&s, &carol, hello(&bob_at)).await.assert_error(403, "not_accepted");
    assert_eq!(send(&s, &alice, hello(&bob_at)).await.status, StatusCode::OK, "alice is approved");
    s.post("/v1/revoke", Some(&bob), json!({"key": alice_key})).await;
    send(&s, &alice, hello(&bob_at)).await.assert_error(403, "not_accepted");
    s.request("PATCH", "/v1/config", Some(&bob), Some(json!({"connection_mode": "closed"}))).await;
    send(&s, &alice, hello(&bob_at)).await.assert_error(403, "not_accepted");
    s.post("/v1/block", Some(&bob), json!({"key": "rsa:nope"})).await.assert_error(400, "invalid_request");

    // Denying a first contact rejects what it held.
    let (dave, _) = agent(&s, "Dave Denied").await;
    s.request("PATCH", "/v1/config", Some(&bob), Some(json!({"connection_mode": "approval"}))).await;
    send(&s, &dave, hello(&bob_at)).await;
    let id = s.get("/v1/approvals", Some(&bob)).await.body["approvals"][0]["id"].as_str().unwrap().to_string();
    let denied = s.post(&format!("/v1/approvals/{id}"), Some(&bob), json!({"decision": "deny"})).await;
    assert_eq!((denied.body["status"].clone(), denied.body["delivered"].clone()), (json!("denied"), json!(0)));
    let sent = s.get("/v1/messages/history", Some(&dave)).await.body;
    assert_eq!(sent["messages"][0]["status"], "rejected", "{sent}");
    s.post(&format!("/v1/approvals/{id}/revoke"), Some(&bob), json!({})).await.assert_error(409, "invalid_transition");
}

#[tokio::test]
async fn streams_arrive_in_chunks_live_and_whole_in_history() {
    let s = Server::start().await;
    let (alice, alice_at) = agent(&s, "Alice Streams").await;
    let (bob, bob_at) = agent(&s, "Bob Watches").await;
    let (carol, _) = agent(&s, "Carol Meddles").await;
    let mut live = s.sse("/v1/messages", &bob, &[]).await;

    let started = s.post("/v1/stream/start", Some(&alice), json!({"to": bob_at})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    let stream = started.body["stream_id"].as_str().unwrap().to_string();
    for (i, text) in ["Hel", "lo"].iter().enumerate() {
        let r = s.post("/v1/stream/chunk", Some(&alice), json!({"stream_id": stream, "text": text})).await;
        assert_eq!(r.body["index"], i, "{}", r.body);
    }
    s.post("/v1/stream/chunk", Some(&carol), json!({"stream_id": stream, "text": "x"}))
        .await
        .assert_error(404, "not_found");
    for (id, index, text) in [("1", 0, "Hel"), ("2", 1, "lo")] {
        let event = live.next(SOON).await.expect("a chunk");
        assert_eq!((event.event.as_str(), event.id.as_deref()), ("stream.chunk", Some(id)), "{event:?}");
        let chunk = event.json();
        assert_eq!(
            (chunk["index"].clone(), chunk["text"].clone(), chunk["from"].clone()),
            (json!(index), json!(text), json!(alice_at))
        );
    }
    let ended = s.post("/v1/stream/end", Some(&alice), json!({"stream_id": stream})).await;
    assert_eq!(ended.body["body"], json!({"text": "Hello", "stream_id": stream, "chunks": 2}), "{}", ended.body);
    let (id, whole) = next_message(&mut live).await;
    assert_eq!((id.as_str(), whole["id"].clone()), ("3", ended.body["id"].clone()));
    s.post("/v1/stream/chunk", Some(&alice), json!({"stream_id": stream, "text": "late"}))
        .await
        .assert_error(409, "conflict");
    s.post("/v1/stream/end", Some(&alice), json!({"stream_id": stream})).await.assert_error(409, "conflict");
    let history = s.get("/v1/messages/history", Some(&bob)).await.body;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1, "one message, not its chunks: {history}");

    // A stream resumed after the first chunk gets the second and the message.
    let mut resumed = s.sse("/v1/messages", &bob, &[("Last-Event-ID", "1")]).await;
    assert_eq!(resumed.next(SOON).await.unwrap().event, "stream.chunk");
    assert_eq!(next_message(&mut resumed).await.0, "3");

    // A recipient who blocks the sender cannot be streamed to.
    let alice_key = s.get("/v1/card", Some(&alice)).await.body["public_key"].clone();
    s.post("/v1/block", Some(&bob), json!({"key": alice_key})).await;
    s.post("/v1/stream/start", Some(&alice), json!({"to": bob_at})).await.assert_error(403, "blocked");
    s.post("/v1/stream/start", Some(&alice), json!({"to": "nobody"})).await.assert_error(400, "invalid_address");
}

#[tokio::test]
async fn the_daemon_surface_reports_and_the_operator_stops_the_host() {
    let mut s = Server::start().await;
    let (alice, _) = agent(&s, "Alice Status").await;
    let (bob, bob_at) = agent(&s, "Bob Status").await;
    assert_eq!(s.get("/v1/health", None).await.body["status"], "ok");
    let _live = s.sse("/v1/messages", &bob, &[]).await;
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "hi"}})).await;
    let status = s.get("/v1/status", Some(&bob)).await.body;
    assert_eq!((status["address"].clone(), status["connections"].clone()), (json!(bob_at), json!(1)), "{status}");
    assert_eq!(status["messages"], json!({"received": 1, "sent": 0, "held": 0}));
    assert_eq!(s.get("/v1/status", Some(&alice)).await.body["messages"]["sent"], 1);
    let upgrade = s.get("/v1/upgrade/check", None).await.body;
    assert!(
        upgrade["latest"].is_null() && upgrade["message"].as_str().unwrap().contains("no update source"),
        "{upgrade}"
    );

    // The log tells what happened to bob's messages; following it shows new entries.
    let log = s.get("/v1/logs", Some(&bob)).await.body;
    assert_eq!(log["entries"][0]["event"], "message.delivered", "{log}");
    let mut follow = s.sse("/v1/logs?follow=true&limit=1", &bob, &[]).await;
    assert_eq!(follow.next(SOON).await.expect("the entry so far").json()["event"], "message.delivered");
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "again"}})).await;
    let next = follow.next(SOON).await.expect("a new entry").json();
    assert!(next["message"].as_str().unwrap().contains("from toq://"), "{next}");
    let op = s.operator_key.clone();
    let all = s.get("/v1/logs?limit=500", Some(&op)).await.body;
    assert_eq!(all["entries"].as_array().unwrap().len(), 2, "every agent's, for an operator: {all}");
    assert_eq!(s.request("DELETE", "/v1/logs", Some(&bob), None).await.body["cleared"], 2);
    assert_eq!(s.get("/v1/logs", Some(&bob)).await.body["entries"], json!([]));
    s.get("/v1/logs?limit=0", Some(&bob)).await.assert_error(400, "invalid_request");

    assert_eq!(s.get("/v1/diagnostics", Some(&bob)).await.status, StatusCode::FORBIDDEN);
    let diagnostics = s.get("/v1/diagnostics", Some(&op)).await.body;
    assert_eq!(
        (diagnostics["database"]["ok"].clone(), diagnostics["secrets_key"]["ok"].clone()),
        (json!(true), json!(true))
    );
    assert!(diagnostics["data_dir"]["free_bytes"].as_u64().unwrap() > 0, "{diagnostics}");

    assert_eq!(s.post("/v1/daemon/shutdown", Some(&bob), json!({})).await.status, StatusCode::FORBIDDEN);
    let stopping = s.post("/v1/daemon/shutdown", Some(&op), json!({"graceful": true})).await;
    assert_eq!(stopping.status, StatusCode::ACCEPTED, "{}", stopping.body);
    assert!(s.stop_after_signal().await.success(), "a clean exit; log:\n{}", s.log());
}

#[tokio::test]
async fn a_backup_restores_identity_rules_handlers_and_history() {
    let s = Server::start().await;
    let (alice, _) = agent(&s, "Alice Backs Up").await;
    let (bob, bob_at) = agent(&s, "Bob Talks").await;
    let (carol, _) = agent(&s, "Carol Blocked Again").await;
    let carol_key = s.get("/v1/card", Some(&carol)).await.body["public_key"].clone();
    let alice_at = s.get("/v1/card", Some(&alice)).await.body["address"].clone();
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "one"}})).await;
    send(&s, &bob, json!({"to": alice_at, "body": {"text": "two"}})).await;
    s.post("/v1/block", Some(&alice), json!({"key": carol_key})).await;
    s.post("/v1/handlers", Some(&alice), json!({"name": "chat", "provider": "openai", "model": "fast"})).await;
    s.request("PATCH", "/v1/config", Some(&alice), Some(json!({"connection_mode": "approval"}))).await;
    let key = s.get("/v1/card", Some(&alice)).await.body["public_key"].clone();

    s.post("/v1/backup/export", Some(&alice), json!({"passphrase": "short"}))
        .await
        .assert_error(400, "invalid_request");
    let exported = s.post("/v1/backup/export", Some(&alice), json!({"passphrase": "correct horse battery"})).await;
    assert_eq!((exported.status, exported.body["messages"].clone()), (StatusCode::OK, json!(2)), "{}", exported.body);
    let data = exported.body["data"].as_str().unwrap().to_string();
    // Neither the history nor the key is in the export, as text or once its base64 is decoded.
    let decoded: Vec<u8> = data
        .split('.')
        .filter_map(|part| base64::engine::general_purpose::STANDARD.decode(part).ok())
        .flatten()
        .collect();
    let shows = |needle: &str| data.contains(needle) || decoded.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!shows(r#""text":"one""#) && !shows(key.as_str().unwrap()), "sealed");

    // Alice loses her setup; a wrong passphrase changes nothing; the right one restores it all.
    s.post("/v1/keys/rotate", Some(&alice), json!({})).await;
    s.request("DELETE", "/v1/block", Some(&alice), Some(json!({"key": carol_key}))).await;
    s.request("DELETE", "/v1/handlers/chat", Some(&alice), None).await;
    let rotated = s.get("/v1/card", Some(&alice)).await.body["public_key"].clone();
    let wrong = json!({"passphrase": "wrong horse battery", "data": data});
    s.post("/v1/backup/import", Some(&alice), wrong).await.assert_error(400, "invalid_passphrase");
    assert_eq!(s.get("/v1/card", Some(&alice)).await.body["public_key"], rotated);
    s.post("/v1/backup/import", Some(&alice), json!({"passphrase": "x", "data": "garbage"}))
        .await
        .assert_error(400, "invalid_request");
    let right = json!({"passphrase": "correct horse battery", "data": data});
    let restored = s.post("/v1/backup/import", Some(&alice), right.clone()).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    assert_eq!(restored.body["restored"]["messages"], 0, "the history was still here: {}", restored.body);
    assert_eq!(s.get("/v1/card", Some(&alice)).await.body["public_key"], key);
    assert_eq!(s.get("/v1/config", Some(&alice)).await.body["connection_mode"], "approval");
    assert_eq!(s.get("/v1/permissions", Some(&alice)).await.body["blocked"][0]["key"], carol_key);
    assert_eq!(s.get("/v1/handlers", Some(&alice)).await.body["handlers"][0]["name"], "chat");
    send(&s, &carol, json!({"to": alice_at, "body": {"text": "let me in"}})).await.assert_error(403, "blocked");

    // Another agent of this host cannot take alice's key; an agent of another host can.
    let (dave, _) = agent(&s, "Dave Copies").await;
    s.post("/v1/backup/import", Some(&dave), right.clone()).await.assert_error(409, "conflict");
    let other = Server::start().await;
    let (erin, _) = agent(&other, "Erin Elsewhere").await;
    let moved = other.post("/v1/backup/import", Some(&erin), right).await;
    assert_eq!(moved.body["restored"]["messages"], 2, "{}", moved.body);
    assert_eq!(other.get("/v1/card", Some(&erin)).await.body["public_key"], key);
    let texts: Vec<Value> = other.get("/v1/messages/history", Some(&erin)).await.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"]["text"].clone())
        .collect();
    assert_eq!(texts, [json!("two"), json!("one")]);
}
