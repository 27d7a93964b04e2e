//! The `fetch` skill against a local HTTP server: grants, private addresses, redirects.

use super::support::{config, invocation, prepare, shared_cache_dir};
use crate::{CallError, ChatCall, ChatReply, ExecError, Execution, Grants, Guarded, Hired, Kind, Limits};
use crate::{NestedCalls, Runtime};
use futures::future::BoxFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves a few fixed routes on 127.0.0.1 and returns its port.
async fn start_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, port));
        }
    });
    port
}

async fn serve(mut stream: TcpStream, port: u16) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, extra, body) = match path.as_str() {
        "/hello" => ("200 OK", String::new(), b"hello from the test server".to_vec()),
        "/redirect-in" => ("302 Found", "location: /hello\r\n".to_string(), Vec::new()),
        "/redirect-out" => ("302 Found", format!("location: http://localhost:{port}/hello\r\n"), Vec::new()),
        "/loop" => ("302 Found", "location: /loop\r\n".to_string(), Vec::new()),
        "/big" => ("200 OK", String::new(), vec![b'x'; 5 << 20]),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            ("200 OK", String::new(), b"late".to_vec())
        }
        _ => ("404 Not Found", String::new(), b"no such page".to_vec()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

/// The fetch skill in a runtime of its own: pooled HTTP connections belong to the tokio
/// runtime of the test that opened them.
struct Fetcher {
    runtime: Arc<Runtime>,
    digest: String,
}

impl Fetcher {
    fn new() -> Self {
        let runtime = Runtime::new(config(shared_cache_dir(), 2, Duration::from_secs(5))).expect("runtime");
        let digest = prepare(&runtime, "fetch", Kind::Skill);
        Fetcher { runtime: Arc::new(runtime), digest }
    }

    async fn fetch(&self, url: &str, grants: Grants, limits: Limits) -> Execution<String> {
        self.fetch_under(url, grants, limits, None).await
    }

    async fn fetch_under(
        &self,
        url: &str,
        grants: Grants,
        limits: Limits,
        policies: Option<Arc<dyn NestedCalls>>,
    ) -> Execution<String> {
        let input = serde_json::json!({ "url": url }).to_string();
        let mut inv = invocation(limits, grants);
        inv.nested = policies;
        self.runtime.skill_invoke(&self.digest, input, inv).await
    }
}

/// The host's policies as the port decides them: every host but `refused` passes; records
/// what it was asked.
struct Policies {
    refused: &'static str,
    asked: Mutex<Vec<String>>,
}

impl NestedCalls for Policies {
    fn call_skill<'a>(&'a self, _: &'a str, _: String, _: Duration) -> BoxFuture<'a, Result<String, CallError>> {
        Box::pin(async { Err(CallError::Unavailable("not in this test".into())) })
    }

    fn hire<'a>(&'a self, _: &'a str, _: String, _: u64, _: Duration) -> BoxFuture<'a, Result<Hired, CallError>> {
        Box::pin(async { Err(CallError::Unavailable("not in this test".into())) })
    }

    fn chat<'a>(&'a self, _: ChatCall, _: Duration) -> BoxFuture<'a, Result<ChatReply, CallError>> {
        Box::pin(async { Err(CallError::Unavailable("not in this test".into())) })
    }

    fn send_message<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: String,
    ) -> BoxFuture<'a, Result<String, CallError>> {
        Box::pin(async { Err(CallError::Unavailable("not in this test".into())) })
    }

    fn authorize<'a>(&'a self, action: Guarded<'a>) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            let Guarded::Http { method, host } = action;
            self.asked.lock().unwrap().push(format!("{method} {host}"));
            if host == self.refused {
                return Err(CallError::Denied(format!("policy_denied: {host} is refused")));
            }
            Ok(())
        })
    }
}

fn grants(hosts: &[&str], allow_private_http: bool) -> Grants {
    Grants { http_hosts: hosts.iter().map(|h| h.to_string()).collect(), allow_private_http, ..Grants::default() }
}

fn denied_because(run: &Execution<String>, needle: &str) {
    match &run.result {
        Err(ExecError::CapabilityDenied(which)) => assert!(which.contains(needle), "{which}"),
        other => panic!("expected capability_denied ({needle}), got {other:?}"),
    }
}

#[tokio::test]
async fn fetch_reaches_a_granted_loopback_host_when_private_targets_are_allowed() {
    let port = start_server().await;
    let fetcher = Fetcher::new();
    let run =
        fetcher.fetch(&format!("http://127.0.0.1:{port}/hello"), grants(&["127.0.0.1"], true), Limits::default()).await;
    let output: serde_json::Value = serde_json::from_str(&run.result.expect("fetch succeeds")).unwrap();
    assert_eq!(output["status"], 200);
    assert_eq!(output["body"], "hello from the test server");
    assert_eq!(output["content_type"], "text/plain");
}

#[tokio::test]
async fn fetch_without_an_http_grant_is_denied() {
    let port = start_server().await;
    let fetcher = Fetcher::new();
    let run = fetcher.fetch(&format!("http://127.0.0.1:{port}/hello"), Grants::default(), Limits::default()).await;
    denied_because(&run, "http is not granted");
}

#[tokio::test]
async fn fetch_to_a_host_that_is_not_granted_is_denied() {
    let port = start_server().await;
    let fetcher = Fetcher::new();
    let run = fetcher
        .fetch(&format!("http://127.0.0.1:{port}/hello"), grants(&["example.com"], true), Limits::default())
        .await;
    denied_because(&run, "127.0.0.1 is not a granted host");
}

#[tokio::test]
async fn fetch_to_loopback_is_refused_unless_private_targets_are_allowed() {
    let port = start_server().await;
    let fetcher = Fetcher::new();
    let run = fetcher
        .fetch(&format!("http://127.0.0.1:{port}/hello"), grants(&["127.0.0.1"], false), Limits::default())
        .await;
    denied_because(&run, "loopback");
    // A name that resolves to loopback is refused by the resolver the connection uses.
    let run = fetcher
        .fetch(&format!("http://localhost:{port}/hello"), grants(&["localhost"], false), Limits::default())
        .await;
    denied_because(&run, "loopback");
}

#[tokio::test]
async fn redirects_are_followed_only_to_granted_hosts() {
    let port = start_server().await;
    let fetcher = Fetcher::new();
    let run = fetcher
        .fetch(&format!("http://127.0.0.1:{port}/redirect-in"), grants(&["127.0.0.1"], true), Limits::default())
        .await;
    let output: serde_json::Value = serde_json::from_str(&run.result.expect("same-host redirect")).unwrap();
    assert_eq!(output["body"], "hello from the test server");

    let run = fetcher
        .fetch(&format!("http://127.0.0.1:{port}/redirect-out"), grants(&["127.0.0.1"], true), Limits::default())
        .await;
    denied_because(&run, "localhost is not a granted host");

    let run =
        fetcher.fetch(&format!("http://127.0.0.1:{port}/loop"), grants(&["127.0.0.1"], true), Limits::default()).await;
    assert!(matches!(&run.result, Err(ExecError::Guest { message, .. }) if message.contains("redirects")), "{run:?}");
}

#[tokio::test]
async fn large_and_slow_responses_are_errors_for_the_guest() {
    let port = start_server().await;
    let fetcher = Fetcher::new();
    let run =
        fetcher.fetch(&format!("http://127.0.0.1:{port}/big"), grants(&["127.0.0.1"], true), Limits::default()).await;
    assert!(matches!(&run.result, Err(ExecError::Guest { kind, .. }) if kind == "failed"), "{:?}", run.result);

    let limits = Limits { host_call_timeout: Duration::from_millis(300), ..Limits::default() };
    let started = std::time::Instant::now();
    let run = fetcher.fetch(&format!("http://127.0.0.1:{port}/slow"), grants(&["127.0.0.1"], true), limits).await;
    assert!(matches!(&run.result, Err(ExecError::Guest { kind, .. }) if kind == "unavailable"), "{:?}", run.result);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn the_hosts_policies_decide_every_host_a_request_reaches() {
    let port = start_server().await;
    let fetcher = Fetcher::new();
    let policies = Arc::new(Policies { refused: "localhost", asked: Mutex::new(Vec::new()) });
    let both = grants(&["127.0.0.1", "localhost"], true);
    let run = fetcher
        .fetch_under(
            &format!("http://127.0.0.1:{port}/redirect-in"),
            both.clone(),
            Limits::default(),
            Some(policies.clone()),
        )
        .await;
    run.result.expect("a same-host redirect is decided once and allowed");
    assert_eq!(policies.asked.lock().unwrap().as_slice(), ["GET 127.0.0.1"]);

    let run = fetcher
        .fetch_under(&format!("http://127.0.0.1:{port}/redirect-out"), both, Limits::default(), Some(policies.clone()))
        .await;
    denied_because(&run, "localhost is refused");
    assert_eq!(policies.asked.lock().unwrap().as_slice(), ["GET 127.0.0.1", "GET 127.0.0.1", "GET localhost"]);

    // A host the component is not granted is refused before any policy is asked.
    let run = fetcher
        .fetch_under(
            &format!("http://127.0.0.1:{port}/hello"),
            grants(&["example.com"], true),
            Limits::default(),
            Some(policies.clone()),
        )
        .await;
    denied_because(&run, "not a granted host");
    assert_eq!(policies.asked.lock().unwrap().len(), 3);
}
