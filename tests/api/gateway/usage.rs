//! Reading the gateway's usage: breakdowns by key and workspace, windowed statistics, and who
//! sees what (a runtime key its own scope, an agent its account, an operator every account).

use agora_e2e::fixtures::fake_llm::FakeLlm;
use agora_e2e::StatusCode;
use serde_json::{json, Value};

use super::{chat, gateway, micros, runtime_key};

fn groups<'a>(body: &'a Value, field: &str) -> Vec<(Option<&'a str>, i64)> {
    let mut found: Vec<_> =
        body["data"].as_array().unwrap().iter().map(|g| (g[field].as_str(), g["requests"].as_i64().unwrap())).collect();
    found.sort();
    found
}

#[tokio::test]
async fn breakdowns_and_stats_follow_the_readers_scope() {
    let fake = FakeLlm::start().await;
    let s = gateway(&fake, &[]).await;
    let (agent_id, agent) = s.buyer(10_000).await;
    let w = s.post("/v1/workspaces", Some(&agent), json!({"workspace_id": "acme", "name": "Acme"})).await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.body);
    let (in_acme_id, in_acme) = runtime_key(&s, &agent, json!({"name": "support", "workspace_id": "acme"})).await;
    let (loose_id, loose) = runtime_key(&s, &agent, json!({"name": "loose"})).await;
    for (key, mode) in [(&in_acme, "auto"), (&in_acme, "max"), (&loose, "fast")] {
        let r = s.post("/v1/chat/completions", Some(key), chat(mode, &format!("{mode} please"))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = s.post("/v1/embeddings", Some(&agent), json!({"model": "nomic-embed", "input": "x"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (_, other) = s.buyer(10_000).await;
    assert_eq!(s.post("/v1/chat/completions", Some(&other), chat("fast", "mine")).await.status, StatusCode::OK);

    let by_ws = s.get("/v1/usage/breakdown?group_by=workspace&days=7", Some(&agent)).await;
    assert_eq!((by_ws.body["group_by"].clone(), by_ws.body["window_days"].clone()), (json!("workspace"), json!(7)));
    assert_eq!(groups(&by_ws.body, "workspace_id"), vec![(None, 2), (Some("acme"), 2)], "{}", by_ws.body);
    let by_key = s.get("/v1/usage/breakdown?group_by=api_key", Some(&agent)).await;
    let mut expected = vec![(None, 1), (Some(in_acme_id.as_str()), 2), (Some(loose_id.as_str()), 1)];
    expected.sort();
    assert_eq!(groups(&by_key.body, "api_key_id"), expected, "{}", by_key.body);

    let usage = s.get("/v1/usage", Some(&agent)).await.body;
    let rows = usage["data"].as_array().unwrap();
    let charged: i64 = rows.iter().map(|r| micros(&r["charged_usd"])).sum();
    let stats = s.get("/v1/stats?days=30&daily_days=3", Some(&agent)).await.body;
    assert_eq!(stats["requests"], json!(4), "{stats}");
    assert_eq!(micros(&stats["charged_usd"]), charged);
    assert_eq!(stats["tier_breakdown"], json!({"auto": 2, "fast": 1, "max": 1}), "{stats}");
    assert_eq!(stats["request_type_breakdown"], json!({"chat": 3, "embeddings": 1}));
    let daily = stats["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 3);
    assert_eq!(daily[2]["date"], json!(rows[0]["created_at"].as_str().unwrap()[..10]));
    assert_eq!((daily[2]["requests"].clone(), daily[0]["requests"].clone()), (json!(4), json!(0)));
    let total: i64 =
        rows.iter().map(|r| r["input_tokens"].as_i64().unwrap() + r["output_tokens"].as_i64().unwrap()).sum();
    assert_eq!(stats["total_tokens"], json!(total));

    // A runtime key sees its own scope whatever it asks.
    let mine = s.get(&format!("/v1/stats?api_key_id={loose_id}"), Some(&in_acme)).await.body;
    assert_eq!(
        (mine["requests"].clone(), mine["api_key_id"].clone(), mine["workspace_id"].clone()),
        (json!(2), json!(in_acme_id), json!("acme")),
        "{mine}"
    );
    let own = s.get("/v1/usage/breakdown?group_by=api_key", Some(&loose)).await;
    assert_eq!(groups(&own.body, "api_key_id"), vec![(Some(loose_id.as_str()), 1)]);

    // Operators see every account, or one.
    let operator = s.operator_key.clone();
    let all = s.get("/v1/usage?limit=1000", Some(&operator)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert!(all.body["data"].as_array().unwrap().len() >= 5);
    assert!(all.body["data"].as_array().unwrap().iter().all(|r| r["provider"] != json!("")));
    let one = s.get(&format!("/v1/stats?agent_id={agent_id}&workspace_id=acme"), Some(&operator)).await;
    assert_eq!(one.body["requests"], json!(2), "{}", one.body);
    s.get("/v1/stats?workspace_id=acme", Some(&operator)).await.assert_error(400, "invalid_request");

    // Strangers see nothing of it; bad windows are refused.
    s.get("/v1/usage?workspace_id=acme", Some(&other)).await.assert_error(404, "not_found");
    let theirs = s.get(&format!("/v1/usage/breakdown?group_by=api_key&api_key_id={in_acme_id}"), Some(&other)).await;
    assert_eq!(theirs.body["data"], json!([]));
    s.get("/v1/stats?days=0", Some(&agent)).await.assert_error(400, "invalid_request");
    s.get("/v1/usage/breakdown?group_by=model", Some(&agent)).await.assert_error(400, "invalid_request");
    s.get("/v1/stats", None).await.assert_error(401, "unauthorized");
}
