//! Publishing: signed, validated, content-addressed, compiled once; the author CLI.

use agora_e2e::{guest, Options, Server, StatusCode};
use base64::Engine as _;
use serde_json::json;

#[tokio::test]
async fn cli_keygen_and_publish_then_run() {
    let s = Server::start().await;
    let (agent, key) = s.register("Cli Author", json!({"price_per_task": 5})).await;
    let key_file = s.dir.path().join("author.key");
    let out = s.command().args(["keygen", "--key-file"]).arg(&key_file).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made["created"], true);
    assert_eq!(made["publicKey"].as_str().unwrap().len(), 64);

    let wasm = s.dir.path().join("echo.wasm");
    std::fs::write(&wasm, guest("echo")).unwrap();
    let publish = |version: &'static str| {
        let mut cmd = s.command();
        cmd.env("AGORA_URL", &s.base)
            .env("AGORA_API_KEY", &key)
            .arg("publish")
            .arg(&wasm)
            .args(["--kind", "agent", "--name", "echo", "--version", version, "--key-file"])
            .arg(&key_file);
        cmd.output()
    };
    let out = publish("1.0.0").await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let published: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &published["component"];
    assert_eq!(c["kind"], "agent");
    assert_eq!(c["version"], "1.0.0");
    assert_eq!(c["signed"], true);
    assert_eq!(c["publisher"]["id"], agent);
    assert!(c["digest"].as_str().unwrap().starts_with("sha256:"));
    // The key was registered once, by the first publish.
    let keys = s.get("/api/agents/me/signing-keys", Some(&key)).await;
    assert_eq!(keys.body["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys.body["keys"][0]["publicKey"], made["publicKey"]);

    // The same version again is refused, with the server's reason.
    let again = publish("1.0.0").await.unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("version_exists"));

    let id = c["id"].as_str().unwrap();
    let got = s.get(&format!("/api/components/{id}"), None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["component"]["digest"], c["digest"]);
    let r = s.request("PATCH", "/api/agents/me", Some(&key), Some(json!({"componentId": id}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["agent"]["runtime"], "component");
    let (_, buyer) = s.buyer(1000).await;
    let done = s.execute(&buyer, &agent, "hello from the CLI", 10).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["data"]["result"], "hello from the CLI");
}

#[tokio::test]
async fn same_bytes_are_stored_once_and_listed() {
    let s = Server::start().await;
    let (publisher_id, key) = s.register("Twice", json!({})).await;
    let p = s.publisher(&key).await;
    let bytes = guest("echo");
    let a = s.publish(&p, &bytes, "agent", "echo-a", json!({})).await;
    let b = s.publish(&p, &bytes, "agent", "echo-b", json!({})).await;
    assert_eq!((a.status, b.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(a.body["component"]["digest"], b.body["component"]["digest"]);
    assert_ne!(a.body["component"]["id"], b.body["component"]["id"]);
    let db = agora::db::Db::connect(&s.database_url, 1).await.unwrap();
    let blobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM component_blobs").fetch_one(&*db.read).await.unwrap();
    assert_eq!(blobs, 1, "content-addressed: one copy of the bytes");
    db.close().await;

    let list = s.get(&format!("/api/components?publisher={publisher_id}&kind=agent"), None).await;
    assert_eq!(list.body["meta"]["total"], 2);
    assert_eq!(s.get("/api/components?q=echo-b", None).await.body["meta"]["total"], 1);
    assert_eq!(s.get("/api/components?kind=policy", None).await.body["meta"]["total"], 0);
    s.get("/api/components?kind=robot", None).await.assert_error(400, "invalid_query");
    s.get("/api/components/nope", None).await.assert_error(404, "not_found");
}

#[tokio::test]
async fn tampered_unsigned_and_wrong_world_components_are_refused() {
    let s = Server::start().await;
    let (_, key) = s.register("Careful Author", json!({})).await;
    let p = s.publisher(&key).await;
    let bytes = guest("echo");
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);

    // One byte changed after signing.
    let signature = p.signing.sign_component(&bytes);
    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let body = json!({"kind": "agent", "name": "echo", "version": "1.0.0", "component": b64(&tampered), "signature": signature});
    s.post("/api/components", Some(&key), body).await.assert_error(422, "invalid_signature");

    // Signed by a key this agent never registered.
    let stranger = agora::components::signing::AuthorKey::generate();
    let body = json!({"kind": "agent", "name": "echo", "version": "1.0.0", "component": b64(&bytes),
        "signature": stranger.sign_component(&bytes)});
    s.post("/api/components", Some(&key), body).await.assert_error(422, "invalid_signature");

    let unsigned = json!({"kind": "agent", "name": "echo", "version": "1.0.0", "component": b64(&bytes)});
    s.post("/api/components", Some(&key), unsigned.clone()).await.assert_error(422, "signature_required");

    // An agent component declared as a policy, and the reverse.
    s.publish(&p, &bytes, "policy", "not-a-policy", json!({})).await.assert_error(400, "wrong_world");
    s.publish(&p, &guest("spend-cap"), "agent", "not-an-agent", json!({})).await.assert_error(400, "wrong_world");
    // A core module and garbage are not components.
    s.publish(&p, b"\0asm\x01\0\0\0", "agent", "core", json!({})).await.assert_error(400, "invalid_component");
    s.publish(&p, b"hello", "agent", "garbage", json!({})).await.assert_error(400, "invalid_component");
    // Bad manifests.
    s.publish(&p, &guest("spend-cap"), "policy", "greedy", json!({"kv": true}))
        .await
        .assert_error(422, "validation_error");
    s.publish(&p, &bytes, "agent", "Bad Name!", json!({})).await.assert_error(422, "validation_error");
    s.publish(&p, &bytes, "robot", "echo", json!({})).await.assert_error(422, "validation_error");
    s.publish(&p, &bytes, "agent", "echo", json!({"http": ["not a host"]})).await.assert_error(422, "validation_error");
    let body =
        json!({"kind": "agent", "name": "echo", "version": "one", "component": b64(&bytes), "signature": signature});
    s.post("/api/components", Some(&key), body).await.assert_error(422, "validation_error");
    let body = json!({"kind": "agent", "name": "echo", "version": "1.0.0", "component": "%%%", "signature": signature});
    s.post("/api/components", Some(&key), body).await.assert_error(422, "validation_error");
    assert_eq!(s.get("/api/components", None).await.body["meta"]["total"], 0, "nothing was stored");

    // A policy with no capabilities is fine.
    let ok = s.publish(&p, &guest("spend-cap"), "policy", "spend-cap", json!({})).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
}

#[tokio::test]
async fn unsigned_uploads_when_the_operator_allows_them() {
    let s = Server::start_with(Options::default().env("AGORA_ALLOW_UNSIGNED_COMPONENTS", "true")).await;
    let (_, key) = s.register("Loose", json!({})).await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(guest("echo"));
    let r = s
        .post(
            "/api/components",
            Some(&key),
            json!({"kind": "agent", "name": "echo", "version": "0.1.0", "component": b64}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["component"]["signed"], false);
}

#[tokio::test]
async fn agents_run_only_their_own_agent_components() {
    let s = Server::start().await;
    let (agent, _, component) = s.component_agent("counter", 0, json!({"kv": true})).await;
    let profile = s.get(&format!("/api/agents/{agent}"), None).await;
    assert_eq!(profile.body["agent"]["runtime"], "component");
    assert_eq!(profile.body["agent"]["component"]["id"], component);
    assert_eq!(
        profile.body["agent"]["component"]["capabilities"],
        json!({"kv": true, "http": [], "skills": false, "marketplace": false, "llm": false, "messaging": false})
    );

    let (_, other) = s.register("Other", json!({})).await;
    s.request("PATCH", "/api/agents/me", Some(&other), Some(json!({"componentId": component})))
        .await
        .assert_error(403, "forbidden");
    let p = s.publisher(&other).await;
    let policy = s.publish(&p, &guest("spend-cap"), "policy", "cap", json!({})).await;
    let pid = policy.body["component"]["id"].as_str().unwrap();
    s.request("PATCH", "/api/agents/me", Some(&other), Some(json!({"componentId": pid})))
        .await
        .assert_error(422, "validation_error");
    s.request("PATCH", "/api/agents/me", Some(&other), Some(json!({"componentId": "nope"})))
        .await
        .assert_error(422, "validation_error");
}

#[tokio::test]
async fn compiled_artifacts_survive_a_restart() {
    let mut s = Server::start().await;
    let (agent, _, _) = s.component_agent("echo", 0, json!({})).await;
    let cache = s.dir.path().join("components");
    // A rewrite would be a new file (written aside, then renamed over): a new inode.
    let artifacts = || -> Vec<(std::path::PathBuf, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::read_dir(&cache)
            .map(|d| d.flatten().map(|e| (e.path(), e.metadata().unwrap().ino())).collect())
            .unwrap_or_default()
    };
    let before = artifacts();
    assert_eq!(before.len(), 1, "one compiled artifact in {}", cache.display());
    s.restart().await;
    let (_, buyer) = s.buyer(100).await;
    let r = s.execute(&buyer, &agent, "after restart", 10).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(artifacts(), before, "the artifact was loaded, not rewritten");
}
