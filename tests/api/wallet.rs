//! Deposits, withdrawals, idempotent replay and the wallet views; money from nowhere never
//! becomes withdrawable, and credit stays credit through every chain of payments.

use agora_e2e::{Options, Server, StatusCode};
use serde_json::json;

#[tokio::test]
async fn deposits_and_wallet_history() {
    let s = Server::start().await;
    let (id, key) = s.register("Saver", json!({})).await;
    let d = s.post("/api/agents/wallet/deposit", Some(&key), json!({"amountCents": 5000})).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert_eq!(d.body["deposit"]["amountCents"], 5000);
    assert_eq!(d.body["deposit"]["balanceAfter"], 5100);
    assert_eq!(d.body["deposit"]["agentId"], id);
    assert_eq!(d.body["deposit"]["agentName"], "Saver");
    assert_eq!(d.body["balance"], 5100);

    // snake_case amount works too; the limit is exactly $10,000 per deposit.
    let max = s.post("/api/agents/wallet/deposit", Some(&key), json!({"amount_cents": 1_000_000})).await;
    assert_eq!(max.status, StatusCode::OK, "{}", max.body);
    s.post("/api/agents/wallet/deposit", Some(&key), json!({"amountCents": 1_000_001}))
        .await
        .assert_error(422, "validation_error");

    // An agent's own deposit has no payment behind it: it is credit.
    assert_eq!(d.body["deposit"]["funded"], false);
    let w = s.get("/api/agents/wallet", Some(&key)).await;
    assert_eq!(w.status, StatusCode::OK);
    assert_eq!(w.body["balanceCents"], 1_005_100);
    assert_eq!(w.body["promoCents"], 1_005_100);
    assert_eq!(w.body["withdrawableCents"], 0);
    assert_eq!(w.body["agentName"], "Saver");
    let txs = w.body["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 3);
    assert_eq!(txs[0]["type"], "DEPOSIT");
    assert_eq!(txs[0]["amountCents"], 1_000_000);
    assert_eq!(txs[0]["creditCents"], 1_000_000);
    assert_eq!(txs[0]["balanceAfter"], 1_005_100);
    assert_eq!(txs[2]["type"], "SIGNUP_CREDIT");
    assert_eq!(txs[2]["balanceAfter"], 100);

    let simple = s.get("/api/wallet", Some(&key)).await;
    assert_eq!(simple.body["data"], json!({"agent_id": id, "balance": 1_005_100, "withdrawable": 0}));
    assert_eq!(simple.body["balance"], 1_005_100);

    // An operator's deposit (after a payment outside the platform) is withdrawable money.
    let op =
        s.post("/api/agents/wallet/deposit", Some(&s.operator_key), json!({"amountCents": 300, "agentId": id})).await;
    assert_eq!(op.body["deposit"]["funded"], true);
    assert_eq!(s.wallet(&key).await, (1_005_400, 1_005_100, 300));
    for _ in 0..25 {
        s.post("/api/agents/wallet/deposit", Some(&key), json!({"amountCents": 1})).await;
    }
    let w = s.get("/api/agents/wallet", Some(&key)).await;
    assert_eq!(w.body["transactions"].as_array().unwrap().len(), 20);
    assert_eq!(w.body["transactions"][0]["balanceAfter"], 1_005_425);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn money_from_nowhere_never_becomes_withdrawable() {
    let s = Server::start().await;
    let (_, key) = s.register("Forger", json!({})).await;
    for _ in 0..3 {
        let d = s.post("/api/agents/wallet/deposit", Some(&key), json!({"amountCents": 1_000_000})).await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    }
    s.post("/api/agents/wallet/withdraw", Some(&key), json!({"amountCents": 1_000_000}))
        .await
        .assert_error(402, "insufficient_withdrawable_funds");
    s.post("/api/agents/wallet/withdraw", Some(&key), json!({"amountCents": 1}))
        .await
        .assert_error(402, "insufficient_withdrawable_funds");
    let report = s.assert_ledger_sound().await;
    assert_eq!(report["withdrawableCents"], 0);
    assert_eq!(report["fundedInCents"], 0);

    // An operator may refuse agents' own deposits altogether.
    let strict = Server::start_with(Options::default().env("AGORA_SELF_DEPOSIT", "refuse")).await;
    let (id, key) = strict.register("Honest", json!({})).await;
    strict
        .post("/api/agents/wallet/deposit", Some(&key), json!({"amountCents": 500}))
        .await
        .assert_error(403, "deposit_needs_payment");
    assert_eq!(strict.balance(&key).await, 100);
    strict.fund(&id, 500).await;
    assert_eq!(strict.wallet(&key).await, (600, 100, 500));
    strict.assert_ledger_sound().await;
}

#[tokio::test]
async fn the_ledger_check_catches_withdrawable_money_without_funding() {
    let s = Server::start().await;
    let (id, key) = s.register("Audited", json!({})).await;
    s.post("/api/agents/wallet/deposit", Some(&key), json!({"amountCents": 700})).await;
    s.assert_ledger_sound().await;
    // Tamper with the books as a bug would: credit turned into cash, with no funding behind it.
    let db = agora::db::Db::connect(&s.database_url, 1).await.unwrap();
    sqlx::query("UPDATE accounts SET promo_balance = 0 WHERE id = $1")
        .bind(format!("wallet:{id}"))
        .execute(&db.direct)
        .await
        .unwrap();
    let r = s.get("/api/admin/ledger/check", Some(&s.operator_key)).await;
    assert_eq!(r.body["ok"], false, "{}", r.body);
    let problems = r.body["problems"].to_string();
    assert!(problems.contains("only 0 of funded money"), "{problems}");
}

#[tokio::test]
async fn operators_deposit_to_any_agent_and_agents_only_to_themselves() {
    let s = Server::start().await;
    let (a, akey) = s.register("Alice", json!({})).await;
    let (b, _) = s.register("Bob", json!({})).await;
    s.post("/api/agents/wallet/deposit", Some(&akey), json!({"amountCents": 10, "agentId": b}))
        .await
        .assert_error(403, "forbidden");
    // Naming yourself is fine.
    assert_eq!(
        s.post("/api/agents/wallet/deposit", Some(&akey), json!({"amountCents": 10, "agentId": a})).await.status,
        StatusCode::OK
    );
    let op = s.operator_key.clone();
    let r = s.post("/api/agents/wallet/deposit", Some(&op), json!({"amountCents": 700, "agentId": b})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["deposit"]["agentName"], "Bob");
    assert_eq!(r.body["deposit"]["balanceAfter"], 800);
    s.post("/api/agents/wallet/deposit", Some(&op), json!({"amountCents": 700}))
        .await
        .assert_error(422, "validation_error");
    s.post("/api/agents/wallet/deposit", Some(&op), json!({"amountCents": 700, "agentId": "no-such-agent"}))
        .await
        .assert_error(404, "not_found");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn withdrawals_leave_sign_up_credits_behind() {
    let s = Server::start().await;
    let (id, key) = s.register("Earner", json!({})).await;
    // Sign-up credits alone cannot be withdrawn.
    s.post("/api/agents/wallet/withdraw", Some(&key), json!({"amountCents": 1}))
        .await
        .assert_error(402, "insufficient_withdrawable_funds");
    s.fund(&id, 3000).await;
    s.post("/api/agents/wallet/withdraw", Some(&key), json!({"amountCents": 3001}))
        .await
        .assert_error(402, "insufficient_withdrawable_funds");
    let w = s.post("/api/agents/wallet/withdraw", Some(&key), json!({"amountCents": 2500})).await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.body);
    assert_eq!(w.body["withdrawal"]["status"], "pending");
    assert_eq!(w.body["withdrawal"]["balanceAfter"], 600);
    assert_eq!(w.body["balance"], 600);
    let payouts = s.get("/api/agents/wallet/payouts", Some(&key)).await;
    assert_eq!(payouts.body["payouts"][0]["amountCents"], 2500);
    assert_eq!(payouts.body["payouts"][0]["status"], "pending");
    assert_eq!(payouts.body["payouts"][0]["transferId"], w.body["withdrawal"]["transferId"]);
    let wallet = s.get("/api/agents/wallet", Some(&key)).await;
    assert_eq!(wallet.body["transactions"][0]["type"], "WITHDRAWAL");
    assert_eq!(wallet.body["transactions"][0]["amountCents"], -2500);
    assert_eq!(wallet.body["withdrawableCents"], 500);
    for bad in [
        json!({"amountCents": 0}),
        json!({"amountCents": -5}),
        json!({"amountCents": 1.5}),
        json!({"amountCents": "100"}),
        json!({"amountCents": 1e30}),
        json!({}),
    ] {
        let r = s.post("/api/agents/wallet/withdraw", Some(&key), bad.clone()).await;
        assert_eq!(r.status.as_u16(), 422, "{bad} -> {}", r.body);
    }
    assert_eq!(s.balance(&key).await, 600, "failed withdrawals moved nothing");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse_reuse() {
    let s = Server::start().await;
    let (id, key) = s.register("Careful", json!({})).await;
    s.fund(&id, 1000).await;
    let deposit = |k: &'static str, amount: i64| {
        s.post_idempotent("/api/agents/wallet/deposit", &key, k, json!({"amountCents": amount}))
    };
    let first = deposit("dep-1", 1234).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(!first.replayed());
    let again = deposit("dep-1", 1234).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.replayed());
    assert_eq!(first.body, again.body, "the replay is the first response");
    assert_eq!(s.balance(&key).await, 2334, "the deposit happened once");

    deposit("dep-1", 999).await.assert_error(422, "idempotency_key_reused");

    // Keys are scoped per API key: another agent's same key is a new request.
    let (_, other) = s.register("Other", json!({})).await;
    let r = s.post_idempotent("/api/agents/wallet/deposit", &other, "dep-1", json!({"amountCents": 1})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.replayed());

    // A withdrawal retried with its key is paid once.
    for _ in 0..2 {
        let w = s.post_idempotent("/api/agents/wallet/withdraw", &key, "wd-1", json!({"amountCents": 1000})).await;
        assert_eq!(w.status, StatusCode::OK);
    }
    assert_eq!(s.balance(&key).await, 1334, "withdrawn once");

    // Many concurrent retries of one key execute once.
    let results = futures::future::join_all((0..20).map(|_| deposit("dep-burst", 100))).await;
    let ok = results.iter().filter(|r| r.status == StatusCode::OK).count();
    let busy = results.iter().filter(|r| r.status == StatusCode::CONFLICT).count();
    assert_eq!(ok + busy, 20);
    assert_eq!(s.balance(&key).await, 1434, "exactly one deposit of 100");

    let too_long = "x".repeat(300);
    s.post_idempotent("/api/agents/wallet/deposit", &key, &too_long, json!({"amountCents": 1}))
        .await
        .assert_error(400, "invalid_idempotency_key");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn idempotency_keys_expire_after_a_day() {
    let s = Server::start().await;
    let (_, key) = s.register("Patient", json!({})).await;
    let deposit =
        |amount: i64| s.post_idempotent("/api/agents/wallet/deposit", &key, "daily", json!({"amountCents": amount}));
    assert_eq!(deposit(10).await.status, StatusCode::OK);
    deposit(20).await.assert_error(422, "idempotency_key_reused");
    // Age the record past the 24-hour retention, as if a day had passed.
    let db = agora::db::Db::connect(&s.database_url, 1).await.unwrap();
    let aged = sqlx::query("UPDATE idempotency_keys SET created_at = created_at - $1 WHERE idem_key = 'daily'")
        .bind(agora::idempotency::RETENTION_MS + 1)
        .execute(&db.direct)
        .await
        .unwrap();
    assert_eq!(aged.rows_affected(), 1);
    db.close().await;
    let fresh = deposit(20).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert!(!fresh.replayed(), "an expired key is a new request");
    assert_eq!(s.balance(&key).await, 130);
}
