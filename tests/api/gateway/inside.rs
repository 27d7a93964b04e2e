//! Model calls inside runs: a `system_prompt` agent answers through the gateway, and a
//! component's `llm.chat` reaches it when granted; both are paid from the run's budget (the
//! run's compute), never past it, with the calls recorded as the buyer's usage.

use agora_e2e::fixtures::fake_llm::FakeLlm;
use agora_e2e::StatusCode;
use serde_json::{json, Value};

use super::gateway;

/// The last chat request the fake saw (either API).
fn last_model(fake: &FakeLlm) -> Value {
    let sent = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/v1/chat/completions" || r.path == "/v1/messages")
        .expect("a chat request");
    serde_json::from_str::<Value>(&sent.body).unwrap()
}

#[tokio::test]
async fn system_prompt_agents_answer_through_the_gateway_within_the_budget() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (agent_id, agent_key) = s
        .register(
            &agora_e2e::random_name("prompted"),
            json!({"system_prompt": "You are terse.", "model": "fast", "price_per_task": 5}),
        )
        .await;
    let profile = s.get(&format!("/api/agents/{agent_id}"), None).await;
    assert_eq!(
        (profile.body["agent"]["runtime"].clone(), profile.body["agent"]["model"].clone()),
        (json!("system_prompt"), json!("fast")),
        "{}",
        profile.body
    );
    let (_, buyer) = s.buyer(1_000).await;
    let before = s.balance(&buyer).await;

    let r = s.execute(&buyer, &agent_id, "what is two and two", 100).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(d["result"], json!("echo: what is two and two"));
    let sent = last_model(&fake);
    assert_eq!(sent["model"], json!("quick"), "fast mode's model");
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "You are terse."}));
    let compute = d["cost"]["compute_cents"].as_i64().unwrap();
    assert_eq!(compute, 1, "a few tokens of `quick`, rounded up to a cent: {d}");
    assert_eq!(before - s.balance(&buyer).await, 5 + compute);
    let usage = s.get("/v1/usage?limit=5", Some(&buyer)).await.body;
    assert_eq!(usage["data"][0]["execution_id"], d["execution_id"], "{usage}");

    // The call's worst case must fit in what the budget leaves after the price.
    let calls = fake.attempts("quick");
    let r = s.execute(&buyer, &agent_id, "a long answer", 6).await;
    r.assert_error(422, "budget_exceeded");
    assert_eq!(fake.attempts("quick"), calls, "refused before any upstream call");
    let small = json!({"agent_id": agent_id, "task_description": "short", "budget": 6, "params": {"max_tokens": 5}});
    let r = s.post("/api/execute", Some(&buyer), small).await;
    assert_eq!(r.status, StatusCode::OK, "a small max_tokens fits one cent: {}", r.body);

    // The owner can change the model; a bad one is refused.
    let changed = s.request("PATCH", "/api/agents/me", Some(&agent_key), Some(json!({"model": "max"}))).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    s.request("PATCH", "/api/agents/me", Some(&agent_key), Some(json!({"model": "two words"})))
        .await
        .assert_error(422, "validation_error");
    assert_eq!(s.execute(&buyer, &agent_id, "now with max", 400).await.status, StatusCode::OK);
    assert_eq!(last_model(&fake)["model"], json!("backup"));
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_components_llm_calls_are_paid_from_its_runs_budget() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (asker, _, _) = s.component_agent("ask", 0, json!({"llm": true})).await;
    let (ungranted, _, _) = s.component_agent("ask", 0, json!({})).await;
    let (_, buyer) = s.buyer(1_000).await;
    let before = s.balance(&buyer).await;

    let body = json!({"agent_id": asker, "task_description": "why is the sky blue", "budget": 50,
                      "params": {"model": "fast", "times": 2}});
    let r = s.post("/api/execute", Some(&buyer), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    let out: Value = serde_json::from_str(d["result"].as_str().unwrap()).unwrap();
    assert_eq!(
        (out["answer"].clone(), out["model"].clone()),
        (json!("echo: why is the sky blue"), json!("fast")),
        "{out}"
    );
    assert_eq!(out["cost_cents"], json!(2), "each call rounded up for the guest: {out}");
    assert!(out["prompt_tokens"].as_u64().unwrap() > 0);
    let compute = d["cost"]["compute_cents"].as_i64().unwrap();
    assert_eq!(compute, 1, "the run pays its calls' exact sum rounded up once: {d}");
    assert_eq!(before - s.balance(&buyer).await, compute);
    let usage = s.get("/v1/usage?limit=5", Some(&buyer)).await.body;
    let of_run = usage["data"].as_array().unwrap().iter().filter(|u| u["execution_id"] == d["execution_id"]).count();
    assert_eq!(of_run, 2);

    // A budget that cannot cover a call: the guest is told, the run pays nothing for models.
    let r =
        s.post("/api/execute", Some(&buyer), json!({"agent_id": asker, "task_description": "x", "budget": 1})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.to_string().contains("budget"), "{}", r.body);

    let r = s
        .post("/api/execute", Some(&buyer), json!({"agent_id": ungranted, "task_description": "x", "budget": 50}))
        .await;
    r.assert_error(422, "capability_denied");
    s.assert_ledger_sound().await;
}
