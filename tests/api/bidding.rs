//! Toku's bidding end to end: job posts, bids with their standing, outbids, every mode of
//! acceptance with the escrow, delivery and payment, the deadline, the notifications inbox, and
//! the races on one post.

use std::time::Duration;

use agora_e2e::{eventually, Options, Server, StatusCode, TestHttp};
use serde_json::{json, Value};

async fn post_job(s: &Server, key: &str, extra: Value) -> String {
    let mut body = json!({"title": "Build me a web scraper", "description": "A Python scraper for listings",
                          "category": "Development", "tags": ["python", "scraping"], "budgetCents": 5000});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = s.post("/api/agents/jobs", Some(key), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["jobPost"]["id"].as_str().unwrap().to_string()
}

async fn bid(s: &Server, key: &str, post: &str, cents: i64) -> agora_e2e::Reply {
    s.post(&format!("/api/agents/jobs/{post}/bids"), Some(key), json!({"priceCents": cents, "message": "I can"})).await
}

async fn change(s: &Server, key: &str, post: &str, bid: &str, body: Value) -> agora_e2e::Reply {
    s.request("PATCH", &format!("/api/agents/jobs/{post}/bids/{bid}"), Some(key), Some(body)).await
}

fn id_of(r: &agora_e2e::Reply) -> String {
    assert!(r.status.is_success(), "{}", r.body);
    r.body["bid"]["id"].as_str().unwrap().to_string()
}

/// The notification types in the agent's inbox, oldest first, but for the announcements of new
/// posts (written in the background, so in no fixed place among the others).
async fn inbox(s: &Server, key: &str) -> Vec<String> {
    let r = s.get("/api/agents/notifications?limit=100", Some(key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut kinds: Vec<String> = r.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_string())
        .filter(|kind| kind != "job_posted")
        .collect();
    kinds.reverse();
    kinds
}

/// How many new-post announcements the agent got.
async fn announcements(s: &Server, key: &str) -> usize {
    let r = s.get("/api/agents/notifications?limit=100", Some(key)).await;
    r.body["notifications"].as_array().unwrap().iter().filter(|n| n["type"] == "job_posted").count()
}

#[tokio::test]
async fn a_single_bid_auction_from_post_to_payment() {
    let s = Server::start_with(Options::default().env("AGORA_ALLOW_PRIVATE_HTTP", "true")).await;
    let receiver = TestHttp::start(|_, _| (200, vec![], "ok".into())).await;
    let (_, poster) = s.buyer(5_000).await;
    let (_, a) = s.register("ScraperBot", json!({})).await;
    let (_, b) = s.register("FastBot", json!({})).await;
    let (_, c) = s.register("SlowBot", json!({})).await;
    let (_, stranger) = s.register("Stranger", json!({})).await;
    s.post("/api/agents/me/webhooks", Some(&c), json!({"webhookUrl": receiver.url("/hook")})).await;
    let post = post_job(&s, &poster, json!({})).await;

    // Every other agent was told of the new post, in the background; the poster was not.
    for key in [&a, &b, &c, &stranger] {
        eventually("the post is announced", Duration::from_secs(20), || async {
            (announcements(&s, key).await == 1).then_some(())
        })
        .await;
    }
    assert_eq!(announcements(&s, &poster).await, 0);

    let got = s.get(&format!("/api/agents/jobs/{post}"), None).await;
    assert_eq!(got.body["jobPost"]["auctionMode"], "single", "{}", got.body);
    assert_eq!(got.body["jobPost"]["category"], "development");
    for (query, total) in [("q=scraper", 1), ("tags=ruby,python", 1), ("category=writing", 0), ("status=closed", 0)] {
        let r = s.get(&format!("/api/agents/jobs?{query}"), None).await;
        assert_eq!(r.body["total"], total, "{query}: {}", r.body);
    }
    s.get("/api/agents/jobs?status=weird", None).await.assert_error(400, "invalid_query");

    // Bids, each told where it stands; the undercut are told too.
    let first = bid(&s, &a, &post, 4_500).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["competitiveContext"]["isLowest"], true);
    let a_bid = id_of(&first);
    let second = bid(&s, &b, &post, 3_000).await;
    assert_eq!(second.body["outbidCount"], 1, "{}", second.body);
    let b_bid = id_of(&second);
    let third = bid(&s, &c, &post, 4_000).await;
    assert_eq!(third.body["totalBids"], 3);
    assert_eq!(
        third.body["competitiveContext"],
        json!({"yourRank": 2, "totalBids": 3, "lowestBidCents": 3000, "isLowest": false,
               "message": "Your bid is ranked #2 of 3. The current lowest bid is $30.00."})
    );
    bid(&s, &a, &post, 4_000).await.assert_error(409, "already_bid");
    bid(&s, &poster, &post, 100).await.assert_error(422, "validation_error");
    bid(&s, &stranger, &post, 5_001).await.assert_error(422, "validation_error");
    bid(&s, &stranger, "no-such-post", 100).await.assert_error(404, "not_found");

    // A lowers its price below both others: B, which led, is told; its old price is kept.
    let lowered = change(&s, &a, &post, &a_bid, json!({"priceCents": 2_500})).await;
    assert_eq!(lowered.status, StatusCode::OK, "{}", lowered.body);
    assert_eq!(lowered.body["outbidCount"], 2);
    change(&s, &poster, &post, &a_bid, json!({"priceCents": 1})).await.assert_error(403, "forbidden");
    change(&s, &stranger, &post, &a_bid, json!({"priceCents": 1})).await.assert_error(404, "not_found");
    let listed = s.get(&format!("/api/agents/jobs/{post}/bids"), None).await;
    let prices: Vec<i64> =
        listed.body["bids"].as_array().unwrap().iter().map(|b| b["priceCents"].as_i64().unwrap()).collect();
    assert_eq!(prices, [2_500, 3_000, 4_000]);
    assert_eq!(listed.body["bids"][0]["priceHistory"][0]["priceCents"], 4_500);
    assert_eq!((listed.body["lowestBid"].as_i64(), listed.body["totalBids"].as_i64()), (Some(2_500), Some(3)));
    assert_eq!(s.get("/api/agents/jobs?q=scraper", None).await.body["jobPosts"][0]["bidCount"], 3);

    // Accepting holds the price and, in single mode, closes the post and rejects the rest.
    change(&s, &a, &post, &a_bid, json!({"status": "ACCEPTED"})).await.assert_error(403, "forbidden");
    let accepted = change(&s, &poster, &post, &a_bid, json!({"status": "ACCEPTED"})).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["bid"]["status"], "ACCEPTED");
    assert_eq!(
        accepted.body["jobPost"],
        json!({"id": post, "status": "CLOSED", "acceptedBidsCount": 1, "maxAcceptedBids": 1})
    );
    assert_eq!(accepted.body["rejectedBids"], 2);
    assert_eq!(s.balance(&poster).await, 5_100 - 2_500);
    change(&s, &b, &post, &b_bid, json!({"priceCents": 2_000})).await.assert_error(409, "invalid_transition");
    bid(&s, &stranger, &post, 100).await.assert_error(409, "bidding_closed");

    // Delivered, approved, paid less the fee.
    change(&s, &a, &post, &a_bid, json!({"status": "DELIVERED"})).await.assert_error(422, "validation_error");
    let delivered = change(
        &s,
        &a,
        &post,
        &a_bid,
        json!({"status": "DELIVERED", "deliveryNote": "Here it is", "deliveryUrl": "https://example.com/scraper"}),
    )
    .await;
    assert_eq!(delivered.body["bid"]["deliveryUrl"], "https://example.com/scraper", "{}", delivered.body);
    change(&s, &a, &post, &a_bid, json!({"status": "COMPLETED"})).await.assert_error(403, "forbidden");
    let done = change(&s, &poster, &post, &a_bid, json!({"status": "COMPLETED"})).await;
    assert_eq!(done.body["bid"]["status"], "COMPLETED", "{}", done.body);
    assert_eq!(s.balance(&a).await, 100 + 2_250);
    change(&s, &poster, &post, &a_bid, json!({"status": "COMPLETED"})).await.assert_error(409, "invalid_transition");

    // Everyone was told, in order; marking read empties the unread count.
    assert_eq!(
        inbox(&s, &poster).await,
        ["bid_received", "bid_received", "bid_received", "bid_updated", "bid_delivered"]
    );
    // Only the bidder that led is told it was outbid: A by B; B by A's lowered price; C never led.
    assert_eq!(inbox(&s, &a).await, ["outbid", "bid_accepted", "bid_completed"]);
    assert_eq!(inbox(&s, &b).await, ["outbid", "bid_rejected"]);
    assert_eq!(inbox(&s, &c).await, ["bid_rejected"]);
    // With a webhook, each notification is an event too.
    let sent = s.get("/api/agents/me/webhooks/deliveries", Some(&c)).await;
    let events: Vec<&str> =
        sent.body["data"].as_array().unwrap().iter().map(|d| d["event"].as_str().unwrap()).collect();
    let of_bid: Vec<&str> = events.iter().copied().filter(|e| *e != "notification.job_posted").collect();
    assert_eq!(of_bid, ["notification.bid_rejected"], "{}", sent.body);
    let outbid = s.get("/api/agents/notifications?unread=true", Some(&b)).await;
    let of_bid: Vec<&Value> =
        outbid.body["notifications"].as_array().unwrap().iter().filter(|n| n["type"] == "outbid").collect();
    let data = &of_bid[0]["data"];
    assert_eq!(
        (data["yourPriceCents"].as_i64(), data["newLowPriceCents"].as_i64()),
        (Some(3_000), Some(2_500)),
        "{data}"
    );
    let unread = s.get("/api/agents/notifications?unread=true", Some(&c)).await;
    assert_eq!(unread.body["unreadCount"], 2, "its rejection and the post's announcement");
    let first_id = unread.body["notifications"][0]["id"].as_str().unwrap().to_string();
    let r = s.post("/api/agents/notifications", Some(&stranger), json!({"ids": [first_id]})).await;
    assert_eq!(r.body["marked"], 0, "another agent's notification is not marked");
    let r = s.post("/api/agents/notifications", Some(&c), json!({"all": true})).await;
    assert_eq!(r.body["marked"], 2, "{}", r.body);
    assert_eq!(s.get("/api/agents/notifications", Some(&c)).await.body["unreadCount"], 0);
    s.post("/api/agents/notifications", Some(&c), json!({})).await.assert_error(422, "validation_error");
    s.get("/api/agents/notifications", None).await.assert_error(401, "unauthorized");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn instant_multi_and_short_wallets() {
    let s = Server::start().await;
    let (_, poster) = s.buyer(5_000).await;
    let mut bidders = Vec::new();
    for i in 0..4 {
        bidders.push(s.register(&format!("Bidder {i}"), json!({})).await.1);
    }

    // Instant: above the threshold waits; at or below it is accepted at once.
    let post = post_job(&s, &poster, json!({"budgetCents": 1_000, "instantAcceptCents": 600})).await;
    let waiting = bid(&s, &bidders[0], &post, 800).await;
    assert_eq!(waiting.body["bid"]["status"], "PENDING", "{}", waiting.body);
    let instant = bid(&s, &bidders[1], &post, 600).await;
    assert_eq!(instant.body["bid"]["status"], "ACCEPTED", "{}", instant.body);
    assert_eq!(instant.body["jobPost"]["status"], "CLOSED");
    assert_eq!(instant.body["rejectedBids"], 1);
    assert_eq!(s.balance(&poster).await, 5_100 - 600);
    // The accepted bidder withdraws: the escrow goes back to the poster.
    let instant_id = id_of(&instant);
    let w = change(&s, &bidders[1], &post, &instant_id, json!({"status": "WITHDRAWN"})).await;
    assert_eq!(w.body["bid"]["status"], "WITHDRAWN", "{}", w.body);
    assert_eq!(s.balance(&poster).await, 5_100);

    // Multi: two places; the second acceptance closes the post and rejects the third bid.
    let post = post_job(&s, &poster, json!({"budgetCents": 1_000, "multiBid": true, "maxAcceptedBids": 2})).await;
    let bids: Vec<String> =
        futures::future::join_all((0..3).map(|i| bid(&s, &bidders[i], &post, 300 + i as i64 * 100)))
            .await
            .iter()
            .map(id_of)
            .collect();
    let one = change(&s, &poster, &post, &bids[0], json!({"status": "ACCEPTED"})).await;
    assert_eq!(one.body["jobPost"]["status"], "OPEN", "{}", one.body);
    assert!(one.body.get("rejectedBids").is_none());
    let two = change(&s, &poster, &post, &bids[1], json!({"status": "ACCEPTED"})).await;
    assert_eq!(
        two.body["jobPost"],
        json!({"id": post, "status": "CLOSED", "acceptedBidsCount": 2, "maxAcceptedBids": 2})
    );
    assert_eq!(two.body["rejectedBids"], 1);
    change(&s, &poster, &post, &bids[2], json!({"status": "ACCEPTED"})).await.assert_error(409, "invalid_transition");
    assert_eq!(s.balance(&poster).await, 5_100 - 300 - 400);

    // A poster whose wallet is short: 402, and nothing changes.
    let (_, poor) = s.buyer(0).await;
    let post = post_job(&s, &poor, json!({"budgetCents": 1_000})).await;
    let pending = id_of(&bid(&s, &bidders[3], &post, 500).await);
    change(&s, &poor, &post, &pending, json!({"status": "ACCEPTED"})).await.assert_error(402, "insufficient_funds");
    let listed = s.get(&format!("/api/agents/jobs/{post}"), None).await;
    assert_eq!(
        (listed.body["jobPost"]["status"].as_str(), listed.body["jobPost"]["acceptedBidsCount"].as_i64()),
        (Some("OPEN"), Some(0))
    );
    let r = change(&s, &poor, &post, &pending, json!({"status": "REJECTED"})).await;
    assert_eq!(r.body["bid"]["status"], "REJECTED", "{}", r.body);
    // Cancelling a post is the poster's, while it is open.
    s.request("DELETE", &format!("/api/agents/jobs/{post}"), Some(&bidders[0]), None)
        .await
        .assert_error(403, "forbidden");
    let gone = s.request("DELETE", &format!("/api/agents/jobs/{post}"), Some(&poor), None).await;
    assert_eq!(gone.body["jobPost"]["status"], "CANCELLED", "{}", gone.body);
    s.request("DELETE", &format!("/api/agents/jobs/{post}"), Some(&poor), None)
        .await
        .assert_error(409, "bidding_closed");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn the_deadline_closes_bidding() {
    let options = Options::default().env("AGORA_TEST_CLOCK", "true").env("AGORA_MARKETPLACE_SWEEP_MS", "50");
    let s = Server::start_with(options).await;
    let (_, poster) = s.buyer(5_000).await;
    let (_, bidder) = s.register("Late", json!({})).await;
    let (_, other) = s.register("Early", json!({})).await;
    let deadline = agora::db::rfc3339(agora::db::now_ms() + 3_600_000);
    let lonely = post_job(&s, &poster, json!({"deadline": deadline})).await;
    let busy = post_job(&s, &poster, json!({"deadline": deadline, "multiBid": true})).await;
    let pending = id_of(&bid(&s, &bidder, &lonely, 1_000).await);
    let taken = id_of(&bid(&s, &other, &busy, 1_000).await);
    change(&s, &poster, &busy, &taken, json!({"status": "ACCEPTED"})).await;
    let r = s
        .post(
            "/api/agents/jobs",
            Some(&poster),
            json!({"title": "t", "budgetCents": 5, "deadline": "2020-01-01T00:00:00Z"}),
        )
        .await;
    r.assert_error(422, "validation_error");

    let r = s.post("/api/admin/clock", Some(&s.operator_key), json!({"advanceMs": 2 * 3_600_000})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Refused at once, before any sweep; then the sweep closes both posts.
    bid(&s, &other, &lonely, 900).await.assert_error(409, "bidding_closed");
    change(&s, &poster, &lonely, &pending, json!({"status": "ACCEPTED"})).await.assert_error(409, "bidding_closed");
    let status = |post: String| {
        let s = &s;
        async move {
            s.get(&format!("/api/agents/jobs/{post}"), None).await.body["jobPost"]["status"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    eventually("the posts close", Duration::from_secs(20), || async {
        (status(lonely.clone()).await == "EXPIRED" && status(busy.clone()).await == "CLOSED").then_some(())
    })
    .await;
    let bids = s.get(&format!("/api/agents/jobs/{lonely}/bids"), None).await;
    assert_eq!(bids.body["bids"][0]["status"], "REJECTED", "{}", bids.body);
    assert_eq!(inbox(&s, &bidder).await, ["bid_rejected"]);
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn races_on_one_post_accept_exactly_as_many_as_it_takes() {
    let s = Server::start().await;
    let (_, poster) = s.buyer(100_000).await;
    let (_, x) = s.register("Racer X", json!({})).await;
    let (_, y) = s.register("Racer Y", json!({})).await;
    for _ in 0..50 {
        // Two bids at the instant price on a single-bid post: one is accepted, the other is not.
        let post = post_job(&s, &poster, json!({"budgetCents": 100, "instantAcceptCents": 50})).await;
        let (r1, r2) = tokio::join!(bid(&s, &x, &post, 50), bid(&s, &y, &post, 50));
        let accepted = [&r1, &r2].iter().filter(|r| r.body["bid"]["status"] == "ACCEPTED").count();
        assert_eq!(accepted, 1, "{} {}", r1.body, r2.body);
        let post_now = s.get(&format!("/api/agents/jobs/{post}"), None).await;
        assert_eq!(post_now.body["jobPost"]["acceptedBidsCount"], 1);

        // Two accepts on the last place of a multi-bid post: exactly one gets it.
        let post = post_job(&s, &poster, json!({"budgetCents": 100, "multiBid": true, "maxAcceptedBids": 1})).await;
        let (bx, by) = (id_of(&bid(&s, &x, &post, 60).await), id_of(&bid(&s, &y, &post, 70).await));
        let (a1, a2) = tokio::join!(
            change(&s, &poster, &post, &bx, json!({"status": "ACCEPTED"})),
            change(&s, &poster, &post, &by, json!({"status": "ACCEPTED"}))
        );
        let won = [&a1, &a2].iter().filter(|r| r.status == StatusCode::OK).count();
        assert_eq!(won, 1, "{} {}", a1.body, a2.body);
    }
    // Each round held 50 and 60 or 70.
    let held = 100_100 - s.balance(&poster).await;
    assert!((50 * 110..=50 * 120).contains(&held), "{held}");
    s.assert_ledger_sound().await;
}

#[tokio::test]
async fn an_operator_resolves_a_disputed_bid() {
    let s = Server::start().await;
    let (_, poster) = s.buyer(5_000).await;
    let (_, bidder) = s.register("Contested", json!({})).await;
    let post = post_job(&s, &poster, json!({})).await;
    let b = id_of(&bid(&s, &bidder, &post, 2_000).await);
    change(&s, &poster, &post, &b, json!({"status": "ACCEPTED"})).await;
    change(&s, &bidder, &post, &b, json!({"status": "DELIVERED", "deliveryNote": "done"})).await;
    let resolve = format!("/api/admin/bid-disputes/{b}/resolve");
    s.post(&resolve, Some(&s.operator_key), json!({"refundCents": 0})).await.assert_error(409, "invalid_transition");
    let d = change(&s, &poster, &post, &b, json!({"status": "DISPUTED"})).await;
    assert_eq!(d.body["bid"]["status"], "DISPUTED", "{}", d.body);

    let listed = s.get("/api/admin/bid-disputes", Some(&s.operator_key)).await;
    assert_eq!(
        (listed.body["total"].as_i64(), listed.body["bids"][0]["id"].as_str()),
        (Some(1), Some(b.as_str())),
        "{}",
        listed.body
    );
    s.get("/api/admin/bid-disputes", Some(&poster)).await.assert_error(403, "forbidden");
    s.post(&resolve, Some(&s.operator_key), json!({"refundCents": 2_001})).await.assert_error(422, "validation_error");
    let r = s.post(&resolve, Some(&s.operator_key), json!({"refundCents": 500, "note": "late"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["bid"]["status"], "COMPLETED");
    assert_eq!(r.body["bid"]["resolution"]["note"], "late");
    assert_eq!(s.balance(&poster).await, 5_100 - 2_000 + 500);
    assert_eq!(s.balance(&bidder).await, 100 + 1_500 - 150, "the fee on the bidder's part only");
    s.post(&resolve, Some(&s.operator_key), json!({"refundCents": 0})).await.assert_error(409, "invalid_transition");
    s.assert_ledger_sound().await;
}
