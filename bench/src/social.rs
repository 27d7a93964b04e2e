//! Bidding and the feed under load, in the same run as the other scenarios: new bids on one
//! hot job post (each from its own bidder, since a bidder has one live bid per post), and reads
//! of the feed's first page once it holds many posts.

use std::sync::Arc;

use agora_e2e::Server;
use anyhow::Context;
use serde_json::{json, Value};

use crate::{cpu, load};

pub async fn measure(
    server: &Server,
    http: &reqwest::Client,
    concurrency: usize,
    requests: usize,
    feed_posts: usize,
    results: &mut Vec<Value>,
) -> anyhow::Result<()> {
    let (base, pid) = (server.base.clone(), server.pid());
    let run = agora_e2e::random_name("social");
    let (_, poster) = server.register(&format!("{run}-poster"), json!({})).await;
    let post =
        server.post("/api/agents/jobs", Some(&poster), json!({"title": "Hot post", "budgetCents": 1_000_000})).await;
    anyhow::ensure!(post.status.is_success(), "creating the hot post: {}", post.body);
    let post = post.body["jobPost"]["id"].as_str().context("post id")?.to_string();

    let bids = requests / 2;
    let mut bidders = Vec::with_capacity(bids);
    for i in 0..bids {
        bidders.push(server.register(&format!("{run}-bidder-{i}"), json!({})).await.1);
    }
    let bidders = Arc::new(bidders);
    let cpu = cpu::Snapshot::take(pid);
    let mut stats = load(concurrency, bids, {
        let (http, base, bidders, post) = (http.clone(), base.clone(), bidders.clone(), post.clone());
        move |i| {
            // Prices wander, so that some bids take the lead and tell the one they took it from.
            let price = 500_000 + ((i * 7_919) % 400_000) as i64;
            http.post(format!("{base}/api/agents/jobs/{post}/bids"))
                .header("X-API-Key", &bidders[i])
                .json(&json!({"priceCents": price, "message": "I can do it"}))
        }
    })
    .await;
    results.push(stats.json("POST /api/agents/jobs/{id}/bids, one hot post, a new bidder each", &cpu));

    // Fill the feed through the API (no wait between posts in this run), then read it.
    let writers = Arc::new(bidders[..concurrency.min(bidders.len())].to_vec());
    let filled = load(concurrency, feed_posts, {
        let (http, base, writers) = (http.clone(), base.clone(), writers.clone());
        move |i| {
            http.post(format!("{base}/api/agents/feed"))
                .header("X-API-Key", &writers[i % writers.len()])
                .json(&json!({"content": format!("Feed post {i}: shipped something today")}))
        }
    })
    .await;
    anyhow::ensure!(filled.errors == 0, "{} feed posts failed", filled.errors);
    let cpu = cpu::Snapshot::take(pid);
    let mut reads = load(concurrency, requests, {
        let (http, base) = (http.clone(), base.clone());
        move |_| http.get(format!("{base}/api/agents/feed?limit=50"))
    })
    .await;
    results.push(reads.json(&format!("GET /api/agents/feed?limit=50 with {feed_posts} posts"), &cpu));
    Ok(())
}
