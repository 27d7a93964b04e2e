//! Handlers: a `handler` component or an LLM answers an agent's messages, paid by the agent;
//! filters choose the messages; two auto-replying agents stop at their turns and the host's cap.

use std::time::Duration;

use agora_e2e::fixtures::fake_llm::FakeLlm;
use agora_e2e::{eventually, Options, Server, StatusCode};
use serde_json::{json, Value};

use super::{agent, send};

const SOON: Duration = Duration::from_secs(15);

pub(super) async fn funded(s: &Server, name: &str) -> (String, String, String) {
    let (key, address) = agent(s, name).await;
    let id = s.get("/api/agents/me", Some(&key)).await.body["agent"]["id"].as_str().unwrap().to_string();
    s.fund(&id, 200).await;
    (id, key, address)
}

pub(super) async fn handler_component(s: &Server, key: &str) -> String {
    let publisher = s.publisher(key).await;
    let r = s.publish(&publisher, &agora_e2e::guest("auto-reply"), "handler", "auto-reply", json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["component"]["id"].as_str().unwrap().to_string()
}

async fn thread(s: &Server, key: &str, thread: &str) -> Vec<Value> {
    let h = s.get(&format!("/v1/messages/history?limit=500&thread_id={thread}"), Some(key)).await;
    h.body["messages"].as_array().unwrap().clone()
}

/// Waits until no handler run is waiting or running on the host.
async fn handlers_idle(s: &Server) {
    let db = agora::db::Db::connect(&s.database_url, 1).await.unwrap();
    eventually("handler runs to finish", SOON, || async {
        let busy = agora::db::query_scalar::<i64>(
            "SELECT COUNT(*) FROM scheduled_jobs WHERE kind = 'messaging.handle' AND status IN ('pending', 'running')",
        )
        .fetch_one(&db.read)
        .await
        .unwrap();
        (busy == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn component_handlers_reply_and_auto_replies_stop() {
    let s = Server::start_with(Options::default().env("AGORA_MESSAGING_MAX_HANDLER_TURNS", "4")).await;
    let (_, bob, bob_at) = funded(&s, "Bob Handles").await;
    let (_, alice, alice_at) = funded(&s, "Alice Asks").await;
    let component = handler_component(&s, &bob).await;

    let shell = s.post("/v1/handlers", Some(&bob), json!({"name": "sh", "command": "echo $TOQ_TEXT"})).await;
    shell.assert_error(400, "invalid_request");
    assert!(shell.body["error"]["message"].as_str().unwrap().contains("handler component"), "{}", shell.body);
    let made =
        s.post("/v1/handlers", Some(&bob), json!({"name": "auto", "component_id": component, "max_turns": 1})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!((made.body["kind"].clone(), made.body["max_turns"].clone()), (json!("component"), json!(1)));
    s.post("/v1/handlers", Some(&bob), json!({"name": "auto", "component_id": component}))
        .await
        .assert_error(409, "conflict");
    s.post("/v1/handlers", Some(&bob), json!({"name": "stop", "component_id": component}))
        .await
        .assert_error(400, "invalid_request");
    let balance = s.balance(&bob).await;

    // Alice's message gets the component's reply in its thread, written by bob's handler.
    let mut live = s.sse("/v1/messages", &alice, &[]).await;
    let sent = send(&s, &alice, json!({"to": bob_at, "body": {"text": "Hello there"}})).await.body;
    let event = live.next(SOON).await.expect("a reply");
    let reply = event.json();
    assert_eq!(reply["body"]["text"], "Thanks, received: Hello there", "{reply}");
    assert_eq!((reply["from"].clone(), reply["handler"].clone()), (json!(bob_at), json!("auto")));
    assert_eq!(
        (reply["thread_id"].clone(), reply["reply_to"].clone()),
        (sent["thread_id"].clone(), sent["id"].clone())
    );
    handlers_idle(&s).await;
    assert!(s.balance(&bob).await <= balance, "the run's compute is bob's");

    // Its turns in that thread are spent: another message there gets no reply.
    let t = sent["thread_id"].as_str().unwrap().to_string();
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "again"}, "thread_id": t})).await;
    handlers_idle(&s).await;
    assert_eq!(thread(&s, &alice, &t).await.len(), 3);

    // Two auto-repliers answer each other until the host's cap of 4 handler messages per thread.
    let changed = s.request("PUT", "/v1/handlers/auto", Some(&bob), Some(json!({"max_turns": 10}))).await;
    assert_eq!(changed.body["max_turns"], 10, "{}", changed.body);
    let hers = handler_component(&s, &alice).await;
    s.post("/v1/handlers", Some(&alice), json!({"name": "auto", "component_id": hers, "max_turns": 10})).await;
    let ping = send(&s, &alice, json!({"to": bob_at, "body": {"text": "ping"}})).await.body;
    let t = ping["thread_id"].as_str().unwrap().to_string();
    eventually("the exchange to reach the cap", SOON, || async {
        (thread(&s, &alice, &t).await.len() >= 5).then_some(())
    })
    .await;
    handlers_idle(&s).await;
    let all = thread(&s, &alice, &t).await;
    let by: Vec<&str> = all.iter().rev().map(|m| m["handler"].as_str().unwrap_or("api")).collect();
    assert_eq!(by, ["api", "auto", "auto", "auto", "auto"], "{all:?}");
    assert_eq!(all[0]["from"], json!(alice_at), "alice's handler wrote the fourth");

    // "bye" makes the handler close the thread.
    let bye = send(&s, &alice, json!({"to": bob_at, "body": {"text": "bye"}})).await.body;
    handlers_idle(&s).await;
    let t = bye["thread_id"].as_str().unwrap();
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "still there?"}, "thread_id": t}))
        .await
        .assert_error(409, "thread_closed");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn llm_handlers_answer_through_the_gateway_for_the_senders_they_filter() {
    let fake = FakeLlm::start().await;
    let s = crate::gateway::gateway(&fake, &[]).await;
    let (_, bob, bob_at) = funded(&s, "Bob Thinks").await;
    let (_, alice, alice_at) = funded(&s, "Alice Chats").await;
    let (_, carol, _) = funded(&s, "Carol Ignored").await;
    let spec = json!({"name": "chat", "provider": "openai", "model": "fast", "prompt": "You are Bob.",
                      "filter_from": [alice_at]});
    let made = s.post("/v1/handlers", Some(&bob), spec).await;
    assert_eq!((made.status, made.body["kind"].clone()), (StatusCode::CREATED, json!("llm")), "{}", made.body);
    let before = s.balance(&bob).await;

    let mut live = s.sse("/v1/messages", &alice, &[]).await;
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "what is up"}})).await;
    let Some(reply) = live.next(SOON).await else { panic!("no reply; log:\n{}", s.log()) };
    let reply = reply.json();
    assert_eq!(reply["body"]["text"], "echo: what is up", "{reply}");
    let asked: Value = serde_json::from_str(&fake.requests().last().unwrap().body).unwrap();
    assert_eq!(asked["messages"][0], json!({"role": "system", "content": "You are Bob."}));
    assert_eq!(asked["model"], "quick", "fast mode's model");
    handlers_idle(&s).await;
    assert!(s.balance(&bob).await < before, "bob paid for the model call");

    // Carol is not in the filter: her message is delivered, and not handled.
    let calls = fake.requests().len();
    send(&s, &carol, json!({"to": bob_at, "body": {"text": "hello?"}})).await;
    let listed = s.get("/v1/handlers", Some(&bob)).await.body;
    assert_eq!(listed["handlers"][0]["active"], 0, "{listed}");
    handlers_idle(&s).await;
    assert_eq!(fake.requests().len(), calls);

    // Bad handlers are refused; another agent's key finds none of bob's.
    for (spec, status, code) in [
        (json!({"name": "x", "provider": "acme", "model": "fast"}), 400, "invalid_request"),
        (json!({"name": "x", "provider": "openai"}), 400, "invalid_request"),
        (json!({"name": "x"}), 400, "invalid_request"),
        (json!({"name": "Bad Name", "provider": "openai", "model": "fast"}), 400, "invalid_request"),
        (json!({"name": "x", "component_id": "nope"}), 404, "not_found"),
        (json!({"name": "x", "provider": "openai", "model": "fast", "max_turns": 0}), 400, "invalid_request"),
    ] {
        s.post("/v1/handlers", Some(&bob), spec).await.assert_error(status, code);
    }
    assert_eq!(s.get("/v1/handlers", Some(&carol)).await.body["handlers"], json!([]));
    s.request("PUT", "/v1/handlers/chat", Some(&carol), Some(json!({"model": "max"})))
        .await
        .assert_error(404, "not_found");
    s.request("DELETE", "/v1/handlers/chat", Some(&carol), None).await.assert_error(404, "not_found");
    s.post("/v1/handlers/stop", Some(&carol), json!({"name": "chat"})).await.assert_error(404, "not_found");
    assert_eq!(s.request("DELETE", "/v1/handlers/chat", Some(&bob), None).await.status, StatusCode::OK);
    assert_eq!(s.get("/v1/handlers", Some(&bob)).await.body["handlers"], json!([]));
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn components_send_messages_as_their_agent_under_its_policies() {
    let s = Server::start().await;
    let (relay_id, relay_key, _) = s.component_agent("relay", 0, json!({"messaging": true})).await;
    let relay_at = s.get("/v1/card", Some(&relay_key)).await.body["address"].as_str().unwrap().to_string();
    let (bob, bob_at) = agent(&s, "Bob Hears").await;
    let (_, buyer) = s.buyer(500).await;
    let run = |text: &str| {
        let body = json!({"agent_id": relay_id, "task_description": text, "budget": 10, "params": {"to": bob_at}});
        let (s, buyer) = (&s, buyer.clone());
        async move { s.post("/api/execute", Some(&buyer), body).await }
    };

    let r = run("relayed hello").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let out: Value = serde_json::from_str(r.body["data"]["result"].as_str().unwrap()).unwrap();
    let got = &s.get("/v1/messages/history", Some(&bob)).await.body["messages"][0];
    assert_eq!((got["id"].clone(), got["from"].clone()), (out["message_id"].clone(), json!(relay_at)), "{got}");
    assert_eq!(got["body"], json!({"text": "relayed hello"}));

    // The relay agent's own policy refuses messages to bob: the component is told, bob gets nothing.
    let policy = json!({"name": "quiet", "effect": "deny", "match": {"tool_ref": "agora.message"}});
    assert_eq!(s.post("/v1/actions/policies", Some(&relay_key), policy).await.status, StatusCode::CREATED);
    let r = run("blocked hello").await;
    assert!(r.body.to_string().contains("refused by policy"), "{}", r.body);
    let all = s.get("/v1/messages/history", Some(&bob)).await.body;
    assert_eq!(all["messages"].as_array().unwrap().len(), 1, "{all}");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_hostile_handler_is_stopped_and_billed_and_the_host_goes_on() {
    let s = Server::start().await;
    let (_, bob, bob_at) = funded(&s, "Bob Hosts A Rogue").await;
    let (_, alice, _) = funded(&s, "Alice Provokes").await;
    let publisher = s.publisher(&bob).await;
    let r = s.publish(&publisher, &agora_e2e::guest("rogue-handler"), "handler", "rogue", json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let made = json!({"name": "rogue", "component_id": r.body["component"]["id"], "max_turns": 10});
    assert_eq!(s.post("/v1/handlers", Some(&bob), made).await.status, StatusCode::CREATED);
    let before = s.balance(&bob).await;

    let mut live = s.sse("/v1/messages", &alice, &[]).await;
    for text in ["spin", "hog", "panic"] {
        send(&s, &alice, json!({"to": bob_at, "body": {"text": text}})).await;
    }
    handlers_idle(&s).await;
    assert!(live.next(Duration::from_millis(200)).await.is_none(), "no answer to a run that was stopped");
    assert!(s.balance(&bob).await < before, "bob pays for what his handler burned");
    send(&s, &alice, json!({"to": bob_at, "body": {"text": "hello"}})).await;
    let reply = live.next(SOON).await.expect("the next message is answered").json();
    assert_eq!(reply["body"]["text"], "still here: hello");
    assert_eq!(s.get("/health", None).await.status, StatusCode::OK);
    s.assert_ledger_sound().await;
}
