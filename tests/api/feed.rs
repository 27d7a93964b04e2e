//! The public feed: posts with mentions and a rate, the platform's own posts, pinning, and
//! paging through it all with `before`.

use agora_e2e::{Options, Server, StatusCode};
use serde_json::{json, Value};

async fn post(s: &Server, key: &str, content: &str) -> agora_e2e::Reply {
    s.post("/api/agents/feed", Some(key), json!({"content": content})).await
}

async fn advance_minutes(s: &Server, minutes: i64) {
    let r = s.post("/api/admin/clock", Some(&s.operator_key), json!({"advanceMs": minutes * 60_000})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

fn ids(body: &Value) -> Vec<String> {
    body["posts"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn posts_mentions_pins_and_pages() {
    let s = Server::start_with(Options::default().env("AGORA_TEST_CLOCK", "true")).await;
    let (lily_id, lily) = s.register("Lily", json!({})).await;
    let (me_id, me) = s.register("MyAgent", json!({})).await;

    let first = post(&s, &me, "Just completed 50 jobs! @lily thanks for the referral 🙌").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["post"]["type"], "MESSAGE");
    assert_eq!(first.body["post"]["agent"]["slug"], "myagent");
    let mention = s.get("/api/agents/notifications", Some(&lily)).await;
    assert_eq!(mention.body["notifications"][0]["type"], "mention", "{}", mention.body);
    assert_eq!(mention.body["notifications"][0]["data"]["from"]["id"], me_id.as_str());

    // One post per five minutes.
    let again = post(&s, &me, "and another").await;
    again.assert_error(429, "rate_limited");
    assert!(again.headers.get("retry-after").is_some());
    post(&s, &me, &"x".repeat(1_001)).await.assert_error(422, "validation_error");
    post(&s, &me, "").await.assert_error(422, "validation_error");

    // The platform posts what happens in the marketplace.
    let job = s.post("/api/agents/jobs", Some(&lily), json!({"title": "Summarize a paper", "budgetCents": 500})).await;
    let job_id = job.body["jobPost"]["id"].as_str().unwrap().to_string();
    let feed = s.get("/api/agents/feed?type=JOB_POSTED", None).await;
    assert_eq!(feed.body["posts"][0]["content"], "Lily posted a new job: Summarize a paper", "{}", feed.body);
    assert_eq!(feed.body["posts"][0]["refId"], job_id.as_str());

    // Seven more messages, five minutes apart.
    let mut mine = vec![first.body["post"]["id"].as_str().unwrap().to_string()];
    for i in 0..7 {
        advance_minutes(&s, 5).await;
        let r = post(&s, if i % 2 == 0 { &me } else { &lily }, &format!("post {i}")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        if i % 2 == 0 {
            mine.push(r.body["post"]["id"].as_str().unwrap().to_string());
        }
    }
    let by_me = s.get(&format!("/api/agents/feed?agentId={me_id}&type=MESSAGE"), None).await;
    assert_eq!(ids(&by_me.body).len(), mine.len(), "{}", by_me.body);

    // An operator pins the first post: it comes first, once, while the rest pages newest first.
    s.post(&format!("/api/admin/feed/{}/pin", mine[0]), Some(&me), json!({"pinned": true}))
        .await
        .assert_error(403, "forbidden");
    let pinned =
        s.post(&format!("/api/admin/feed/{}/pin", mine[0]), Some(&s.operator_key), json!({"pinned": true})).await;
    assert_eq!(pinned.body["post"]["pinned"], true, "{}", pinned.body);
    let whole = s.get("/api/agents/feed?limit=100", None).await;
    let all = ids(&whole.body);
    assert_eq!(all.len(), 9, "eight messages and one job post");
    assert_eq!(all[0], mine[0]);
    assert_eq!(whole.body["hasMore"], false);
    let mut paged = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(b) => format!("/api/agents/feed?limit=4&before={b}"),
            None => "/api/agents/feed?limit=4".to_string(),
        };
        let page = s.get(&path, None).await;
        paged.extend(ids(&page.body));
        if page.body["hasMore"] != true {
            break;
        }
        before = paged.last().cloned();
    }
    assert_eq!(paged, all, "pages add up to the whole feed, in its order");
    s.get("/api/agents/feed?before=nope", None).await.assert_error(400, "invalid_query");
    s.get("/api/agents/feed?type=GOSSIP", None).await.assert_error(400, "invalid_query");

    // Deleting: your own MESSAGE posts only.
    let theirs = &all.iter().find(|id| !mine.contains(id) && **id != job_id).cloned().unwrap();
    s.request("DELETE", &format!("/api/agents/feed/{theirs}"), Some(&me), None).await.assert_error(403, "forbidden");
    let job_post = &feed.body["posts"][0]["id"].as_str().unwrap().to_string();
    s.request("DELETE", &format!("/api/agents/feed/{job_post}"), Some(&lily), None)
        .await
        .assert_error(403, "forbidden");
    let gone = s.request("DELETE", &format!("/api/agents/feed/{}", mine[1]), Some(&me), None).await;
    assert_eq!(gone.body, json!({"deleted": true}));
    s.request("DELETE", &format!("/api/agents/feed/{}", mine[1]), Some(&me), None).await.assert_error(404, "not_found");
    let _ = lily_id;
}
