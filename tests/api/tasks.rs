//! AgentMarket's task market: escrow at post, accept, complete, cancel, run on a component.

use agora_e2e::{Server, StatusCode};
use serde_json::json;

#[tokio::test]
async fn post_accept_complete_pays_ninety_percent() {
    let s = Server::start().await;
    let (poster, poster_key) = s.buyer(1_000).await;
    let (worker, worker_key) = s.register("Worker", json!({"capabilities": ["research", "summarization"]})).await;
    let (_, lazy_key) = s.register("Lazy", json!({"capabilities": ["coding"]})).await;

    let r = s
        .post(
            "/api/tasks",
            Some(&poster_key),
            json!({"title": "Summarize this paper", "description": "Full text...",
        "budget": 250, "required_capabilities": ["research", "summarization"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "open");
    assert_eq!(r.body["balance"], 1_100 - 250, "the budget is held at post");
    let id = r.body["data"]["id"].as_str().unwrap().to_string();

    let open = s.get("/api/tasks?status=open&capability=research&limit=20", None).await;
    assert_eq!(open.body["data"][0]["id"], id);
    assert_eq!(s.get("/api/tasks?capability=coding", None).await.body["data"], json!([]));
    s.get("/api/tasks?status=weird", None).await.assert_error(400, "invalid_query");

    s.post(&format!("/api/tasks/{id}/accept"), Some(&poster_key), json!({}))
        .await
        .assert_error(422, "validation_error");
    s.post(&format!("/api/tasks/{id}/accept"), Some(&lazy_key), json!({}))
        .await
        .assert_error(422, "missing_capabilities");
    s.post(&format!("/api/tasks/{id}/complete"), Some(&worker_key), json!({"result": "x"}))
        .await
        .assert_error(403, "forbidden");
    let a = s.post(&format!("/api/tasks/{id}/accept"), Some(&worker_key), json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["data"]["status"], "assigned");
    assert_eq!(a.body["data"]["assigned_to"], worker);
    s.post(&format!("/api/tasks/{id}/accept"), Some(&worker_key), json!({})).await.assert_error(409, "task_not_open");
    s.post(&format!("/api/tasks/{id}/cancel"), Some(&poster_key), json!({})).await.assert_error(409, "task_not_open");

    let c =
        s.post(&format!("/api/tasks/{id}/complete"), Some(&worker_key), json!({"result": "Here is the summary"})).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    assert_eq!(c.body["data"]["status"], "completed");
    assert_eq!(c.body["data"]["result"], "Here is the summary");
    assert_eq!(c.body["balance"], 100 + 225, "90% to the worker");
    s.post(&format!("/api/tasks/{id}/complete"), Some(&worker_key), json!({"result": "again"}))
        .await
        .assert_error(409, "task_not_assigned");
    assert_eq!(s.balance(&poster_key).await, 850);
    let _ = poster;
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn cancel_refunds_an_open_task() {
    let s = Server::start().await;
    let (_, poster) = s.buyer(0).await;
    let (_, other) = s.register("Other", json!({})).await;
    let r = s.post("/api/tasks", Some(&poster), json!({"title": "t", "description": "d", "budget": 60})).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(s.balance(&poster).await, 40);
    s.post(&format!("/api/tasks/{id}/cancel"), Some(&other), json!({})).await.assert_error(403, "forbidden");
    let c = s.post(&format!("/api/tasks/{id}/cancel"), Some(&poster), json!({})).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    assert_eq!(c.body["data"]["status"], "cancelled");
    assert_eq!(s.balance(&poster).await, 100);
    s.post(&format!("/api/tasks/{id}/accept"), Some(&other), json!({})).await.assert_error(409, "task_not_open");
    // Over-budget posts and bad input move nothing.
    s.post("/api/tasks", Some(&poster), json!({"title": "t", "description": "d", "budget": 101}))
        .await
        .assert_error(402, "insufficient_funds");
    s.post("/api/tasks", Some(&poster), json!({"title": "", "description": "d", "budget": 1}))
        .await
        .assert_error(422, "validation_error");
    s.post("/api/tasks", Some(&poster), json!({"title": "t", "description": "d", "budget": 0}))
        .await
        .assert_error(422, "validation_error");
    s.get("/api/tasks/nope", None).await.assert_error(404, "not_found");
    assert_eq!(s.balance(&poster).await, 100);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_component_agent_runs_the_task_it_accepted() {
    // Fuel, not time, stops the spinning run below: a loaded machine cannot make it flaky.
    let s = Server::start_with(agora_e2e::Options::default().env("AGORA_FUEL_PER_CENT", "10000")).await;
    let (_, poster) = s.buyer(0).await;
    let (worker, worker_key, _) = s.component_agent("summarize", 0, json!({})).await;
    let text = "Agora runs agents as components. Components are sandboxed. The weather is nice.";
    let r = s.post("/api/tasks", Some(&poster), json!({"title": "summary", "description": text, "budget": 50})).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    s.post(&format!("/api/tasks/{id}/run"), Some(&worker_key), json!({})).await.assert_error(403, "forbidden");
    s.post(&format!("/api/tasks/{id}/accept"), Some(&worker_key), json!({})).await;
    let run = s.post(&format!("/api/tasks/{id}/run"), Some(&worker_key), json!({})).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    assert_eq!(run.body["data"]["status"], "completed");
    assert!(!run.body["data"]["result"].as_str().unwrap().is_empty());
    let exec = run.body["data"]["execution_id"].as_str().unwrap();
    let e = s.get(&format!("/api/executions/{exec}"), Some(&poster)).await;
    assert_eq!(e.body["data"]["task_id"], id);
    assert_eq!(e.body["data"]["agent_id"], worker);
    // The record shows what the task's budget paid: the worker's price, the fee, the compute.
    let cost = &e.body["data"]["cost"];
    let compute = e.body["data"]["usage"]["fuel"].as_i64().unwrap() / 10_000;
    assert!(compute > 0, "{}", e.body);
    assert_eq!(cost["compute_cents"], compute, "{}", e.body);
    assert_eq!(cost["price_cents"], 50 - compute, "{}", e.body);
    let earned = 50 - compute - cost["fee_cents"].as_i64().unwrap();
    assert_eq!(s.balance(&worker_key).await, 100 + earned);

    // A failing run leaves the task assigned and its budget held; the worker pays the compute
    // its run burned, never more than the budget.
    let (_, spin_key, _) = s.component_agent("spin", 0, json!({})).await;
    let poster_before = s.balance(&poster).await;
    let r = s.post("/api/tasks", Some(&poster), json!({"title": "forever", "description": "go", "budget": 20})).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    s.post(&format!("/api/tasks/{id}/accept"), Some(&spin_key), json!({})).await;
    let failed = s.post(&format!("/api/tasks/{id}/run"), Some(&spin_key), json!({})).await;
    failed.assert_error(422, "execution_failed");
    assert_eq!(s.get(&format!("/api/tasks/{id}"), None).await.body["data"]["status"], "assigned");
    let exec = failed.body["error"]["details"]["executionId"].as_str().unwrap().to_string();
    let record = s.get(&format!("/api/executions/{exec}"), Some(&spin_key)).await;
    assert_eq!(record.body["data"]["error"]["code"], "out_of_fuel", "{}", record.body);
    let compute = record.body["data"]["cost"]["compute_cents"].as_i64().unwrap();
    assert_eq!(compute, 20, "all the budget's fuel burned: {}", record.body);
    assert_eq!(s.balance(&spin_key).await, 100 - compute);
    assert_eq!(s.balance(&poster).await, poster_before - 20, "the budget stays in escrow");
    s.assert_ledger_sound().await;
}
