//! Verifying an agent's identity against a profile server on loopback: the code present, absent,
//! the server down; the badge on the profile and in the directory.

use agora_e2e::{Options, Server, StatusCode, TestHttp};
use serde_json::json;

#[tokio::test]
async fn a_code_in_the_profile_gives_the_badge() {
    // The "GitHub" profiles: octo-bot's page shows whatever code it was told to; others 404.
    let shown = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let page = shown.clone();
    let profiles = TestHttp::start(move |path, _| match path {
        "/github/octo-bot" => {
            (200, vec![], format!("<html><p>Bio: builds things. {}</p></html>", page.lock().unwrap()))
        }
        _ => (404, vec![], "no such user".into()),
    })
    .await;
    let options = Options::default()
        .env("AGORA_ALLOW_PRIVATE_HTTP", "true")
        .env("AGORA_VERIFY_GITHUB_URL", &profiles.url("/github/{handle}"))
        .env("AGORA_VERIFY_BLUESKY_URL", "http://127.0.0.1:9/{handle}");
    let s = Server::start_with(options).await;
    let (id, key) = s.register("Octo", json!({})).await;

    s.post("/api/agents/verify", Some(&key), json!({"platform": "myspace", "handle": "x"}))
        .await
        .assert_error(422, "validation_error");
    s.post("/api/agents/verify", Some(&key), json!({"platform": "github", "handle": "../etc"}))
        .await
        .assert_error(422, "validation_error");
    s.post("/api/agents/verify/confirm", Some(&key), json!({"platform": "github"}))
        .await
        .assert_error(409, "verification_not_started");
    let started = s.post("/api/agents/verify", Some(&key), json!({"platform": "GitHub", "handle": "@octo-bot"})).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    assert_eq!(
        (started.body["platform"].as_str(), started.body["handle"].as_str()),
        (Some("github"), Some("octo-bot"))
    );
    let code = started.body["verificationCode"].as_str().unwrap().to_string();

    // Not there yet.
    let absent = s.post("/api/agents/verify/confirm", Some(&key), json!({"platform": "github"})).await;
    assert_eq!(absent.status, StatusCode::OK, "{}", absent.body);
    assert_eq!(absent.body["verified"], false);
    assert_eq!(absent.body["verificationCode"], code.as_str());
    assert!(absent.body["error"].as_str().unwrap().contains("not found"));
    assert_eq!(s.get(&format!("/api/agents/{id}"), None).await.body["agent"]["verified"], false);

    // There: verified, with the badge on the profile and in the directory's filter.
    *shown.lock().unwrap() = code.clone();
    let found = s.post("/api/agents/verify/confirm", Some(&key), json!({"platform": "github"})).await;
    assert_eq!(found.body["verified"], true, "{}", found.body);
    assert_eq!(found.body["message"], "Successfully verified as octo-bot on github!");
    let profile = s.get(&format!("/api/agents/{id}"), None).await;
    assert_eq!(profile.body["agent"]["verified"], true, "{}", profile.body);
    assert_eq!(profile.body["agent"]["verifiedPlatforms"], json!(["github"]));
    let listed = s.get("/api/agents/verify", Some(&key)).await;
    assert_eq!(listed.body["platforms"][0]["verified"], true, "{}", listed.body);
    assert!(listed.body["platforms"][0]["verifiedAt"].is_string());
    let (_, _) = s.register("Unverified", json!({})).await;
    let directory = s.get("/api/agents?verified=true", None).await;
    let names: Vec<&str> =
        directory.body["data"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Octo"], "{}", directory.body);

    // A profile server that is down: 502, and nothing changes.
    s.post("/api/agents/verify", Some(&key), json!({"platform": "bluesky", "handle": "octo.bsky.social"})).await;
    let down = s.post("/api/agents/verify/confirm", Some(&key), json!({"platform": "bluesky"})).await;
    down.assert_error(502, "profile_unreachable");
    assert_eq!(s.get(&format!("/api/agents/{id}"), None).await.body["agent"]["verifiedPlatforms"], json!(["github"]));
    // A handle whose profile does not exist is unreachable too (404 at the platform).
    s.post("/api/agents/verify", Some(&key), json!({"platform": "github", "handle": "nobody"})).await;
    s.post("/api/agents/verify/confirm", Some(&key), json!({"platform": "github"}))
        .await
        .assert_error(502, "profile_unreachable");
    assert_eq!(
        s.get(&format!("/api/agents/{id}"), None).await.body["agent"]["verified"],
        false,
        "a new handle needs a new proof"
    );
}
