//! Skills end to end: listing and browsing, buying under each pricing model, licence keys
//! checked online (`/api/skills/verify`) and offline (signed tokens), subscriptions renewed and
//! expired with the host's clock moved forward, and components calling licensed skills
//! (`skills.call`) and hiring agents (`marketplace.hire`) with every cent accounted for.

use agora_e2e::{eventually, guest, pay_checkout, Options, Publisher, Server, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;

fn options() -> Options {
    Options::default()
        .env("AGORA_TEST_CLOCK", "true")
        .env("AGORA_MARKETPLACE_SWEEP_MS", "50")
        .env("AGORA_EXECUTION_RETENTION_DAYS", "3650")
}

/// A `skill` component of the author's: the `markdown` guest.
async fn skill_component(s: &Server, p: &Publisher, name: &str) -> String {
    let r = s.publish(p, &guest("markdown"), "skill", name, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["component"]["id"].as_str().unwrap().to_string()
}

fn listing(title: &str, model: &str, price: i64, source: Value) -> Value {
    let mut body = json!({"title": title, "description": format!("{title}, for tests"), "category": "writing",
        "tags": ["markdown"], "compatibility": ["agora", "langchain"], "version": "1.0.0",
        "pricingModel": model, "priceCents": price});
    body.as_object_mut().unwrap().extend(source.as_object().unwrap().clone());
    body
}

async fn list(s: &Server, key: &str, body: Value) -> String {
    let r = s.post("/api/skills", Some(key), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["skill"]["id"].as_str().unwrap().to_string()
}

async fn buy(s: &Server, key: &str, skill: &str) -> agora_e2e::Reply {
    s.post(&format!("/api/skills/{skill}/purchase"), Some(key), json!({})).await
}

async fn verify(s: &Server, key: &str) -> agora_e2e::Reply {
    let resp =
        reqwest::Client::new().get(s.url("/api/skills/verify")).header("X-License-Key", key).send().await.unwrap();
    agora_e2e::Reply::from(resp).await
}

async fn advance(s: &Server, ms: i64) {
    let r = s.post("/api/admin/clock", Some(&s.operator_key), json!({"advanceMs": ms})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

fn fee(gross: i64) -> i64 {
    gross / 10
}

#[tokio::test]
async fn skills_are_listed_described_browsed_and_delisted() {
    let server = Server::start().await;
    let s = &server;
    let (author, author_key) = s.register("SkillSmith", json!({})).await;
    let p = s.publisher(&author_key).await;
    let component = skill_component(s, &p, "markdown").await;
    let url = json!({"downloadUrl": "https://skills.example/scraper.tar.gz"});

    // What is refused, before anything is written.
    let with = |v: Value| listing("Markdown", "PER_CALL", 20, v);
    s.post("/api/skills", Some(&author_key), with(json!({}))).await.assert_error(422, "validation_error");
    let both = json!({"componentId": component, "downloadUrl": "https://skills.example/x"});
    s.post("/api/skills", Some(&author_key), with(both)).await.assert_error(422, "validation_error");
    s.post("/api/skills", Some(&author_key), listing("Free", "FREE", 5, url.clone()))
        .await
        .assert_error(422, "validation_error");
    s.post("/api/skills", Some(&author_key), listing("X", "PER_CALL", 0, url.clone()))
        .await
        .assert_error(422, "validation_error");
    s.post("/api/skills", Some(&author_key), listing("X", "MONTHLY", 5, url.clone()))
        .await
        .assert_error(422, "validation_error");
    let (_, other_key) = s.register("Other", json!({})).await;
    s.post("/api/skills", Some(&other_key), with(json!({"componentId": component})))
        .await
        .assert_error(422, "invalid_component");
    let (_, _, agent_component) = s.component_agent("echo", 0, json!({})).await;
    s.post("/api/skills", Some(&author_key), with(json!({"componentId": agent_component})))
        .await
        .assert_error(422, "invalid_component");

    let markdown = list(s, &author_key, with(json!({"componentId": component}))).await;
    let scraper = list(s, &author_key, listing("Web Scraper Pro", "ONE_TIME", 2500, url.clone())).await;
    let r = s
        .post(
            "/api/skills",
            Some(&other_key),
            json!({"title": "Daily digest", "category": "research",
        "compatibility": ["crewai"], "version": "0.1.0", "pricingModel": "SUBSCRIPTION", "priceCents": 300,
        "downloadUrl": "https://digest.example/d"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // The listing shows what the component is and may do, from the component itself.
    let d = s.get(&format!("/api/skills/{markdown}"), None).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    let skill = &d.body["skill"];
    assert_eq!(skill["pricingModel"], "PER_CALL");
    assert_eq!(skill["author"]["id"], author.as_str());
    assert!(skill["component"]["digest"].as_str().unwrap().starts_with("sha256:"), "{skill}");
    assert_eq!(skill["component"]["signatureStatus"], "verified");
    assert_eq!(
        skill["component"]["capabilities"],
        json!({"kv": false, "http": [], "skills": false, "marketplace": false, "llm": false, "messaging": false})
    );
    assert_eq!(skill["describe"]["name"], "markdown", "{skill}");
    assert!(skill["describe"]["inputSchema"].as_str().unwrap().contains("markdown"), "{skill}");

    // Toku's browse: filters, shape, categories.
    let browse = |q: &'static str| async move { s.get(&format!("/api/skills{q}"), None).await };
    let all = browse("").await;
    assert_eq!(all.body["pagination"], json!({"page": 1, "limit": 20, "total": 3}), "{}", all.body);
    assert_eq!(all.body["categories"], json!(["research", "writing"]));
    let ids = |r: &agora_e2e::Reply| -> Vec<String> {
        r.body["skills"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&browse("?category=writing&sort=price_high").await), vec![scraper.clone(), markdown.clone()]);
    assert_eq!(ids(&browse("?compatibility=langchain&pricingModel=PER_CALL").await), vec![markdown.clone()]);
    assert_eq!(ids(&browse("?compatibility=lang").await), Vec::<String>::new(), "a whole framework name only");
    assert_eq!(ids(&browse("?q=scraper").await), vec![scraper.clone()]);
    assert_eq!(browse("?limit=1&page=2&sort=newest").await.body["skills"].as_array().unwrap().len(), 1);
    browse("?sort=random").await.assert_error(422, "validation_error");
    browse("?page=0").await.assert_error(422, "validation_error");

    // Only the author edits; a new version points at a new component.
    let patch = |key: &str, body: Value| {
        let (key, path) = (key.to_string(), format!("/api/skills/{markdown}"));
        async move { s.request("PATCH", &path, Some(&key), Some(body)).await }
    };
    patch(&other_key, json!({"title": "Mine now"})).await.assert_error(404, "not_found");
    let v2 = skill_component(s, &p, "markdown-two").await;
    let r = patch(&author_key, json!({"version": "2.0.0", "componentId": v2})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["skill"]["component"]["id"], v2.as_str());
    assert_eq!(r.body["skill"]["version"], "2.0.0");

    // Delisted: off the market, not for sale, still shown by id and to its author.
    let (_, buyer_key) = s.buyer(0).await;
    let r = s.request("DELETE", &format!("/api/skills/{scraper}"), Some(&author_key), None).await;
    assert_eq!(r.body["skill"]["listed"], false, "{}", r.body);
    assert!(!ids(&browse("").await).contains(&scraper));
    assert!(ids(&s.get(&format!("/api/skills?authorId={author}"), Some(&author_key)).await).contains(&scraper));
    buy(s, &buyer_key, &scraper).await.assert_error(409, "skill_delisted");
    buy(s, &buyer_key, "no-such-skill").await.assert_error(404, "not_found");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn each_pricing_model_is_bought_and_its_key_verified() {
    let server = Server::start_with(options()).await;
    let s = &server;
    let (_, author_key) = s.register("Licensor", json!({})).await;
    let p = s.publisher(&author_key).await;
    let url = |name: &str| json!({"downloadUrl": format!("https://skills.example/{name}")});
    let free = list(s, &author_key, listing("Free tool", "FREE", 0, url("free"))).await;
    let once = list(s, &author_key, listing("Scraper", "ONE_TIME", 500, url("scraper"))).await;
    let monthly = list(s, &author_key, listing("Digest", "SUBSCRIPTION", 300, url("digest"))).await;
    let component = skill_component(s, &p, "markdown").await;
    let per_call = list(s, &author_key, listing("Markdown", "PER_CALL", 20, json!({"componentId": component}))).await;
    let (buyer, buyer_key) = s.buyer(1_000).await;

    let r = buy(s, &buyer_key, &free).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["free"], true);
    assert_eq!(r.body["purchase"]["status"], "active");
    let free_key = r.body["purchase"]["licenseKey"].as_str().unwrap().to_string();
    assert!(free_key.starts_with("sk_"), "{free_key}");
    assert_eq!(s.balance(&buyer_key).await, 1_100);

    // Paid once, with an Idempotency-Key: a retry answers the same and charges nothing more.
    let r = s.post_idempotent(&format!("/api/skills/{once}/purchase"), &buyer_key, "buy-once", json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["free"], false);
    let again = s.post_idempotent(&format!("/api/skills/{once}/purchase"), &buyer_key, "buy-once", json!({})).await;
    assert!(again.replayed());
    assert_eq!(again.body["purchase"]["licenseKey"], r.body["purchase"]["licenseKey"]);
    let once_key = r.body["purchase"]["licenseKey"].as_str().unwrap().to_string();
    let once_license = r.body["purchase"]["id"].as_str().unwrap().to_string();
    assert_eq!(s.balance(&buyer_key).await, 600);
    assert_eq!(s.balance(&author_key).await, 100 + 500 - fee(500));
    buy(s, &buyer_key, &once).await.assert_error(409, "already_licensed");
    buy(s, &author_key, &once).await.assert_error(422, "own_skill");

    let r = buy(s, &buyer_key, &monthly).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body["purchase"]["expiresAt"].is_string(), "{}", r.body);
    let monthly_key = r.body["purchase"]["licenseKey"].as_str().unwrap().to_string();
    assert_eq!(s.balance(&buyer_key).await, 300);

    let r = buy(s, &buyer_key, &per_call).await;
    assert_eq!(r.body["free"], true, "a per-call licence costs nothing; its calls do: {}", r.body);
    assert_eq!(s.balance(&buyer_key).await, 300);

    // Verify: Toku's answers.
    let ok = verify(s, &once_key).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["valid"], true);
    assert_eq!(ok.body["status"], "active");
    assert_eq!(ok.body["skill"], json!({"id": once, "title": "Scraper", "version": "1.0.0"}));
    assert_eq!(ok.body["buyer"]["id"], buyer.as_str());
    assert_eq!(ok.body["pricingModel"], "ONE_TIME");
    let by_query = s.get(&format!("/api/skills/verify?key={free_key}"), None).await;
    assert_eq!(by_query.status, StatusCode::OK, "{}", by_query.body);
    let made_up = verify(s, "sk_madeupmadeupmadeupmadeupmadeupmadeupmade").await;
    assert_eq!(made_up.status, StatusCode::FORBIDDEN);
    assert_eq!(made_up.body, json!({"valid": false, "error": "Invalid license key", "status": "invalid"}));
    assert_eq!(verify(s, "").await.body["status"], "invalid");

    // Offline: the token in the licence list verifies with the published key.
    let keys = s.get("/api/skills/license-keys", None).await;
    let jwk = &keys.body["keys"][0];
    assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
    let public = agora::skills::tokens::key_from_jwk_x(jwk["x"].as_str().unwrap()).unwrap();
    let mine = s.get("/api/licenses", Some(&buyer_key)).await;
    assert_eq!(mine.body["pagination"]["total"], 4, "{}", mine.body);
    let listed = mine.body["licenses"].as_array().unwrap();
    let once_view = listed.iter().find(|l| l["id"] == once_license.as_str()).unwrap();
    let claims = agora::skills::tokens::verify(once_view["licenseToken"].as_str().unwrap(), &public).unwrap();
    assert_eq!((claims.skill.as_str(), claims.buyer.as_str(), claims.exp), (once.as_str(), buyer.as_str(), None));

    // Rotate: the new key works, the old one is invalid at once.
    let (_, stranger_key) = s.register("Stranger", json!({})).await;
    s.post(&format!("/api/licenses/{once_license}/rotate"), Some(&stranger_key), json!({}))
        .await
        .assert_error(404, "not_found");
    let r = s.post(&format!("/api/licenses/{once_license}/rotate"), Some(&buyer_key), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rotated = r.body["licenseKey"].as_str().unwrap().to_string();
    assert_eq!(verify(s, &once_key).await.body["status"], "invalid");
    assert_eq!(verify(s, &rotated).await.status, StatusCode::OK);

    // Revoke: by the author (a stranger and the buyer are told there is no such licence).
    let revoke = format!("/api/licenses/{once_license}/revoke");
    s.post(&revoke, Some(&stranger_key), json!({})).await.assert_error(404, "not_found");
    s.post(&revoke, Some(&buyer_key), json!({})).await.assert_error(404, "not_found");
    let r = s.post(&revoke, Some(&author_key), json!({"reason": "chargeback"})).await;
    assert_eq!(r.body["license"]["status"], "revoked", "{}", r.body);
    let revoked = verify(s, &rotated).await;
    assert_eq!(revoked.status, StatusCode::FORBIDDEN);
    assert_eq!(
        (revoked.body["status"].as_str(), revoked.body["error"].as_str()),
        (Some("revoked"), Some("License revoked"))
    );
    s.post(&revoke, Some(&author_key), json!({})).await.assert_error(409, "invalid_transition");

    // A month later the subscription renews from the wallet; the next month it cannot.
    advance(s, 31 * DAY_MS).await;
    let renewed = eventually("the renewal", Duration::from_secs(10), || async {
        let b = s.balance(&buyer_key).await;
        (b == 0).then_some(b)
    })
    .await;
    assert_eq!(renewed, 0);
    assert_eq!(verify(s, &monthly_key).await.status, StatusCode::OK);
    advance(s, 31 * DAY_MS).await;
    let expired = eventually("the failed renewal", Duration::from_secs(10), || async {
        let r = verify(s, &monthly_key).await;
        (r.status == StatusCode::FORBIDDEN).then_some(r)
    })
    .await;
    assert_eq!(expired.body, json!({"valid": false, "error": "Subscription expired", "status": "expired"}));
    let licence_notices = || async {
        let inbox = s.get("/api/agents/notifications", Some(&buyer_key)).await;
        let notices = inbox.body["notifications"].as_array().cloned().unwrap_or_default();
        let states: Vec<String> =
            notices.iter().filter(|n| n["type"] == "license").map(|n| n["data"]["status"].to_string()).collect();
        (states.len() == 3).then_some(states)
    };
    let states = eventually("renewed, revoked and expired notices", Duration::from_secs(10), licence_notices).await;
    assert_eq!(states, ["\"expired\"", "\"renewed\"", "\"revoked\""]);
    assert_eq!(s.balance(&author_key).await, 100 + 500 - fee(500) + 2 * (300 - fee(300)));
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_short_wallet_buys_through_a_checkout() {
    let server = Server::start().await;
    let s = &server;
    let (_, author_key) = s.register("Seller", json!({})).await;
    let skill =
        list(s, &author_key, listing("Scraper", "ONE_TIME", 500, json!({"downloadUrl": "https://s.example/s"}))).await;
    let (_, buyer_key) = s.buyer(0).await;
    let r = buy(s, &buyer_key, &skill).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "payment_required");
    assert_eq!(r.body["purchase"]["status"], "pending_payment");
    let key = r.body["purchase"]["licenseKey"].as_str().unwrap().to_string();
    let checkout = r.body["checkoutUrl"].as_str().unwrap().to_string();
    assert_eq!(verify(s, &key).await.body["status"], "pending_payment");
    assert_eq!(s.balance(&buyer_key).await, 100, "nothing is taken before the payment");

    pay_checkout(&checkout).await;
    eventually("the licence paid", Duration::from_secs(10), || async {
        (verify(s, &key).await.status == StatusCode::OK).then_some(())
    })
    .await;
    assert_eq!(s.balance(&author_key).await, 100 + 500 - fee(500));
    assert_eq!(s.balance(&buyer_key).await, 100, "the checkout paid the price, the credits stay");
    s.assert_ledger_sound().await;
}

/// Agents made of guests, with `caps` granted.
async fn agent(s: &Server, guest_name: &str, price: i64, caps: Value) -> (String, String) {
    let (id, key, _) = s.component_agent(guest_name, price, caps).await;
    (id, key)
}

#[tokio::test]
async fn components_call_licensed_skills_and_pay_per_call() {
    let server = Server::start().await;
    let s = &server;
    let (author, author_key) = s.register("MarkdownAuthor", json!({})).await;
    let p = s.publisher(&author_key).await;
    let component = skill_component(s, &p, "markdown").await;
    let skill = list(s, &author_key, listing("Markdown", "PER_CALL", 20, json!({"componentId": component}))).await;
    let (notes, notes_key) = agent(s, "notes", 0, json!({"skills": true})).await;
    s.fund(&notes, 1_000).await;
    let (_, buyer_key) = s.buyer(1_000).await;
    let params = json!({"skill": skill, "times": 2});
    let run = |budget: i64| {
        let body = json!({"agent_id": notes, "task_description": "# Notes\n\nsome *text*", "budget": budget, "params": params});
        let key = buyer_key.clone();
        async move { s.post("/api/execute", Some(&key), body).await }
    };

    // Without a licence the call is denied and nothing is paid for the skill.
    let denied = run(10).await;
    denied.assert_error(422, "guest_error");
    assert!(denied.body["error"]["message"].as_str().unwrap().contains("no active licence"), "{}", denied.body);
    assert_eq!(s.balance(&notes_key).await, 1_100);
    assert_eq!(s.balance(&author_key).await, 100);

    // With one, every call pays the price once.
    assert_eq!(buy(s, &notes_key, &skill).await.status, StatusCode::CREATED);
    let ok = run(10).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body["data"]["result"].as_str().unwrap().contains("<h1>Notes</h1>"), "{}", ok.body);
    let root = ok.body["data"]["execution_id"].as_str().unwrap().to_string();
    let tree = s.get(&format!("/api/executions/{root}/tree"), Some(&buyer_key)).await;
    assert_eq!(tree.status, StatusCode::OK, "{}", tree.body);
    let calls = tree.body["data"]["children"].as_array().unwrap().clone();
    assert_eq!(calls.len(), 2, "{}", tree.body);
    let mut compute = 0;
    for call in &calls {
        assert_eq!(call["skillId"], skill.as_str());
        assert_eq!(call["agentId"], author.as_str());
        assert_eq!(call["buyerId"], notes.as_str());
        assert_eq!(call["status"], "succeeded");
        assert_eq!(call["cost"]["price_cents"], 20);
        compute += call["cost"]["compute_cents"].as_i64().unwrap();
    }
    let root_cost = tree.body["data"]["cost"]["price_cents"].as_i64().unwrap()
        + tree.body["data"]["cost"]["compute_cents"].as_i64().unwrap();
    assert_eq!(tree.body["data"]["totalCents"], root_cost + 40 + compute, "{}", tree.body);
    assert_eq!(s.balance(&notes_key).await, 1_100 - 2 * 20 - compute);
    assert_eq!(s.balance(&author_key).await, 100 + 2 * (20 - fee(20)));
    s.get(&format!("/api/executions/{root}/tree"), Some(&author_key)).await.assert_error(404, "not_found");
    let child = calls[0]["id"].as_str().unwrap();
    let record = s.get(&format!("/api/executions/{child}"), Some(&notes_key)).await;
    assert_eq!(record.body["data"]["parent_id"], root.as_str(), "{}", record.body);

    // Revoked: the next call is denied again, and costs nothing.
    let license =
        s.get("/api/licenses", Some(&notes_key)).await.body["licenses"][0]["id"].as_str().unwrap().to_string();
    let r = s.post(&format!("/api/licenses/{license}/revoke"), Some(&author_key), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let before = (s.balance(&notes_key).await, s.balance(&author_key).await);
    run(10).await.assert_error(422, "guest_error");
    assert_eq!((s.balance(&notes_key).await, s.balance(&author_key).await), before);

    // A component not granted `skills` is stopped at its first call.
    let (plain, _) = agent(s, "notes", 0, json!({})).await;
    let body = json!({"agent_id": plain, "task_description": "# hi", "budget": 10, "params": params});
    s.post("/api/execute", Some(&buyer_key), body).await.assert_error(422, "capability_denied");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn components_hire_agents_in_a_tree_whose_costs_add_up() {
    let server = Server::start_with(Options::default().env("AGORA_NESTED_CALL_MAX_DEPTH", "2")).await;
    let s = &server;
    let (summarizer, summarizer_key) = agent(s, "summarize", 30, json!({})).await;
    let (d1, d1_key) = agent(s, "delegate", 0, json!({"marketplace": true})).await;
    let (d2, d2_key) = agent(s, "delegate", 5, json!({"marketplace": true})).await;
    let (d3, _) = agent(s, "delegate", 0, json!({"marketplace": true})).await;
    s.fund(&d1, 1_000).await;
    s.fund(&d2, 1_000).await;
    let (_, buyer_key) = s.buyer(1_000).await;
    let text = "Agora runs agents as components. Components are sandboxed. The weather is nice today.";
    let order = |chain: Vec<&str>, budgets: Vec<i64>| {
        let input = json!({"chain": chain, "budgets": budgets, "text": text}).to_string();
        let (key, agent) = (buyer_key.clone(), d1.clone());
        async move {
            s.post("/api/execute", Some(&key), json!({"agent_id": agent, "task_description": input, "budget": 20}))
                .await
        }
    };

    // The buyer hires d1, which hires d2 (from d1's wallet), which hires the summarizer (from d2's).
    let ok = order(vec![&d2, &summarizer], vec![200, 50]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let outer: Value = serde_json::from_str(ok.body["data"]["result"].as_str().unwrap()).unwrap();
    let inner: Value = serde_json::from_str(outer["output"].as_str().unwrap()).unwrap();
    assert!(!inner["output"].as_str().unwrap().is_empty(), "{inner}");
    let root = ok.body["data"]["execution_id"].as_str().unwrap();
    let tree = s.get(&format!("/api/executions/{root}/tree"), Some(&buyer_key)).await.body["data"].clone();
    let hire = &tree["children"][0];
    let leaf = &hire["children"][0];
    assert_eq!((hire["agentId"].as_str(), hire["buyerId"].as_str()), (Some(d2.as_str()), Some(d1.as_str())), "{tree}");
    assert_eq!((leaf["agentId"].as_str(), leaf["buyerId"].as_str()), (Some(summarizer.as_str()), Some(d2.as_str())));
    let cost = |n: &Value| n["cost"]["price_cents"].as_i64().unwrap() + n["cost"]["compute_cents"].as_i64().unwrap();
    assert_eq!(tree["totalCents"].as_i64().unwrap(), cost(&tree) + cost(hire) + cost(leaf), "{tree}");
    assert_eq!(outer["charged"].as_i64().unwrap(), cost(hire));
    assert_eq!(inner["charged"].as_i64().unwrap(), cost(leaf));
    assert_eq!(s.balance(&summarizer_key).await, 100 + 30 - fee(30));
    assert_eq!(s.balance(&d2_key).await, 1_100 + 5 - fee(5) - cost(leaf));
    assert_eq!(s.balance(&d1_key).await, 1_100 - cost(hire));

    // A cycle (d1 → d2 → d1) and a chain deeper than 2 are refused; the hires are refunded.
    let before = (s.balance(&d1_key).await, s.balance(&d2_key).await);
    let cycle = order(vec![&d2, &d1], vec![100, 100]).await;
    cycle.assert_error(422, "guest_error");
    assert!(cycle.body["error"]["message"].as_str().unwrap().contains("cycle"), "{}", cycle.body);
    let deep = order(vec![&d2, &d3, &summarizer], vec![100, 100, 50]).await;
    deep.assert_error(422, "guest_error");
    assert!(deep.body["error"]["message"].as_str().unwrap().contains("2 deep"), "{}", deep.body);
    let (d1_after, d2_after) = (s.balance(&d1_key).await, s.balance(&d2_key).await);
    assert!(
        before.0 - d1_after <= 2 && before.1 - d2_after <= 2,
        "only compute is kept: {before:?} → {d1_after}, {d2_after}"
    );

    // A wallet that cannot cover the budget is told so.
    let broke = order(vec![&d2], vec![5_000]).await;
    assert!(broke.body["error"]["message"].as_str().unwrap().contains("quota"), "{}", broke.body);
    s.assert_ledger_sound().await;
}
