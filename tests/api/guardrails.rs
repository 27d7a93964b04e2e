//! Action guardrails: operators' and accounts' policies deciding checks (an account only
//! tightens), approvals that let one action through once and expire, an audit log that is
//! complete, scoped to its reader and append-only, and the host's own actions passing the
//! policies before any money moves.

use agora_e2e::{Options, Server, StatusCode, TestHttp};
use serde_json::{json, Value};

fn action(tool: &str, usd: f64) -> Value {
    json!({"app": "shop", "tool_ref": tool, "action_type": "spend", "requested_amount_usd": usd})
}

async fn runtime_key(s: &Server, agent: &str) -> (String, String) {
    let r = s.post("/v1/keys", Some(agent), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (r.body["id"].as_str().unwrap().to_string(), r.body["key"].as_str().unwrap().to_string())
}

async fn policy(s: &Server, key: &str, body: Value) -> Value {
    let r = s.post("/v1/actions/policies", Some(key), body).await;
    assert!(r.status == StatusCode::CREATED || r.status == StatusCode::OK, "{}", r.body);
    r.body
}

async fn check(s: &Server, key: &str, body: Value) -> Value {
    let r = s.post("/v1/actions/check", Some(key), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["audit_id"].is_string(), "{}", r.body);
    r.body
}

#[tokio::test]
async fn policies_decide_checks_and_accounts_only_tighten() {
    let s = Server::start().await;
    let op = s.operator_key.clone();
    let (a_id, a) = s.register(&agora_e2e::random_name("acct"), json!({})).await;
    let (_, b) = s.register(&agora_e2e::random_name("other"), json!({})).await;
    let (_, runtime) = runtime_key(&s, &a).await;

    let big = json!({"name": "big-spends", "effect": "deny", "match": {"action_type": "spend", "min_amount_usd": 100}});
    let first = s.post("/v1/actions/policies", Some(&op), big.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let mut again = big.clone();
    again["priority"] = json!(5);
    let second = s.post("/v1/actions/policies", Some(&op), again).await;
    assert_eq!(
        (second.status, second.body["id"].clone()),
        (StatusCode::OK, first.body["id"].clone()),
        "upserted by name"
    );
    assert_eq!((second.body["priority"].clone(), second.body["scope"].clone()), (json!(5), json!("operator")));
    let big_id = first.body["id"].clone();

    policy(&s, &a, json!({"name": "pay-ok", "effect": "allow", "match": {"tool_ref": "pay.*"}})).await;
    policy(
        &s,
        &a,
        json!({"name": "risky", "effect": "require_approval", "match": {"risk_level": "high"},
                          "description": "a person looks at risky actions"}),
    )
    .await;
    let theirs = json!({"name": "x", "effect": "allow", "match": {"agent_id": "someone-else"}});
    s.post("/v1/actions/policies", Some(&a), theirs).await.assert_error(400, "invalid_request");
    for bad in [
        json!({"name": "", "effect": "deny"}),
        json!({"name": "n", "effect": "maybe"}),
        json!({"name": "n", "effect": "deny", "match": {"risk_level": "extreme"}}),
        json!({"name": "n", "effect": "deny", "match": {"min_amount_usd": -1}}),
    ] {
        s.post("/v1/actions/policies", Some(&a), bad).await.assert_error(400, "invalid_request");
    }
    let r = s
        .post("/v1/actions/policies", Some(&a), json!({"name": "n", "effect": "deny", "match": {"colour": "red"}}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    s.post("/v1/actions/policies", Some(&runtime), json!({"name": "k", "effect": "deny"}))
        .await
        .assert_error(403, "forbidden");

    // The operator's deny wins over the account's allow; the account's own rules tighten.
    let denied = check(&s, &runtime, action("pay.card", 150.0)).await;
    assert_eq!((denied["decision"].clone(), denied["policy_id"].clone()), (json!("deny"), big_id.clone()), "{denied}");
    let allowed = check(&s, &a, action("pay.card", 5.0)).await;
    assert_eq!(allowed["decision"], json!("allow"), "{allowed}");
    let mut risky = action("mail.send", 0.0);
    risky["risk_level"] = json!("critical");
    let waiting = check(&s, &a, risky.clone()).await;
    assert_eq!(waiting["decision"], json!("require_approval"));
    assert_eq!(waiting["reason"], json!("policy risky: a person looks at risky actions"));
    assert!(waiting["approval_id"].is_string());
    // Another account's policies are not this one's.
    assert_eq!(check(&s, &b, risky).await["decision"], json!("allow"));

    let listed = |key: String| {
        let s = &s;
        async move { s.get("/v1/actions/policies", Some(&key)).await.body["data"].as_array().unwrap().len() }
    };
    assert_eq!((listed(a.clone()).await, listed(b.clone()).await, listed(op.clone()).await), (3, 1, 3));
    let mine = s.get("/v1/actions/policies", Some(&a)).await.body;
    let pay = mine["data"].as_array().unwrap().iter().find(|p| p["name"] == json!("pay-ok")).unwrap()["id"].clone();
    let path = format!("/v1/actions/policies/{}", pay.as_str().unwrap());
    s.request("DELETE", &path, Some(&b), None).await.assert_error(404, "not_found");
    let big_path = format!("/v1/actions/policies/{}", big_id.as_str().unwrap());
    s.request("DELETE", &big_path, Some(&a), None).await.assert_error(404, "not_found");
    assert_eq!(s.request("DELETE", &path, Some(&a), None).await.status, StatusCode::OK);
    assert_eq!(listed(a.clone()).await, 2);

    // Bad actions are refused and recorded nowhere; operators do not act.
    let before = s.get("/v1/actions/audit?limit=500", Some(&a)).await.body["data"].as_array().unwrap().len();
    let mut bad = action("pay.card", -3.0);
    s.post("/v1/actions/check", Some(&a), bad.clone()).await.assert_error(400, "invalid_request");
    bad["requested_amount_usd"] = json!(3);
    bad["risk_level"] = json!("extreme");
    s.post("/v1/actions/check", Some(&a), bad).await.assert_error(400, "invalid_request");
    let r = s.post("/v1/actions/check", Some(&a), json!({"app": "shop", "action_type": "spend"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    s.post("/v1/actions/check", Some(&op), action("pay.card", 1.0)).await.assert_error(403, "forbidden");
    let after = s.get("/v1/actions/audit?limit=500", Some(&a)).await.body["data"].as_array().unwrap().len();
    assert_eq!(before, after);
    assert!(!a_id.is_empty());
}

#[tokio::test]
async fn an_approval_lets_the_same_action_through_once_and_expires() {
    let s = Server::start_with(Options::default().env("AGORA_TEST_CLOCK", "true")).await;
    let op = s.operator_key.clone();
    let (_, a) = s.register(&agora_e2e::random_name("acct"), json!({})).await;
    let (_, b) = s.register(&agora_e2e::random_name("other"), json!({})).await;
    let (_, runtime) = runtime_key(&s, &a).await;
    policy(&s, &a, json!({"name": "mail", "effect": "require_approval", "match": {"tool_ref": "mail.send"}})).await;
    let mail = |usd: f64, approval: Option<&Value>| {
        let mut body = action("mail.send", usd);
        if let Some(id) = approval {
            body["approval_id"] = id.clone();
        }
        body
    };

    let first = check(&s, &runtime, mail(1.0, None)).await;
    let x = first["approval_id"].clone();
    let waiting = check(&s, &runtime, mail(1.0, Some(&x))).await;
    assert_eq!((waiting["decision"].clone(), waiting["approval_id"].clone()), (json!("require_approval"), x.clone()));

    let decide = |id: &Value| format!("/v1/actions/approvals/{}/decide", id.as_str().unwrap());
    s.post(&decide(&x), Some(&b), json!({"decision": "approve"})).await.assert_error(404, "not_found");
    s.post(&decide(&x), Some(&runtime), json!({"decision": "approve"})).await.assert_error(403, "forbidden");
    s.post(&decide(&x), Some(&a), json!({"decision": "maybe"})).await.assert_error(400, "invalid_request");
    let approved = s.post(&decide(&x), Some(&a), json!({"decision": "approve", "note": "fine"})).await;
    assert_eq!(approved.body["status"], json!("approved"), "{}", approved.body);
    s.post(&decide(&x), Some(&a), json!({"decision": "reject"})).await.assert_error(409, "invalid_transition");

    // Another action cannot use it; the same one goes through once.
    let other = check(&s, &runtime, mail(2.0, Some(&x))).await;
    assert_eq!(other["decision"], json!("require_approval"));
    assert_ne!(other["approval_id"], x);
    let through = check(&s, &runtime, mail(1.0, Some(&x))).await;
    assert_eq!((through["decision"].clone(), through["approval_id"].clone()), (json!("allow"), x.clone()), "{through}");
    let twice = check(&s, &runtime, mail(1.0, Some(&x))).await;
    assert_eq!(twice["decision"], json!("require_approval"));

    // Rejected: waits again. An operator decides any account's.
    let y = twice["approval_id"].clone();
    let rejected = s.post(&decide(&y), Some(&op), json!({"decision": "reject", "note": "no"})).await;
    assert_eq!(rejected.body["status"], json!("rejected"), "{}", rejected.body);
    assert_eq!(check(&s, &runtime, mail(1.0, Some(&y))).await["decision"], json!("require_approval"));

    // Undecided past its time: expired, and a late decision is refused.
    let late = check(&s, &runtime, mail(9.0, None)).await["approval_id"].clone();
    let r = s.post("/api/admin/clock", Some(&op), json!({"advanceMs": 86_400_000 + 1_000})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    s.post(&decide(&late), Some(&a), json!({"decision": "approve"})).await.assert_error(409, "approval_expired");
    let expired = s.get("/v1/actions/approvals?status=expired", Some(&a)).await.body;
    assert!(expired["data"].as_array().unwrap().iter().any(|p| p["id"] == late), "{expired}");
    let used = s.get("/v1/actions/approvals?status=used", Some(&a)).await.body;
    assert_eq!(used["data"].as_array().unwrap().len(), 1);
    assert_eq!(s.get("/v1/actions/approvals", Some(&b)).await.body["data"], json!([]));
    s.get("/v1/actions/approvals?status=later", Some(&a)).await.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn the_audit_log_is_complete_scoped_and_append_only() {
    let s = Server::start().await;
    let op = s.operator_key.clone();
    let (a_id, a) = s.register(&agora_e2e::random_name("acct"), json!({})).await;
    let (_, b) = s.register(&agora_e2e::random_name("other"), json!({})).await;
    let (key_id, runtime) = runtime_key(&s, &a).await;
    policy(&s, &a, json!({"name": "wait", "effect": "require_approval", "match": {"tool_ref": "deploy"}})).await;
    for usd in [1.0, 2.0, 3.0] {
        check(&s, &runtime, action("pay.card", usd)).await;
    }
    let waiting =
        check(&s, &a, json!({"app": "ci", "tool_ref": "deploy", "action_type": "code", "mission_id": "m1"})).await;
    let approval = waiting["approval_id"].as_str().unwrap().to_string();
    s.post(&format!("/v1/actions/approvals/{approval}/decide"), Some(&a), json!({"decision": "approve"})).await;
    let recorded = s
        .post(
            "/v1/actions/audit",
            Some(&runtime),
            json!({"event": "executed", "app": "ci", "tool_ref": "deploy",
              "mission_id": "m1", "approval_id": approval, "metadata": {"build": 7}}),
        )
        .await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.body);
    s.post("/v1/actions/audit", Some(&a), json!({"event": "shrugged", "app": "ci", "tool_ref": "deploy"}))
        .await
        .assert_error(400, "invalid_request");

    let all = s.get("/v1/actions/audit", Some(&a)).await.body;
    let events: Vec<&str> = all["data"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["executed", "approved", "check", "check", "check", "check"], "newest first: {all}");
    let newest = &all["data"][0];
    assert_eq!(
        (newest["actor"].clone(), newest["input"]["metadata"]["build"].clone()),
        (json!(format!("key:{key_id}")), json!(7))
    );
    let check_row = &all["data"][2];
    assert_eq!(
        (check_row["decision"].clone(), check_row["actor"].clone()),
        (json!("require_approval"), json!(format!("agent:{a_id}")))
    );
    assert!(check_row["elapsed_us"].as_i64().is_some() && check_row["policy_id"].is_string(), "{check_row}");

    // Filters and pages.
    let mission = s.get("/v1/actions/audit?mission_id=m1", Some(&a)).await.body;
    assert_eq!(mission["data"].as_array().unwrap().len(), 3);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/actions/audit?event=check&limit=3&before={c}"),
            None => "/v1/actions/audit?event=check&limit=3".to_string(),
        };
        let page = s.get(&path, Some(&a)).await.body;
        seen.extend(page["data"].as_array().unwrap().iter().map(|e| e["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4);
    s.get("/v1/actions/audit?before=nonsense", Some(&a)).await.assert_error(400, "invalid_request");

    // Scoped to its reader; operators see every account's.
    assert_eq!(s.get("/v1/actions/audit", Some(&b)).await.body["data"], json!([]));
    let by_op = s.get(&format!("/v1/actions/audit?agent_id={a_id}"), Some(&op)).await.body;
    assert_eq!(by_op["data"].as_array().unwrap().len(), 6);

    // Append-only in the database itself.
    let db = agora::db::Db::connect(&s.database_url, 1).await.unwrap();
    assert!(sqlx::query("UPDATE guardrail_audit SET decision = 'allow'").execute(&db.direct).await.is_err());
    assert!(sqlx::query("DELETE FROM guardrail_audit").execute(&db.direct).await.is_err());
    db.close().await;
    assert_eq!(s.get("/v1/actions/audit", Some(&a)).await.body["data"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn the_hosts_own_actions_pass_the_policies_before_money_moves() {
    let s = Server::start().await;
    let op = s.operator_key.clone();
    let (echo, _, _) = s.component_agent("echo", 5, json!({})).await;
    let (delegate, delegate_key, _) = s.component_agent("delegate", 0, json!({"marketplace": true})).await;
    s.fund(&delegate, 500).await;
    let (buyer_id, buyer) = s.buyer(1_000).await;
    let before = s.balance(&buyer).await;

    // An operator's deny refuses the execution before anything is held.
    policy(
        &s,
        &op,
        json!({"name": "no-big-runs", "effect": "deny",
                           "match": {"tool_ref": "agora.execute", "min_amount_usd": 5}}),
    )
    .await;
    let refused = s.execute(&buyer, &echo, "hi", 600).await;
    refused.assert_error(403, "policy_denied");
    assert!(refused.body["error"]["details"]["audit_id"].is_string(), "{}", refused.body);
    assert_eq!(s.balance(&buyer).await, before, "nothing held or charged");
    assert_eq!(s.execute(&buyer, &echo, "hi", 100).await.status, StatusCode::OK);
    let spent = before - s.balance(&buyer).await;

    // The account's own require_approval: refused with the approval, then through exactly once.
    policy(
        &s,
        &buyer,
        json!({"name": "tasks-wait", "effect": "require_approval", "match": {"tool_ref": "agora.task"}}),
    )
    .await;
    let task = json!({"title": "write a poem", "description": "short", "budget": 50});
    let waiting = s.post("/api/tasks", Some(&buyer), task.clone()).await;
    waiting.assert_error(403, "approval_required");
    let approval = waiting.body["error"]["details"]["approval_id"].clone();
    assert_eq!(s.balance(&buyer).await, before - spent);
    let decided = s
        .post(
            &format!("/v1/actions/approvals/{}/decide", approval.as_str().unwrap()),
            Some(&buyer),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    let mut approved = task.clone();
    approved["approval_id"] = approval.clone();
    let posted = s.post("/api/tasks", Some(&buyer), approved.clone()).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    s.post("/api/tasks", Some(&buyer), approved).await.assert_error(403, "approval_required");
    assert_eq!(s.balance(&buyer).await, before - spent - 50, "the task's budget held once");

    // A component's hire passes its agent's policies: the capability answers denied.
    policy(&s, &delegate_key, json!({"name": "no-hiring", "effect": "deny", "match": {"tool_ref": "agora.hire"}}))
        .await;
    let delegate_before = s.balance(&delegate_key).await;
    let input = json!({"chain": [echo], "budgets": [10], "text": "x"}).to_string();
    let r = s
        .post("/api/execute", Some(&buyer), json!({"agent_id": delegate, "task_description": input, "budget": 20}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.to_string().contains("refused by policy"), "{}", r.body);
    assert_eq!(s.balance(&delegate_key).await, delegate_before, "the delegate paid no hire");

    // Withdrawals and publishing too.
    policy(&s, &op, json!({"name": "no-withdrawals", "effect": "deny", "match": {"tool_ref": "agora.withdraw"}})).await;
    s.post("/api/agents/wallet/withdraw", Some(&buyer), json!({"amountCents": 1}))
        .await
        .assert_error(403, "policy_denied");
    policy(
        &s,
        &op,
        json!({"name": "no-code", "effect": "deny", "match": {"tool_ref": "agora.publish", "agent_id": buyer_id}}),
    )
    .await;
    let publisher = s.publisher(&buyer).await;
    let r = s.publish(&publisher, &agora_e2e::guest("echo"), "agent", "mine", json!({})).await;
    r.assert_error(403, "policy_denied");

    // Every one of them is in the acting account's audit log.
    let audit = s.get("/v1/actions/audit?limit=100", Some(&buyer)).await.body;
    let tools: Vec<&str> = audit["data"].as_array().unwrap().iter().filter_map(|e| e["tool_ref"].as_str()).collect();
    for tool in ["agora.execute", "agora.task", "agora.withdraw", "agora.publish"] {
        assert!(tools.contains(&tool), "{tool} in {tools:?}");
    }
    s.assert_ledger_sound().await;
}

/// An allowed host action's audit event is written in the action's own first transaction; an
/// action that fails after the check (here: the money is not there) still leaves its event.
#[tokio::test]
async fn allowed_host_actions_are_audited_whether_or_not_they_go_through() {
    let s = Server::start().await;
    let (echo, _, _) = s.component_agent("echo", 5, json!({})).await;
    let (_, buyer) = s.buyer(100).await;
    assert_eq!(s.execute(&buyer, &echo, "hi", 10).await.status, StatusCode::OK);
    s.execute(&buyer, &echo, "hi", 5_000).await.assert_error(402, "insufficient_funds");
    let task = |budget: i64| json!({"title": "a poem", "description": "short", "budget": budget});
    assert_eq!(s.post("/api/tasks", Some(&buyer), task(20)).await.status, StatusCode::CREATED);
    s.post("/api/tasks", Some(&buyer), task(5_000)).await.assert_error(402, "insufficient_funds");

    let audit = s.get("/v1/actions/audit?limit=100", Some(&buyer)).await.body;
    let events: Vec<&Value> = audit["data"].as_array().unwrap().iter().collect();
    for tool in ["agora.execute", "agora.task"] {
        let mine: Vec<&&Value> = events.iter().filter(|e| e["tool_ref"] == tool).collect();
        assert_eq!(mine.len(), 2, "one event per check of {tool}: {audit}");
        for e in mine {
            assert_eq!(e["decision"], "allow", "{e}");
            assert!(e["elapsed_us"].as_i64().is_some_and(|us| us >= 0), "{e}");
        }
    }
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn policy_components_decide_and_fail_closed() {
    let s = Server::start().await;
    let (_, echo_key, echo_component) = s.component_agent("echo", 0, json!({})).await;
    let (buyer_id, buyer) = s.buyer(1_000).await;
    let publisher = s.publisher(&buyer).await;
    let publish = |name: &'static str| {
        let (s, publisher) = (&s, &publisher);
        async move {
            let r = s.publish(publisher, &agora_e2e::guest(name), "policy", name, json!({})).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["component"].clone()
        }
    };
    let cap = publish("spend-cap").await;
    let rogue = publish("rogue-policy").await;

    // spend-cap decides the buyer's executions: allow, approval, deny by the amount.
    let made =
        policy(&s, &buyer, json!({"name": "cap", "component_id": cap["id"], "match": {"tool_ref": "pay.*"}})).await;
    assert_eq!((made["effect"].clone(), made["component_id"].clone()), (json!("module"), cap["id"].clone()), "{made}");
    let spend = |usd: f64| check(&s, &buyer, action("pay.card", usd));
    assert_eq!(spend(10.0).await["decision"], json!("allow"));
    let waiting = spend(60.0).await;
    assert_eq!(waiting["decision"], json!("require_approval"));
    assert!(waiting["reason"].as_str().unwrap().contains("needs approval"), "{waiting}");
    let denied = spend(200.0).await;
    assert_eq!((denied["decision"].clone(), denied["policy_id"].clone()), (json!("deny"), made["id"].clone()));
    let audit = s.get("/v1/actions/audit?limit=1", Some(&buyer)).await.body;
    assert_eq!(audit["data"][0]["module_digest"], cap["digest"], "{audit}");

    // A module that misbehaves is stopped and fails closed, or open when its policy says so.
    for (mode, fail_open, decision) in [("spin", false, "deny"), ("hog", false, "deny"), ("panic", true, "allow")] {
        let tool = format!("rogue.{mode}");
        policy(
            &s,
            &buyer,
            json!({"name": format!("rogue-{mode}"), "component_id": rogue["id"], "fail_open": fail_open,
                                  "settings": {"mode": mode}, "match": {"tool_ref": tool}}),
        )
        .await;
        let decided = check(&s, &buyer, action(&tool, 1.0)).await;
        assert_eq!(decided["decision"], json!(decision), "{mode}: {decided}");
        assert!(decided["reason"].as_str().unwrap().contains("the policy module failed"), "{mode}: {decided}");
    }
    assert_eq!(s.get("/health", None).await.status, StatusCode::OK);

    // The examples: an allow-list of hosts for communication, and office hours by the host's time.
    let hosts = publish("allow-hosts").await;
    policy(
        &s,
        &buyer,
        json!({"name": "hosts", "component_id": hosts["id"], "settings": {"hosts": ["*.example.com"]},
                              "match": {"action_type": "communication"}}),
    )
    .await;
    let talk =
        |host: &str| json!({"app": "mail", "tool_ref": "mail.send", "action_type": "communication", "operation": host});
    assert_eq!(check(&s, &buyer, talk("api.example.com")).await["decision"], json!("allow"));
    assert_eq!(check(&s, &buyer, talk("evil.example")).await["decision"], json!("require_approval"));
    let hours = publish("office-hours").await;
    for (name, open, close, decision) in [("always", 0, 24, "allow"), ("never", 0, 0, "deny")] {
        policy(
            &s,
            &buyer,
            json!({"name": format!("hours-{name}"), "component_id": hours["id"],
                                  "settings": {"open_hour": open, "close_hour": close},
                                  "match": {"tool_ref": format!("office.{name}")}}),
        )
        .await;
        let decided = check(&s, &buyer, action(&format!("office.{name}"), 1.0)).await;
        assert_eq!(decided["decision"], json!(decision), "{decided}");
        assert!(decided["reason"].as_str().unwrap().contains("office hours"), "{decided}");
    }

    // Only a policy component of one's own; settings must be an object.
    let bad = |body: Value| {
        let (s, buyer) = (&s, buyer.clone());
        async move { s.post("/v1/actions/policies", Some(&buyer), body).await }
    };
    bad(json!({"name": "x", "component_id": echo_component})).await.assert_error(404, "not_found");
    let (_, own_echo) = {
        let p = s.publisher(&buyer).await;
        let r = s.publish(&p, &agora_e2e::guest("echo"), "agent", "my-echo", json!({})).await;
        (p, r.body["component"]["id"].clone())
    };
    bad(json!({"name": "x", "component_id": own_echo})).await.assert_error(400, "invalid_request");
    bad(json!({"name": "x", "component_id": cap["id"], "settings": [1]})).await.assert_error(400, "invalid_request");
    bad(json!({"name": "x", "component_id": cap["id"], "effect": "deny"})).await.assert_error(400, "invalid_request");
    bad(json!({"name": "x", "effect": "deny", "fail_open": true})).await.assert_error(400, "invalid_request");
    // A policy component checks its settings when a policy is made with them.
    let r = bad(json!({"name": "x", "component_id": cap["id"], "settings": {"deny_above_cents": "lots"}})).await;
    r.assert_error(422, "invalid_settings");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("deny_above_cents must be"), "{}", r.body);
    bad(json!({"name": "x", "component_id": hours["id"], "settings": {"open_hour": 30}}))
        .await
        .assert_error(422, "invalid_settings");
    let tight = json!({"name": "tight", "component_id": cap["id"], "match": {"tool_ref": "tight.*"},
                       "settings": {"deny_above_cents": 1500, "approval_above_cents": 500}});
    policy(&s, &buyer, tight).await;
    assert_eq!(check(&s, &buyer, action("tight.pay", 20.0)).await["decision"], json!("deny"));
    assert_eq!(check(&s, &buyer, action("tight.pay", 10.0)).await["decision"], json!("require_approval"));
    let listed = s.get("/v1/actions/policies", Some(&buyer)).await.body;
    assert!(!listed.to_string().contains("\"name\":\"x\""), "no refused policy was kept: {listed}");
    // An operator may use anyone's.
    let r = s
        .post("/v1/actions/policies", Some(&s.operator_key), json!({"name": "cap-all", "component_id": cap["id"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(!echo_key.is_empty() && !buyer_id.is_empty());
}

#[tokio::test]
async fn a_components_outbound_calls_pass_its_agents_policies() {
    let s = Server::start_with(Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let site = TestHttp::start(|path, _| (200, vec![], format!("page at {path}"))).await;
    let (_, author) = s.register("Fetcher", json!({})).await;
    let publisher = s.publisher(&author).await;
    let published = |name: &'static str, kind: &'static str, caps: Value| {
        let (s, publisher) = (&s, &publisher);
        async move {
            let r = s.publish(publisher, &agora_e2e::guest(name), kind, name, caps).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["component"]["id"].as_str().unwrap().to_string()
        }
    };
    let fetch = published("fetch", "skill", json!({"http": ["127.0.0.1"]})).await;
    let hosts = published("allow-hosts", "policy", json!({})).await;
    let run = || {
        let (s, author) = (&s, author.clone());
        let body = json!({"input": json!({"url": site.url("/hello")}).to_string()});
        let path = format!("/api/components/{fetch}/run");
        async move { s.post(&path, Some(&author), body).await.body["data"].clone() }
    };
    assert_eq!(run().await["status"], "succeeded", "no policy yet");

    // 127.0.0.1 is not on the module's allow-list: the call waits for approval, and is never sent.
    policy(
        &s,
        &author,
        json!({"name": "hosts", "component_id": hosts, "settings": {"hosts": ["*.example.com"]},
               "match": {"tool_ref": "agora.http"}}),
    )
    .await;
    let held = run().await;
    assert_eq!(held["error"]["code"], "capability_denied", "{held}");
    let message = held["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("needs approval") && message.contains("127.0.0.1 is not on the allow-list"), "{message}");
    assert_eq!(site.seen.lock().unwrap().len(), 1, "only the run before the policy reached the site");
    let approvals = s.get("/v1/actions/approvals?status=pending", Some(&author)).await.body;
    assert_eq!(approvals["data"].as_array().unwrap().len(), 1, "{approvals}");
    let approval = approvals["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(approvals["data"][0]["action"]["operation"], "GET 127.0.0.1", "{approvals}");
    let again = run().await;
    assert!(again["error"]["message"].as_str().unwrap().contains(&approval), "the same approval stands: {again}");

    // Approved: the next run's call goes through once; the one after waits again.
    let path = format!("/v1/actions/approvals/{approval}/decide");
    assert_eq!(s.post(&path, Some(&author), json!({"decision": "approve"})).await.status, StatusCode::OK);
    assert_eq!(run().await["status"], "succeeded");
    assert_eq!(site.seen.lock().unwrap().len(), 2);
    let next = run().await;
    assert_eq!(next["error"]["code"], "capability_denied", "{next}");
    assert!(!next["error"]["message"].as_str().unwrap().contains(&approval), "{next}");

    // An operator's deny on the host wins over everything; the audit names each call.
    policy(
        &s,
        &s.operator_key,
        json!({"name": "no-loopback", "effect": "deny", "match": {"tool_ref": "agora.http", "operation": "GET 127.0.0.1"}}),
    )
    .await;
    let denied = run().await;
    assert!(denied["error"]["message"].as_str().unwrap().contains("refused by policy"), "{denied}");
    assert_eq!(site.seen.lock().unwrap().len(), 2);
    let audit = s.get("/v1/actions/audit?limit=100", Some(&author)).await.body;
    let http: Vec<&Value> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["tool_ref"] == "agora.http" && e["event"] == "check")
        .collect();
    assert_eq!(http.len(), 6, "every call is decided and audited, the first one allowed: {audit}");
    assert_eq!(http[0]["decision"], "deny", "newest first: {audit}");
}
