//! A2A: the official `a2a-sdk` clients, unmodified, in both major versions (1.x speaking v1.0,
//! 0.3.x speaking v0.3), resolve an agent's card and send, stream, get, list and cancel tasks;
//! a component agent is paid as `/api/execute` pays it, a handler's reply completes a task, and
//! another agent's key sees none of the caller's tasks.

use std::path::{Path, PathBuf};

use agora_e2e::{Server, StatusCode};
use serde_json::{json, Value};

use super::handlers::{funded, handler_component};

/// Turns A2A on for the agent: its endpoint's base URL (where its card is).
async fn enable(s: &Server, key: &str) -> String {
    let r = s.request("PATCH", "/v1/config", Some(key), Some(json!({"a2a_enabled": true}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["a2a_enabled"], json!(true), "{}", r.body);
    let card = r.body["a2a_card_url"].as_str().unwrap();
    card.strip_suffix("/.well-known/agent-card.json").unwrap().to_string()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Three agents answering A2A (one running `echo` at 3 cents, one whose handler replies, one
/// that never answers), a caller with money and a stranger.
struct World {
    s: Server,
    env: Vec<(&'static str, String)>,
    caller: String,
    runner: String,
}

async fn world() -> World {
    let s = Server::start().await;
    let (_, runner_key, _) = s.component_agent("echo", 3, json!({})).await;
    let (_, bob, _) = funded(&s, "Bob Answers").await;
    let component = handler_component(&s, &bob).await;
    let made = s.post("/v1/handlers", Some(&bob), json!({"name": "auto", "component_id": component})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let (_, quiet) = s.register(&agora_e2e::random_name("quiet"), json!({})).await;
    let (_, caller) = s.buyer(1_000).await;
    let (_, stranger) = s.buyer(10).await;
    let env = vec![
        ("A2A_RUNNER", enable(&s, &runner_key).await),
        ("A2A_MESSAGE", enable(&s, &bob).await),
        ("A2A_QUIET", enable(&s, &quiet).await),
        ("A2A_KEY", caller.clone()),
        ("A2A_STRANGER_KEY", stranger),
    ];
    World { s, env, caller, runner: runner_key }
}

async fn run_client(python: &str, script: &str, env: &[(&'static str, String)]) -> Value {
    let out = tokio::process::Command::new(root().join(python))
        .arg(root().join("tests/python").join(script))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .expect("the test venvs (scripts/setup.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap()
}

#[tokio::test]
async fn the_official_a2a_v1_client_sends_streams_gets_lists_and_cancels() {
    let w = world().await;
    let (caller_before, runner_before) = (w.s.balance(&w.caller).await, w.s.balance(&w.runner).await);
    let saw = run_client(".venv/bin/python", "a2a_client_v1.py", &w.env).await;

    assert_eq!(saw["card"]["versions"], json!(["1.0", "0.3"]), "{saw}");
    assert_eq!(saw["card"]["streaming"], json!(true), "{saw}");
    assert_eq!(saw["send"], json!({"payload": "task", "state": "TASK_STATE_COMPLETED", "answer": "hello from v1"}));
    assert_eq!(saw["get"], json!({"state": "TASK_STATE_COMPLETED", "history": 2}));
    assert!(saw["list"]["ids"].as_array().unwrap().contains(&saw["list"]["sent"]), "{saw}");
    assert_eq!(saw["list"]["total"], json!(1), "{saw}");
    assert_eq!(saw["cancel_done"], json!("TaskNotCancelableError"));
    assert_eq!(saw["stream"]["kinds"][0], json!("task"), "{saw}");
    assert_eq!(saw["stream"]["final"], json!("TASK_STATE_COMPLETED"), "{saw}");
    assert_eq!(saw["stream"]["answers"], json!(["streamed"]), "{saw}");
    assert_eq!(saw["handler"], json!({"state": "TASK_STATE_COMPLETED", "answer": "Thanks, received: Hello handler"}));
    assert_eq!(saw["push"], json!({"made": "http://127.0.0.1:9/hook", "fetched": "t0k", "listed": 1, "after": 0}));
    assert_eq!(saw["cancel"], json!({"before": "TASK_STATE_WORKING", "after": "TASK_STATE_CANCELED"}));
    assert_eq!(saw["stranger_get"], json!("TaskNotFoundError"));
    assert_eq!(saw["stranger_list"], json!(0));

    // Two runs of the 3-cent agent, paid by the caller as /api/execute pays.
    let paid = caller_before - w.s.balance(&w.caller).await;
    assert!((6..=16).contains(&paid), "the caller paid {paid} for two runs and no more than their budgets");
    assert!(w.s.balance(&w.runner).await > runner_before, "the agent was paid");
    w.s.assert_ledger_sound().await;
}

#[tokio::test]
async fn the_official_a2a_v03_client_sends_streams_gets_follows_and_cancels() {
    let w = world().await;
    let saw = run_client(".venv-a2a-0.3/bin/python", "a2a_client_v03.py", &w.env).await;

    assert_eq!(saw["card"], json!({"protocol": "0.3.0", "url_is_endpoint": true}), "{saw}");
    assert_eq!(saw["send"], json!({"state": "completed", "answer": "hello from v0.3"}));
    assert_eq!(saw["get"], json!({"state": "completed", "history": 2}));
    assert_eq!(saw["cancel_done"], json!(-32002));
    assert_eq!(saw["stream"], json!({"first": "task", "final": "completed", "answer": "streamed"}), "{saw}");
    assert_eq!(saw["handler"], json!({"state": "completed", "answer": "Thanks, received: Hello handler"}));
    assert_eq!(saw["push"], json!({"made": "http://127.0.0.1:9/hook", "fetched": "t0k"}));
    assert_eq!(saw["cancel"], json!({"before": "working", "after": "canceled", "followed": "canceled"}));
    assert_eq!(saw["stranger_get"], json!(-32001));
    w.s.assert_ledger_sound().await;
}

/// One JSON-RPC call, as raw text, with the caller's key.
async fn rpc(s: &Server, key: Option<&str>, handle: &str, version: &str, body: &str) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(s.url(&format!("/a2a/{handle}")))
        .header("content-type", "application/json")
        .header("A2A-Version", version)
        .body(body.to_string());
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn call(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": "c1", "method": method, "params": params}).to_string()
}

fn text_message(text: &str) -> Value {
    json!({"messageId": agora_e2e::random_name("m"), "role": "ROLE_USER", "parts": [{"text": text}]})
}

#[tokio::test]
async fn bad_calls_get_their_json_rpc_errors_and_nothing_changes() {
    let s = Server::start_with(agora_e2e::Options::default().env("AGORA_A2A_HOST_AGENT", "front-desk")).await;
    let (_, desk) = s.register("front-desk", json!({})).await;
    s.get("/.well-known/agent-card.json", None).await.assert_error(404, "not_found");
    s.get("/a2a/front-desk/.well-known/agent-card.json", None).await.assert_error(404, "not_found");
    let (_, caller) = s.buyer(10).await;
    let (status, _) = rpc(&s, Some(&caller), "front-desk", "1.0", &call("GetTask", json!({"id": "x"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an agent without A2A has no endpoint");
    enable(&s, &desk).await;
    let card = s.get("/.well-known/agent-card.json", None).await;
    assert_eq!((card.status, card.body["name"].clone()), (StatusCode::OK, json!("front-desk")), "{}", card.body);
    assert_eq!(s.get("/a2a/front-desk/.well-known/agent.json", None).await.body, card.body);

    let (runner_handle, runner_key) = {
        let (_, key, _) = s.component_agent("echo", 3, json!({})).await;
        let base = enable(&s, &key).await;
        (base.rsplit('/').next().unwrap().to_string(), key)
    };
    let (status, _) = rpc(&s, None, &runner_handle, "1.0", &call("GetTask", json!({"id": "x"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = rpc(&s, Some(&caller), "nobody-here", "1.0", &call("GetTask", json!({"id": "x"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let cases: Vec<(&str, String, i64)> = vec![
        ("1.0", "{not json".into(), -32700),
        ("1.0", json!({"jsonrpc": "1.0", "id": 1, "method": "GetTask"}).to_string(), -32600),
        ("1.0", json!({"jsonrpc": "2.0", "id": [1], "method": "GetTask"}).to_string(), -32600),
        ("1.0", call("tasks/unheard", json!({})), -32601),
        ("1.0", call("SendMessage", json!({})), -32602),
        (
            "1.0",
            call("SendMessage", json!({"message": {"messageId": "m", "role": "ROLE_AGENT", "parts": [{"text": "x"}]}})),
            -32602,
        ),
        ("1.0", call("SendMessage", json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": []}})), -32602),
        (
            "1.0",
            call("SendMessage", json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": 1}]}})),
            -32602,
        ),
        (
            "0.3",
            call("message/send", json!({"message": {"messageId": "m", "role": "user", "parts": [{"kind": "video"}]}})),
            -32602,
        ),
        (
            "1.0",
            call(
                "SendMessage",
                json!({"message": text_message("x"), "configuration": {"taskPushNotificationConfig": {"url": "ftp://x"}}}),
            ),
            -32602,
        ),
        (
            "1.0",
            call(
                "SendMessage",
                json!({"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}], "taskId": "nope"}}),
            ),
            -32001,
        ),
        ("2.0", call("GetTask", json!({"id": "x"})), -32009),
        ("1.0", call("GetTask", json!({"id": "unknown"})), -32001),
        ("1.0", call("CancelTask", json!({})), -32602),
        ("1.0", call("ListTasks", json!({"pageSize": 0})), -32602),
        ("1.0", call("ListTasks", json!({"status": "TASK_STATE_BORED"})), -32602),
        ("1.0", call("ListTasks", json!({"pageToken": "forged"})), -32602),
        ("1.0", call("GetExtendedAgentCard", json!({})), -32007),
        ("0.3", call("agent/getAuthenticatedExtendedCard", json!({})), -32007),
    ];
    for (version, body, code) in cases {
        let (status, reply) = rpc(&s, Some(&caller), &runner_handle, version, &body).await;
        assert_eq!(status, StatusCode::OK, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], json!(code), "{body}: {reply}");
        assert_eq!(reply["jsonrpc"], json!("2.0"));
    }

    // A caller who cannot cover the budget it names is refused by the agent, and pays nothing.
    let (before, runner_before) = (s.balance(&caller).await, s.balance(&runner_key).await);
    let mut dear = text_message("hi");
    dear["metadata"] = json!({"agora_budget_cents": 10_000_000});
    let (status, reply) =
        rpc(&s, Some(&caller), &runner_handle, "1.0", &call("SendMessage", json!({"message": dear}))).await;
    assert_eq!(status, StatusCode::OK);
    let task = &reply["result"]["task"];
    assert_eq!(task["status"]["state"], json!("TASK_STATE_REJECTED"), "{reply}");
    let why = task["status"]["message"]["parts"][0]["text"].as_str().unwrap();
    assert!(why.contains("nsufficient"), "{why}");
    assert_eq!((s.balance(&caller).await, s.balance(&runner_key).await), (before, runner_before));
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_finished_task_is_pushed_to_its_callers_url_with_its_credentials() {
    let s = Server::start_with(agora_e2e::Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let receiver = agora_e2e::fixtures::peer::TestHttp::start(|_, _| (200, vec![], "ok".into())).await;
    let (_, key, _) = s.component_agent("echo", 0, json!({})).await;
    let base = enable(&s, &key).await;
    let handle = base.rsplit('/').next().unwrap().to_string();
    let (_, caller) = s.buyer(100).await;
    let push = json!({"url": receiver.url("/hook"), "token": "t0k",
                      "authentication": {"scheme": "Bearer", "credentials": "s3cret"}});
    let send = call(
        "SendMessage",
        json!({"message": text_message("pushed"),
                                         "configuration": {"taskPushNotificationConfig": push}}),
    );
    let (_, reply) = rpc(&s, Some(&caller), &handle, "1.0", &send).await;
    let task_id = reply["result"]["task"]["id"].as_str().unwrap().to_string();
    let (headers, body) = agora_e2e::eventually("the push", std::time::Duration::from_secs(15), || async {
        receiver
            .seen
            .lock()
            .unwrap()
            .iter()
            .find(|(_, path, _)| path == "/hook")
            .map(|(h, _, b)| (h.clone(), b.clone()))
    })
    .await;
    assert_eq!(headers["authorization"], "Bearer s3cret");
    assert_eq!(headers["x-a2a-notification-token"], "t0k");
    let pushed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(pushed["task"]["id"], json!(task_id));
    assert_eq!(pushed["task"]["status"]["state"], json!("TASK_STATE_COMPLETED"));
    assert_eq!(pushed["task"]["artifacts"][0]["parts"][0]["text"], json!("pushed"));

    // The credentials are never shown back, and another agent's key cannot read the config.
    let get = call("GetTaskPushNotificationConfig", json!({"taskId": task_id, "id": "x"}));
    let (_, reply) = rpc(&s, Some(&caller), &handle, "1.0", &get).await;
    assert_eq!(reply["error"]["code"], json!(-32602), "{reply}");
    let list = call("ListTaskPushNotificationConfigs", json!({"taskId": task_id}));
    let (_, reply) = rpc(&s, Some(&caller), &handle, "1.0", &list).await;
    assert_eq!(reply["result"]["configs"][0]["authentication"], json!({"scheme": "Bearer"}), "{reply}");
    assert!(!reply.to_string().contains("s3cret"));
    let (_, stranger) = s.buyer(0).await;
    let (_, reply) = rpc(&s, Some(&stranger), &handle, "1.0", &list).await;
    assert_eq!(reply["error"]["code"], json!(-32001), "{reply}");
}

#[tokio::test]
async fn an_agent_sends_to_an_a2a_agent_and_its_answer_comes_back_in_the_thread() {
    let s = Server::start_with(agora_e2e::Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let (_, echo_key, _) = s.component_agent("echo", 2, json!({})).await;
    let echo = enable(&s, &echo_key).await;
    let (alice, _) = super::agent(&s, "Alice Abroad").await;
    let (_, token) = s.buyer(100).await;
    // A card that speaks 0.3 only, served elsewhere, naming the same endpoint.
    let card = json!({"name": "old", "description": "0.3 only", "url": echo, "version": "1", "protocolVersion": "0.3.0",
                      "preferredTransport": "JSONRPC", "capabilities": {}, "defaultInputModes": ["text/plain"],
                      "defaultOutputModes": ["text/plain"], "skills": []});
    let old = agora_e2e::fixtures::peer::TestHttp::start(move |_, _| (200, vec![], card.to_string())).await;

    for (to, text) in [(echo.clone(), "over a2a 1.0"), (old.url("/card.json"), "over a2a 0.3")] {
        let body = json!({"to": to, "body": {"text": text}, "a2a_auth": token});
        let sent = s.post("/v1/messages?wait=true", Some(&alice), body).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        assert_eq!(sent.body["status"], json!("delivered"), "{}", sent.body);
        let thread = sent.body["thread_id"].as_str().unwrap().to_string();
        let answer = agora_e2e::eventually("the answer", std::time::Duration::from_secs(10), || async {
            let h = s.get(&format!("/v1/messages/history?thread_id={thread}"), Some(&alice)).await;
            h.body["messages"].as_array().unwrap().iter().find(|m| m["from"] == json!(to)).cloned()
        })
        .await;
        assert_eq!(answer["body"]["text"], json!(text), "{answer}");
        assert_eq!(answer["body"]["a2a"]["state"], json!("completed"), "{answer}");
        assert_eq!(answer["reply_to"], sent.body["id"]);
    }

    // Without a token the A2A agent answers 401: the sender hears a2a_send_failed.
    let refused = s.post("/v1/messages?wait=true", Some(&alice), json!({"to": echo, "body": {"text": "x"}})).await;
    refused.assert_error(502, "a2a_send_failed");
    s.post("/v1/messages", Some(&alice), json!({"to": "ftp://x", "body": {"text": "x"}}))
        .await
        .assert_error(400, "invalid_address");
    s.assert_ledger_sound().await;
}
