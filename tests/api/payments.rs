//! Payments end to end: checkouts through the built-in test provider (its page and pay
//! button) and through Stripe (a local fake of its API, events signed as Stripe signs them),
//! credited exactly once however often the callback arrives; forged callbacks refused; saved
//! cards charged for top-ups and auto pay; payout onboarding and payouts; Tokaroo's billing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agora_e2e::fixtures::stripe::{self, FakeStripe};
use agora_e2e::{browser, eventually, press_pay, Options, Reply, Server, StatusCode, TestHttp};
use serde_json::{json, Value};

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn stripe_options(fake: &FakeStripe) -> Options {
    Options::default()
        .env("AGORA_PAYMENT_PROVIDER", "stripe")
        .env("AGORA_STRIPE_API_URL", &fake.url)
        .env("AGORA_STRIPE_SECRET_KEY", stripe::SECRET_KEY)
        .env("AGORA_STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET)
}

async fn checkout(s: &Server, key: &str, cents: i64) -> Value {
    let r = s.post("/api/agents/wallet/deposit/checkout", Some(key), json!({"amountCents": cents})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// Pays a new test-provider checkout of `cents` with `card`.
async fn pay_test_checkout(s: &Server, key: &str, cents: i64, card: &str) {
    let c = checkout(s, key, cents).await;
    assert_eq!(press_pay(c["checkoutUrl"].as_str().unwrap(), card).await.status(), 303);
}

async fn deposits(s: &Server, key: &str) -> Vec<Value> {
    let w = s.get("/api/agents/wallet", Some(key)).await;
    w.body["transactions"].as_array().unwrap().iter().filter(|t| t["type"] == "DEPOSIT").cloned().collect()
}

async fn post_raw(s: &Server, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut req = s.http.post(s.url(path)).header("content-type", "application/json").body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    Reply::from(req.send().await.unwrap()).await
}

#[tokio::test]
async fn a_test_checkout_paid_five_times_credits_once_as_funded_money() {
    let s = Server::start().await;
    let (_, key) = s.register(&agora_e2e::random_name("payer"), json!({})).await;
    let (balance, _, withdrawable) = s.wallet(&key).await;

    let body = json!({"amountCents": 5000});
    let r = s.post_idempotent("/api/agents/wallet/deposit/checkout", &key, "checkout-1", body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = r.body["checkoutUrl"].as_str().unwrap().to_string();
    let checkout_id = r.body["checkoutId"].as_str().unwrap().to_string();
    assert!(url.starts_with(&s.url("/pay/test/checkout/")), "{url}");
    assert!(r.body["sessionId"].as_str().unwrap().starts_with("cs_test_"));
    assert_eq!(r.body["amountCents"], 5000);
    let again = s.post_idempotent("/api/agents/wallet/deposit/checkout", &key, "checkout-1", body).await;
    assert!(again.replayed());
    assert_eq!(again.body["checkoutId"], checkout_id.as_str(), "a retried request makes no second checkout");

    let page = s.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Pay $50.00"), "{page}");
    for _ in 0..5 {
        let paid = press_pay(&url, "4242").await;
        assert_eq!(paid.status(), 303);
        let to = paid.headers()["location"].to_str().unwrap();
        assert_eq!(to, s.url(&format!("/pay/done?checkout={checkout_id}")));
    }

    let (after, _, withdrawable_after) = s.wallet(&key).await;
    assert_eq!(after, balance + 5000, "credited once");
    assert_eq!(withdrawable_after, withdrawable + 5000, "a payment is funded money");
    let status = s.get(&format!("/api/agents/wallet/deposit/checkout/{checkout_id}"), Some(&key)).await;
    assert_eq!(status.body["checkout"]["status"], "paid", "{}", status.body);
    let deposits = deposits(&s, &key).await;
    assert_eq!(deposits.len(), 1);
    assert_eq!(deposits[0]["refId"], checkout_id.as_str());
    assert_eq!(status.body["checkout"]["transactionId"], deposits[0]["id"]);
    let page = s.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("is paid") && !page.contains("<form"), "{page}");

    let (_, stranger) = s.register(&agora_e2e::random_name("stranger"), json!({})).await;
    let path = format!("/api/agents/wallet/deposit/checkout/{checkout_id}");
    s.get(&path, Some(&stranger)).await.assert_error(404, "not_found");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn forged_callbacks_and_bad_checkouts_are_refused_and_move_nothing() {
    let s = Server::start().await;
    let (_, key) = s.register(&agora_e2e::random_name("payer"), json!({})).await;
    let before = s.wallet(&key).await;
    let c = checkout(&s, &key, 2000).await;
    let forged = json!({"type": "checkout.paid", "checkout_id": c["checkoutId"], "provider_ref": c["sessionId"],
        "amount_cents": 2000, "currency": "usd"})
    .to_string();
    let stamp = format!("t={},v1={}", now(), "ab".repeat(32));
    let bad_signature = post_raw(&s, "/api/payments/callback/test", &[("agora-test-signature", &stamp)], &forged).await;
    bad_signature.assert_error(400, "invalid_signature");
    post_raw(&s, "/api/payments/callback/test", &[], &forged).await.assert_error(400, "invalid_signature");
    // Signed with a secret anyone could guess, the way Stripe events are: still refused.
    let guessed = stripe::sign("whsec_guess", now(), &forged);
    let r = post_raw(&s, "/api/payments/callback/test", &[("agora-test-signature", &guessed)], &forged).await;
    r.assert_error(400, "invalid_signature");
    let r = post_raw(&s, "/api/payments/callback/stripe", &[("stripe-signature", &guessed)], &forged).await;
    r.assert_error(404, "not_found");
    assert_eq!(s.wallet(&key).await, before, "nothing credited");
    let path = format!("/api/agents/wallet/deposit/checkout/{}", c["checkoutId"].as_str().unwrap());
    assert_eq!(s.get(&path, Some(&key)).await.body["checkout"]["status"], "open");

    let start = |body: Value| s.post("/api/agents/wallet/deposit/checkout", Some(&key), body);
    start(json!({"amountCents": 0})).await.assert_error(422, "validation_error");
    start(json!({"amountCents": 99})).await.assert_error(422, "validation_error");
    start(json!({"amountCents": 1_000_001})).await.assert_error(422, "validation_error");
    start(json!({"amountCents": "ten"})).await.assert_error(422, "validation_error");
    start(json!({})).await.assert_error(422, "validation_error");
    start(json!({"amountCents": 500, "successUrl": "javascript:alert(1)"})).await.assert_error(422, "validation_error");
    let r = s.post("/api/agents/wallet/deposit/checkout", None, json!({"amountCents": 500})).await;
    r.assert_error(401, "unauthorized");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn stripe_checkouts_are_credited_once_per_signed_event() {
    let fake = FakeStripe::start().await;
    let s = Server::start_with(stripe_options(&fake)).await;
    let (_, key) = s.register(&agora_e2e::random_name("payer"), json!({})).await;
    let before = s.wallet(&key).await;

    let c = checkout(&s, &key, 2500).await;
    let (session_id, checkout_id) = (c["sessionId"].as_str().unwrap(), c["checkoutId"].as_str().unwrap());
    assert!(session_id.starts_with("cs_test_"));
    assert_eq!(c["checkoutUrl"], fake.session(session_id)["url"]);
    let made = fake.requests_to("POST /v1/checkout/sessions");
    let (form, idempotency_key) = &made[0];
    assert_eq!(form["client_reference_id"], checkout_id);
    assert_eq!(form["line_items[0][price_data][unit_amount]"], "2500");
    assert_eq!(form["line_items[0][price_data][currency]"], "usd");
    assert_eq!(form["payment_intent_data[setup_future_usage]"], "off_session");
    assert_eq!(form["mode"], "payment");
    assert_eq!(idempotency_key.as_deref(), Some(checkout_id));
    checkout(&s, &key, 700).await;
    assert_eq!(fake.requests_to("POST /v1/customers").len(), 1, "one customer per agent");

    let session = fake.paid_session(session_id, "pm_card_visa");
    let (body, signature) =
        FakeStripe::event("checkout.session.completed", session.clone(), stripe::WEBHOOK_SECRET, now());
    let callback = "/api/payments/callback/stripe";
    let (_, wrong_secret) = FakeStripe::event("checkout.session.completed", session, "whsec_wrong", now());
    post_raw(&s, callback, &[("stripe-signature", &wrong_secret)], &body).await.assert_error(400, "invalid_signature");
    let tampered = body.replace("2500", "250000");
    post_raw(&s, callback, &[("stripe-signature", &signature)], &tampered).await.assert_error(400, "invalid_signature");
    let stale = stripe::sign(stripe::WEBHOOK_SECRET, now() - 600, &body);
    post_raw(&s, callback, &[("stripe-signature", &stale)], &body).await.assert_error(400, "invalid_signature");
    assert_eq!(s.wallet(&key).await, before);

    // Five deliveries of the same event at once: one credits.
    let headers = [("stripe-signature", signature.as_str())];
    let sends = (0..5).map(|_| post_raw(&s, callback, &headers, &body));
    let replies = futures::future::join_all(sends).await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_eq!(replies.iter().filter(|r| r.body["credited"] == true).count(), 1);
    let late = post_raw(&s, callback, &[("stripe-signature", &signature)], &body).await;
    assert_eq!(late.body["credited"], false);
    let (balance, _, withdrawable) = s.wallet(&key).await;
    assert_eq!((balance, withdrawable), (before.0 + 2500, before.2 + 2500));

    let card = s.get("/v1/billing/card", Some(&key)).await;
    assert_eq!(card.body["card"], json!({"brand": "visa", "last4": "4242", "exp_month": 4, "exp_year": 2031}));
    // Events it does not act on, and checkouts it does not know, are acknowledged.
    let (other, signed) = FakeStripe::event("invoice.paid", json!({"id": "in_1"}), stripe::WEBHOOK_SECRET, now());
    let r = post_raw(&s, callback, &[("stripe-signature", &signed)], &other).await;
    assert_eq!((r.status, r.body["credited"].clone()), (StatusCode::OK, json!(false)));
    let unknown = json!({"id": "cs_x", "client_reference_id": "nope", "amount_total": 100, "currency": "usd",
        "payment_status": "paid"});
    let (other, signed) = FakeStripe::event("checkout.session.completed", unknown, stripe::WEBHOOK_SECRET, now());
    let r = post_raw(&s, callback, &[("stripe-signature", &signed)], &other).await;
    assert_eq!((r.status, r.body["credited"].clone()), (StatusCode::OK, json!(false)));
    assert_eq!(s.wallet(&key).await.0, before.0 + 2500);

    fake.set_down(true);
    let r = s.post("/api/agents/wallet/deposit/checkout", Some(&key), json!({"amountCents": 900})).await;
    r.assert_error(502, "provider_unavailable");
    s.assert_ledger_sound().await;
}

/// An agent on the Stripe fake that paid a checkout of `cents` with `card`; its key.
async fn stripe_payer(s: &Server, fake: &FakeStripe, cents: i64, card: &str) -> String {
    let (_, key) = s.register(&agora_e2e::random_name("payer"), json!({})).await;
    let c = checkout(s, &key, cents).await;
    let session = fake.paid_session(c["sessionId"].as_str().unwrap(), card);
    let (body, signature) = FakeStripe::event("checkout.session.completed", session, stripe::WEBHOOK_SECRET, now());
    let r = post_raw(s, "/api/payments/callback/stripe", &[("stripe-signature", &signature)], &body).await;
    assert_eq!(r.body["credited"], true, "{}", r.body);
    key
}

#[tokio::test]
async fn stripe_charges_saved_cards_and_pays_out_to_onboarded_accounts() {
    let fake = FakeStripe::start().await;
    let s = Server::start_with(stripe_options(&fake)).await;
    let key = stripe_payer(&s, &fake, 3000, "pm_card_visa").await;
    let before = s.wallet(&key).await.0;

    let add = |k: &'static str| s.post_idempotent("/v1/billing/add", &key, k, json!({"amount_usd": 12.5}));
    let r = add("top-up-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"ok": true, "balance_usd": (before + 1250) as f64 / 100.0, "activated_key": null}));
    let replay = add("top-up-1").await;
    assert!(replay.replayed());
    assert_eq!(replay.body, r.body);
    let intents = fake.requests_to("POST /v1/payment_intents");
    assert_eq!(intents.len(), 1, "the retried request charged nothing more");
    let (form, idempotency_key) = &intents[0];
    assert_eq!((form["amount"].as_str(), form["payment_method"].as_str()), ("1250", "pm_card_visa"));
    assert_eq!((form["off_session"].as_str(), form["confirm"].as_str()), ("true", "true"));
    assert!(idempotency_key.is_some());
    assert_eq!(s.wallet(&key).await.0, before + 1250);

    let r = s.post("/api/agents/connect", Some(&key), json!({"returnUrl": "https://example.com/done"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let account = r.body["stripeAccountId"].as_str().unwrap().to_string();
    assert!(r.body["onboardingUrl"].as_str().unwrap().ends_with(&account));
    let link = &fake.requests_to("POST /v1/account_links")[0].0;
    assert_eq!((link["account"].as_str(), link["return_url"].as_str()), (account.as_str(), "https://example.com/done"));
    let status = s.get("/api/agents/connect", Some(&key)).await;
    assert_eq!((status.body["connected"].clone(), status.body["payoutsEnabled"].clone()), (json!(true), json!(false)));

    let withdraw = json!({"amountCents": 1000});
    s.post("/api/agents/wallet/withdraw", Some(&key), withdraw.clone()).await.assert_error(409, "payouts_not_enabled");
    assert_eq!(s.wallet(&key).await.0, before + 1250, "nothing left the wallet");

    let updated = fake.finish_onboarding(&account);
    let (body, signature) = FakeStripe::event("account.updated", updated, stripe::WEBHOOK_SECRET, now());
    let r = post_raw(&s, "/api/payments/callback/stripe", &[("stripe-signature", &signature)], &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let status = s.get("/api/agents/connect", Some(&key)).await;
    assert_eq!(status.body["payoutsEnabled"], true, "{}", status.body);
    assert_eq!(status.body["onboarded"], true);

    let r = s.post("/api/agents/wallet/withdraw", Some(&key), withdraw).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The answer is recorded with the money's move, before the provider is asked: pending.
    let payout_id = r.body["withdrawal"]["payoutId"].as_str().unwrap();
    let payouts = s.get("/api/agents/wallet/payouts", Some(&key)).await;
    let payout = &payouts.body["payouts"][0];
    assert_eq!((payout["id"].as_str(), payout["status"].as_str()), (Some(payout_id), Some("paid")), "{}", payouts.body);
    assert_eq!(payout["provider"], "stripe");
    let transfers = fake.requests_to("POST /v1/transfers");
    let (form, idempotency_key) = &transfers[0];
    assert_eq!((form["destination"].as_str(), form["amount"].as_str()), (account.as_str(), "1000"));
    assert_eq!(idempotency_key.as_deref(), Some(payout_id));

    let declining = stripe_payer(&s, &fake, 500, stripe::DECLINING_CARD).await;
    let balance = s.wallet(&declining).await.0;
    let r = s.post("/v1/billing/add", Some(&declining), json!({"amount_usd": 5})).await;
    r.assert_error(402, "payment_failed");
    assert_eq!(s.wallet(&declining).await.0, balance);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_asked_again_and_credited_once() {
    let fake = FakeStripe::start().await;
    let s = Server::start_with(stripe_options(&fake).env("AGORA_CHARGE_SETTLE_AFTER_MS", "300")).await;
    let key = stripe_payer(&s, &fake, 1000, "pm_card_visa").await;
    let before = s.wallet(&key).await.0;

    fake.set_losing_answers(true);
    let r = s.post("/v1/billing/add", Some(&key), json!({"amount_usd": 7})).await;
    r.assert_error(502, "charge_pending");
    assert_eq!(s.wallet(&key).await.0, before, "nothing is credited without the provider's answer");
    fake.set_losing_answers(false);

    let after = eventually("the pending charge settled", Duration::from_secs(10), || async {
        let now = s.wallet(&key).await.0;
        (now != before).then_some(now)
    })
    .await;
    assert_eq!(after, before + 700);
    let asked = fake.requests_to("POST /v1/payment_intents");
    assert!(asked.len() >= 2, "asked again: {asked:?}");
    assert!(asked.iter().all(|(_, k)| k.is_some() && *k == asked[0].1), "always with the same key: {asked:?}");
    assert_eq!(deposits(&s, &key).await.len(), 2, "the checkout and the charge, once each");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn tokaroo_billing_activation_and_auto_pay_on_the_test_provider() {
    let options = Options::default()
        .env("AGORA_AUTOPAY_CHECK_MS", "200")
        .env("AGORA_ALLOW_PRIVATE_HTTP", "true")
        .env("AGORA_ALLOW_INSECURE_URLS", "true");
    let s = Server::start_with(options).await;
    let (_, key) = s.register(&agora_e2e::random_name("account"), json!({})).await;
    let cents = s.wallet(&key).await.0;
    let balance = s.get("/v1/balance", Some(&key)).await;
    assert_eq!(balance.body, json!({"balance_usd": cents as f64 / 100.0, "currency": "usd"}));

    let activation = s.get("/v1/billing/activation", Some(&key)).await;
    assert_eq!(
        activation.body["missing_requirements"],
        json!(["payment", "saved_card", "auto_pay", "terms_acceptance"])
    );
    assert_eq!(activation.body["ready_for_first_key"], false);

    let r = s.post("/v1/billing/checkout", Some(&key), json!({"amount_usd": 25})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["session_id"].as_str().unwrap().starts_with("cs_test_"));
    assert_eq!(press_pay(r.body["url"].as_str().unwrap(), "4242").await.status(), 303);
    let cents = cents + 2500;
    assert_eq!(s.get("/v1/balance", Some(&key)).await.body["balance_usd"], json!(cents as f64 / 100.0));
    assert_eq!(s.get("/v1/billing/card", Some(&key)).await.body["card"]["last4"], "4242");

    let put = |body: Value| s.request("PUT", "/v1/billing/autopay", Some(&key), Some(body));
    put(json!({"amount_usd": -1})).await.assert_error(422, "validation_error");
    put(json!({"amount_usd": 1.234})).await.assert_error(422, "validation_error");
    put(json!({"enabled": true})).await.assert_error(422, "validation_error");
    let r = put(json!({"enabled": true, "amount_usd": 10, "threshold_usd": 5})).await;
    assert_eq!(r.body, json!({"enabled": true, "amount_usd": 10.0, "threshold_usd": 5.0}), "{}", r.body);

    s.post("/v1/billing/activation/accept", Some(&key), json!({"accepted": false}))
        .await
        .assert_error(422, "validation_error");
    let r = s.post("/v1/billing/activation/accept", Some(&key), json!({"accepted": true})).await;
    assert_eq!(r.body["activation"]["missing_requirements"], json!([]), "{}", r.body);
    assert_eq!(r.body["activation"]["ready_for_first_key"], true);
    assert_eq!(r.body["activation"]["activation_terms_accepted"], true);
    assert_eq!(
        (r.body["activation"]["key_count"].clone(), r.body["activation"]["has_api_key"].clone()),
        (json!(0), json!(false))
    );
    assert_eq!(s.post("/v1/keys", Some(&key), json!({})).await.status, StatusCode::OK);
    let activation = s.get("/v1/billing/activation", Some(&key)).await.body;
    assert_eq!(
        (activation["key_count"].clone(), activation["requires_first_key_activation"].clone()),
        (json!(1), json!(false))
    );

    // Below the threshold, auto pay tops up once: the balance ends above it.
    let threshold = cents + 100;
    put(json!({"threshold_usd": threshold as f64 / 100.0})).await;
    let topped = eventually("auto pay", Duration::from_secs(10), || async {
        let now = s.wallet(&key).await.0;
        (now > cents).then_some(now)
    })
    .await;
    assert_eq!(topped, cents + 1000);
    assert_eq!(deposits(&s, &key).await[0]["description"], "Auto pay from the saved card");
    put(json!({"enabled": false})).await;

    // A direct top-up without an amount uses the auto pay amount.
    let r = s.post("/v1/billing/add", Some(&key), json!({})).await;
    assert_eq!(r.body["balance_usd"], json!((topped + 1000) as f64 / 100.0), "{}", r.body);
    let r = s.request("DELETE", "/v1/billing/card", Some(&key), None).await;
    assert_eq!(r.body, json!({"ok": true}));
    assert_eq!(s.get("/v1/billing/card", Some(&key)).await.body["card"], Value::Null);
    s.post("/v1/billing/add", Some(&key), json!({"amount_usd": 5})).await.assert_error(402, "no_card");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_declined_auto_pay_is_told_to_the_agent_and_moves_nothing() {
    let options = Options::default()
        .env("AGORA_AUTOPAY_CHECK_MS", "200")
        .env("AGORA_ALLOW_PRIVATE_HTTP", "true")
        .env("AGORA_ALLOW_INSECURE_URLS", "true");
    let s = Server::start_with(options).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], "ok".into())).await;
    let (_, key) = s.register(&agora_e2e::random_name("account"), json!({})).await;
    s.post("/api/agents/me/webhooks", Some(&key), json!({"webhookUrl": receiver.url("/hook")})).await;
    pay_test_checkout(&s, &key, 500, "0341").await;
    let balance = s.wallet(&key).await.0;
    let r = s
        .request(
            "PUT",
            "/v1/billing/autopay",
            Some(&key),
            Some(json!({"enabled": true, "amount_usd": 20, "threshold_usd": 100})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let events: Vec<Value> = eventually("the payment webhooks", Duration::from_secs(10), || async {
        let seen = receiver.seen.lock().unwrap();
        let events: Vec<Value> = seen.iter().map(|(_, _, b)| serde_json::from_str(b).unwrap()).collect();
        events.iter().any(|e| e["event"] == "payment.failed").then_some(events)
    })
    .await;
    let failed = events.iter().find(|e| e["event"] == "payment.failed").unwrap();
    assert_eq!(failed["data"]["amountCents"], 2000);
    assert_eq!(failed["data"]["reason"], "autopay");
    assert_eq!(s.wallet(&key).await.0, balance, "nothing was credited");
    let succeeded: Vec<_> = events.iter().filter(|e| e["event"] == "payment.succeeded").collect();
    assert!(succeeded.len() <= 1 && succeeded.iter().all(|e| e["data"]["amountCents"] == 500), "{events:?}");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn test_onboarding_enables_payouts() {
    let s = Server::start().await;
    let (_, key) = s.register(&agora_e2e::random_name("seller"), json!({})).await;
    let status = s.get("/api/agents/connect", Some(&key)).await;
    assert_eq!(status.body["connected"], false, "{}", status.body);

    let r = s.request("POST", "/api/agents/connect", Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let account = r.body["stripeAccountId"].as_str().unwrap().to_string();
    let url = r.body["onboardingUrl"].as_str().unwrap().to_string();
    assert!(url.starts_with(&s.url(&format!("/pay/test/connect/{account}"))), "{url}");
    let status = s.get("/api/agents/connect", Some(&key)).await;
    assert_eq!((status.body["connected"].clone(), status.body["payoutsEnabled"].clone()), (json!(true), json!(false)));

    let page = s.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Finish onboarding"), "{page}");
    let done = browser().post(&url).form(&[("return_url", "https://example.com/back")]).send().await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("https://example.com/back"));
    let status = s.get("/api/agents/connect", Some(&key)).await;
    assert_eq!(status.body["payoutsEnabled"], true, "{}", status.body);
    assert_eq!(status.body["stripeAccountId"], account.as_str());
    let again = s.request("POST", "/api/agents/connect", Some(&key), None).await;
    assert_eq!(again.body["stripeAccountId"], account.as_str(), "one payout account per agent");
}
