//! Registration, authentication, profiles, the setup checklist, claiming and the directory.

use agora_e2e::{random_name, Server, StatusCode};
use serde_json::json;

#[tokio::test]
async fn register_with_either_spelling_and_authenticate_both_ways() {
    let s = Server::start().await;
    let toku = s
        .post(
            "/api/agents/register",
            None,
            json!({"name": "Toku Style", "description": "camelCase", "ownerEmail": "owner@example.com",
                   "webhookUrl": "https://hooks.example.com/agora", "pricePerTask": 25}),
        )
        .await;
    assert_eq!(toku.status, StatusCode::CREATED, "{}", toku.body);
    let agent = &toku.body["agent"];
    let key = agent["apiKey"].as_str().unwrap();
    assert!(key.starts_with("ak_") && key.len() == 51, "{key}");
    assert_eq!(agent["status"], "ACTIVE");
    assert_eq!(agent["slug"], "toku-style");
    assert!(agent["referralCode"].as_str().unwrap().starts_with("toku-style-"));
    assert_eq!(toku.body["balance"], 100, "sign-up credits");
    assert_eq!(toku.body["success"], true);
    assert_eq!(toku.body["data"]["api_key"], key.to_string());

    let market = s
        .post(
            "/api/agents/register",
            None,
            json!({"name": "ResearchBot", "description": "I research", "capabilities": ["Research", "summarization"],
                   "price_per_task": 15, "owner_email": "me@example.com", "system_prompt": "You are a researcher",
                   "endpoint_url": "https://bot.example.com/execute"}),
        )
        .await;
    assert_eq!(market.status, StatusCode::CREATED, "{}", market.body);
    assert_eq!(market.body["data"]["capabilities"], json!(["research", "summarization"]));
    let mkey = market.body["data"]["api_key"].as_str().unwrap().to_string();

    // X-API-Key and Authorization: Bearer both work.
    let me = s.get("/api/agents/me", Some(&mkey)).await;
    assert_eq!(me.status, StatusCode::OK);
    let bearer = s.http.get(s.url("/api/agents/me")).bearer_auth(&mkey).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let p = &me.body["agent"];
    assert_eq!(p["ownerEmail"], "me@example.com");
    assert_eq!(p["systemPrompt"], "You are a researcher");
    assert_eq!(p["pricePerTaskCents"], 15);
    assert_eq!(p["price_per_task"], 15);
    assert_eq!(p["runtime"], "endpoint");
    assert_eq!(me.body["data"], me.body["agent"], "AgentMarket's data carries the same profile");
    assert_eq!(me.body["balance"], 100);

    // The public profile hides private fields, by id and by slug.
    let id = market.body["data"]["id"].as_str().unwrap();
    for handle in [id, "researchbot"] {
        let public = s.get(&format!("/api/agents/{handle}"), None).await;
        assert_eq!(public.status, StatusCode::OK);
        assert_eq!(public.body["agent"]["id"], id);
        for secret in ["ownerEmail", "systemPrompt", "webhookUrl", "referralCode", "apiKey"] {
            assert!(public.body["agent"].get(secret).is_none(), "{secret} leaked: {}", public.body);
        }
        assert!(public.body.get("balance").is_none(), "no balance for anonymous callers");
    }
    let with_key = s.get(&format!("/api/agents/{id}"), Some(key)).await;
    assert_eq!(with_key.body["balance"], 100, "authenticated responses include the caller's balance");
}

#[tokio::test]
async fn bad_keys_are_refused() {
    let s = Server::start().await;
    let (_, key) = s.register(&random_name("keyed"), json!({})).await;
    let mut wrong = key.clone();
    wrong.replace_range(40..41, if &key[40..41] == "A" { "B" } else { "A" });
    for (k, why) in [(wrong.as_str(), "right prefix, wrong secret"), ("ak_short", "malformed"), ("", "empty")] {
        s.get("/api/agents/me", Some(k)).await.assert_error(401, "unauthorized");
        let _ = why;
    }
    s.get("/api/agents/me", None).await.assert_error(401, "unauthorized");
    let basic =
        s.http.get(s.url("/api/agents/me")).header("Authorization", format!("Basic {key}")).send().await.unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    // An operator key is not an agent key.
    s.get("/api/agents/me", Some(&s.operator_key)).await.assert_error(403, "forbidden");
    // And an agent key is not an operator key.
    s.get("/api/admin/ledger/check", Some(&key)).await.assert_error(403, "forbidden");
}

#[tokio::test]
async fn profile_update_and_setup_checklist() {
    let s = Server::start().await;
    let (_, key) = s.register("Setup Bot", json!({})).await;
    let setup = s.get("/api/agents/me/setup", Some(&key)).await;
    assert_eq!(setup.status, StatusCode::OK);
    assert_eq!(setup.body["setupScore"], "0/6");
    assert_eq!(setup.body["ready"], false);
    let email = setup.body["steps"].as_array().unwrap().iter().find(|s| s["id"] == "email").unwrap();
    assert_eq!(email["fix"]["method"], "PATCH");
    assert_eq!(email["fix"]["url"], "/api/agents/me");

    let patch = json!({"name": "Setup Bot Two", "description": "Reviews code", "avatarUrl": "https://img.example.com/a.png",
        "webhookUrl": "https://hooks.example.com/x", "tags": ["Code-Review", "python"], "ownerEmail": "o@example.com",
        "capabilities": ["review"], "endpoint_url": "https://bot.example.com/run", "availableForHire": false});
    let r = s.request("PATCH", "/api/agents/me", Some(&key), Some(patch)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let a = &r.body["agent"];
    assert_eq!(a["name"], "Setup Bot Two");
    assert_eq!(a["slug"], "setup-bot", "the handle is stable across renames");
    assert_eq!(a["tags"], json!(["code-review", "python"]));
    assert_eq!(a["capabilities"], json!(["review"]));
    assert_eq!(a["availableForHire"], false);

    let setup = s.get("/api/agents/me/setup", Some(&key)).await;
    assert_eq!(setup.body["setupScore"], "5/6", "{}", setup.body);
    assert_eq!(setup.body["ready"], true);
    let services = setup.body["steps"].as_array().unwrap().iter().find(|s| s["id"] == "services").unwrap();
    assert_eq!(services["done"], false);

    // An empty string clears an optional field; absent fields stay.
    let r = s.request("PATCH", "/api/agents/me", Some(&key), Some(json!({"webhookUrl": ""}))).await;
    assert_eq!(r.body["agent"]["webhookUrl"], json!(null));
    assert_eq!(r.body["agent"]["ownerEmail"], "o@example.com");

    // AgentMarket's webhook endpoints, masked on the way out.
    let put = s
        .request(
            "PUT",
            "/api/agents/me/webhook",
            Some(&key),
            Some(json!({"webhook_url": "https://my-agent.example.com/webhooks/agentmarket"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["data"]["webhook_url"], "...gentmarket");
    let got = s.get("/api/agents/me/webhook", Some(&key)).await;
    assert_eq!(got.body["data"]["webhook_url"], "...gentmarket");
    s.request("PUT", "/api/agents/me/webhook", Some(&key), Some(json!({"webhook_url": "ftp://x.example.com"})))
        .await
        .assert_error(422, "validation_error");

    // Invalid updates change nothing.
    for bad in [
        json!({"ownerEmail": "not-an-email"}),
        json!({"name": "   "}),
        json!({"price_per_task": -1}),
        json!({"capabilities": ["<script>"]}),
        json!({"avatarUrl": "javascript:alert(1)"}),
    ] {
        s.request("PATCH", "/api/agents/me", Some(&key), Some(bad.clone())).await.assert_error(422, "validation_error");
    }
    let me = s.get("/api/agents/me", Some(&key)).await;
    assert_eq!(me.body["agent"]["ownerEmail"], "o@example.com");
    assert_eq!(me.body["agent"]["name"], "Setup Bot Two");
}

#[tokio::test]
async fn claim_once_with_the_claim_token() {
    let s = Server::start().await;
    let r = s.post("/api/agents/register", None, json!({"name": "Claimable", "ownerEmail": "human@example.com"})).await;
    let token = r.body["agent"]["claimToken"].as_str().unwrap().to_string();
    let key = r.body["agent"]["apiKey"].as_str().unwrap().to_string();
    assert_eq!(s.get("/api/agents/me", Some(&key)).await.body["agent"]["claimed"], false);
    s.post("/api/agents/claim", None, json!({"token": "nope"})).await.assert_error(404, "invalid_claim_token");
    let ok = s.post("/api/agents/claim", None, json!({"token": token})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["agent"]["status"], "ACTIVE");
    assert_eq!(ok.body["agent"]["name"], "Claimable");
    s.post("/api/agents/claim", None, json!({"token": token})).await.assert_error(409, "already_claimed");
    assert_eq!(s.get("/api/agents/me", Some(&key)).await.body["agent"]["claimed"], true);
}

#[tokio::test]
async fn referral_codes_link_agents() {
    let s = Server::start().await;
    let r = s.post("/api/agents/register", None, json!({"name": "Lily"})).await;
    let code = r.body["agent"]["referralCode"].as_str().unwrap().to_string();
    let lily = r.body["agent"]["id"].as_str().unwrap().to_string();
    let (_, key) = s.register("Newcomer", json!({"referralCode": code})).await;
    assert_eq!(s.get("/api/agents/me", Some(&key)).await.body["agent"]["referredBy"], lily);
    s.post("/api/agents/register", None, json!({"name": "Other", "referral_code": "no-such-code"}))
        .await
        .assert_error(422, "validation_error");
}

#[tokio::test]
async fn names_are_unique_handles() {
    let s = Server::start().await;
    s.register("Same Name", json!({})).await;
    s.post("/api/agents/register", None, json!({"name": "same  name!"})).await.assert_error(409, "name_taken");
    // Names without ASCII letters get a generated handle instead of colliding.
    let a = s.post("/api/agents/register", None, json!({"name": "エージェント"})).await;
    let b = s.post("/api/agents/register", None, json!({"name": "代理人"})).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(b.status, StatusCode::CREATED);
    assert_ne!(a.body["agent"]["slug"], b.body["agent"]["slug"]);
}

#[tokio::test]
async fn directory_filters_and_pagination() {
    let s = Server::start().await;
    for i in 0..7 {
        let caps = if i % 2 == 0 { json!(["research"]) } else { json!(["coding"]) };
        s.register(&format!("Dir Agent {i}"), json!({"capabilities": caps, "description": format!("number {i}")}))
            .await;
    }
    s.register("Zebra Finder", json!({"description": "finds 100% of zebras_"})).await;

    let all = s.get("/api/agents?limit=100", None).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["meta"]["total"], 8);
    assert_eq!(all.body["meta"]["hasMore"], false);
    assert_eq!(all.body["data"][0]["name"], "Zebra Finder", "newest first");

    let research = s.get("/api/agents?capability=Research", None).await;
    assert_eq!(research.body["meta"]["total"], 4);
    assert!(research.body["data"].as_array().unwrap().iter().all(|a| a["capabilities"] == json!(["research"])));

    let q = s.get("/api/agents?q=zebra", None).await;
    assert_eq!(q.body["meta"]["total"], 1);
    // LIKE wildcards in q are literal.
    assert_eq!(s.get("/api/agents?q=100%25", None).await.body["meta"]["total"], 1);
    assert_eq!(s.get("/api/agents?q=%25", None).await.body["meta"]["total"], 1);
    assert_eq!(s.get("/api/agents?q=_", None).await.body["meta"]["total"], 1);

    assert_eq!(s.get("/api/agents?minJobs=1", None).await.body["meta"]["total"], 0);
    assert_eq!(s.get("/api/agents?minRating=4", None).await.body["meta"]["total"], 0);
    assert_eq!(s.get("/api/agents?hasServices=true", None).await.body["meta"]["total"], 0);
    assert_eq!(s.get("/api/agents?hasServices=false", None).await.body["meta"]["total"], 8);
    assert_eq!(s.get("/api/agents?category=development", None).await.body["meta"]["total"], 0);

    // Offset pagination.
    let p1 = s.get("/api/agents?limit=3&offset=0", None).await;
    let p2 = s.get("/api/agents?limit=3&offset=3", None).await;
    assert_eq!(p1.body["meta"]["count"], 3);
    assert_eq!(p1.body["meta"]["hasMore"], true);
    assert_ne!(p1.body["data"][0]["id"], p2.body["data"][0]["id"]);

    // Cursor pagination walks every agent exactly once.
    let mut seen = Vec::new();
    let mut path = "/api/agents?limit=3".to_string();
    loop {
        let page = s.get(&path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(page.body["data"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()));
        match page.body["meta"]["nextCursor"].as_str() {
            Some(c) => path = format!("/api/agents?limit=3&cursor={c}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (8, 8));

    // Limits are clamped to 100; bad values are 400.
    assert_eq!(s.get("/api/agents?limit=1000", None).await.body["meta"]["limit"], 100);
    s.get("/api/agents?limit=0", None).await.assert_error(400, "invalid_query");
    s.get("/api/agents?limit=abc", None).await.assert_error(400, "invalid_query");
    s.get("/api/agents?offset=-1", None).await.assert_error(400, "invalid_query");
    s.get("/api/agents?minRating=9", None).await.assert_error(400, "invalid_query");
    s.get("/api/agents?cursor=garbage!", None).await.assert_error(400, "invalid_query");
    s.get("/api/agents?hasServices=maybe", None).await.assert_error(400, "invalid_query");
    s.get("/api/agents/00000000-0000-0000-0000-000000000000", None).await.assert_error(404, "not_found");
}

#[tokio::test]
async fn names_cannot_impersonate_other_agents() {
    let s = Server::start().await;
    s.register("PayPal Bot", json!({})).await;
    let (_, key) = s.register("Honest Bot", json!({})).await;
    // Look-alikes of a taken name: case, full-width letters, Cyrillic р, I for l, spacing.
    for alike in ["paypal bot", "ＰａｙＰａｌ Ｂｏｔ", "Pay\u{0440}al Bot", "PayPaI Bot", "PayPalBot"] {
        s.post("/api/agents/register", None, json!({"name": alike})).await.assert_error(409, "name_taken");
        s.request("PATCH", "/api/agents/me", Some(&key), Some(json!({"name": alike})))
            .await
            .assert_error(409, "name_taken");
    }
    // Invisible and reordering characters, line breaks and route words are refused.
    for bad in ["evil\u{202E}tob", "zero\u{200B}width", "two\nlines", "tab\tbed", "me", "Wallet", "register"] {
        s.post("/api/agents/register", None, json!({"name": bad})).await.assert_error(422, "validation_error");
        s.request("PATCH", "/api/agents/me", Some(&key), Some(json!({"name": bad})))
            .await
            .assert_error(422, "validation_error");
    }
    // Full-width letters are stored in their plain form.
    let r = s.request("PATCH", "/api/agents/me", Some(&key), Some(json!({"name": "Ｈｏｎｅｓｔ Ｂｏｔ ２"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["agent"]["name"], "Honest Bot 2");
    assert_eq!(s.get("/api/agents/me", Some(&key)).await.body["agent"]["name"], "Honest Bot 2");
}

#[tokio::test]
async fn a_suspended_agent_is_refused_once_its_cached_key_expires() {
    let s = Server::start_with(agora_e2e::Options::default().env("AGORA_AUTH_CACHE_MS", "300")).await;
    let r = s.post("/api/agents/register", None, json!({"name": "Soon Suspended"})).await;
    let (id, key) = (r.body["agent"]["id"].as_str().unwrap(), r.body["agent"]["apiKey"].as_str().unwrap());
    let token = r.body["agent"]["claimToken"].as_str().unwrap();
    assert_eq!(s.get("/api/agents/me", Some(key)).await.status, StatusCode::OK);
    // The old spelling, as an operator might write it by hand: anything but `active` refuses.
    let db = agora::db::Db::connect(&s.database_url, 1).await.unwrap();
    sqlx::query("UPDATE agents SET status = 'SUSPENDED' WHERE id = $1").bind(id).execute(&db.direct).await.unwrap();
    db.close().await;
    // Claiming the agent does not lift the suspension.
    assert_eq!(s.post("/api/agents/claim", None, json!({"token": token})).await.status, StatusCode::OK);
    let refused = agora_e2e::eventually("the cached key to expire", std::time::Duration::from_secs(10), || async {
        let r = s.get("/api/agents/me", Some(key)).await;
        (r.status != StatusCode::OK).then_some(r)
    })
    .await;
    refused.assert_error(403, "forbidden");
}
