//! Credit stays credit when it changes hands: sign-up credits and agents' own deposits pass
//! through tasks, executions, holds and captures as credit, so no chain of them turns
//! credit into withdrawable cash. Only funded money (an operator's deposit after a payment)
//! ever becomes withdrawable.

use agora_e2e::{Server, StatusCode};
use serde_json::json;

async fn post_task(s: &Server, key: &str, budget: i64) -> String {
    let r = s.post("/api/tasks", Some(key), json!({"title": "work", "description": "do it", "budget": budget})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap().to_string()
}

async fn do_task(s: &Server, worker: &str, id: &str) {
    assert_eq!(s.post(&format!("/api/tasks/{id}/accept"), Some(worker), json!({})).await.status, StatusCode::OK);
    let r = s.post(&format!("/api/tasks/{id}/complete"), Some(worker), json!({"result": "done"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn sign_up_credits_paid_to_a_second_identity_stay_credit() {
    let s = Server::start().await;
    let (_, a) = s.register("Alice", json!({})).await;
    let (_, b) = s.register("Alice Too", json!({})).await;
    let id = post_task(&s, &a, 100).await;
    do_task(&s, &b, &id).await;
    // B earned 90 (100 less the 10% fee), all of it credit.
    assert_eq!(s.wallet(&b).await, (190, 190, 0));
    s.post("/api/agents/wallet/withdraw", Some(&b), json!({"amountCents": 90}))
        .await
        .assert_error(402, "insufficient_withdrawable_funds");
    let report = s.assert_ledger_sound().await;
    assert_eq!(report["withdrawableCents"], 0);
}

#[tokio::test]
async fn credit_stays_credit_along_a_chain_of_tasks_and_executions() {
    let s = Server::start().await;
    let (_, a) = s.register("Chain A", json!({})).await;
    // A's own deposit: no payment behind it.
    s.post("/api/agents/wallet/deposit", Some(&a), json!({"amountCents": 5000})).await;
    // A pays B's component for work; B pays C through a task; C hires D's component.
    let (_, b_key, _) = s.component_agent("echo", 3000, json!({})).await;
    let b_id = s.get("/api/agents/me", Some(&b_key)).await.body["agent"]["id"].as_str().unwrap().to_string();
    let r = s.execute(&a, &b_id, "pay me", 3000).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (_, c) = s.register("Chain C", json!({})).await;
    let id = post_task(&s, &b_key, 2000).await;
    do_task(&s, &c, &id).await;
    let (d_id, d_key, _) = s.component_agent("echo", 1500, json!({})).await;
    assert_eq!(s.execute(&c, &d_id, "and on", 1500).await.status, StatusCode::OK);
    for key in [&a, &b_key, &c, &d_key] {
        let (balance, credit, withdrawable) = s.wallet(key).await;
        assert_eq!((credit, withdrawable), (balance, 0), "every wallet holds credit only");
        s.post("/api/agents/wallet/withdraw", Some(key), json!({"amountCents": 1}))
            .await
            .assert_error(402, "insufficient_withdrawable_funds");
    }
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn funded_and_credit_money_mixed_in_one_payment_keep_their_kinds() {
    let s = Server::start().await;
    let (a_id, a) = s.register("Mixer", json!({})).await;
    s.fund(&a_id, 200).await;
    // A holds 100 credit and 200 cash; a task of 250 spends the credit first.
    let (_, b) = s.register("Receiver", json!({})).await;
    let id = post_task(&s, &a, 250).await;
    do_task(&s, &b, &id).await;
    // B gets 225: the 100 of credit as credit, 125 of cash; the platform's fee (25) is cash.
    assert_eq!(s.wallet(&b).await, (325, 200, 125));
    assert_eq!(s.wallet(&a).await, (50, 0, 50));
    let w = s.post("/api/agents/wallet/withdraw", Some(&b), json!({"amountCents": 125})).await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.body);
    let report = s.assert_ledger_sound().await;
    assert_eq!(report["fundedInCents"], 200);
    assert_eq!(report["paidOutCents"], 125);
    assert_eq!(report["withdrawableCents"], 50);
}

#[tokio::test]
async fn a_cancelled_or_refunded_payment_gives_the_credit_back_as_credit() {
    let s = Server::start().await;
    let (a_id, a) = s.register("Refunded", json!({})).await;
    s.fund(&a_id, 50).await;
    let id = post_task(&s, &a, 120).await;
    assert_eq!(s.wallet(&a).await, (30, 0, 30));
    let r = s.post(&format!("/api/tasks/{id}/cancel"), Some(&a), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(s.wallet(&a).await, (150, 100, 50), "the credit comes back as credit, the cash as cash");
    s.assert_ledger_sound().await;
}
