//! Test harness: starts the real `agora` binary on a free loopback port, against SQLite (a
//! fresh data directory) or PostgreSQL (a fresh database on the server named by
//! `AGORA_TEST_POSTGRES_URL`), chosen by `AGORA_TEST_BACKEND=sqlite|postgres`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use reqwest::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn backend() -> Backend {
    match std::env::var("AGORA_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("AGORA_TEST_BACKEND={other}: expected sqlite or postgres"),
    }
}

/// A command that does not inherit the variables cargo sets for this test crate: a nested
/// cargo that saw them would fingerprint build scripts differently (ring tracks
/// `CARGO_MANIFEST_DIR`) and rebuild half the world on every test binary.
fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The `agora` binary: `AGORA_BIN`, or the workspace's debug build (built on first use).
pub fn agora_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(bin) = std::env::var("AGORA_BIN") {
            return PathBuf::from(bin);
        }
        let status = clean_command(env!("CARGO"))
            .args(["build", "-q", "-p", "agora-host", "--bin", "agora"])
            .current_dir(workspace_root())
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building the agora binary failed");
        let target =
            std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join("target"));
        target.join("debug").join("agora")
    })
    .clone()
}

pub fn random_name(prefix: &str) -> String {
    format!("{prefix}-{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 10).to_lowercase())
}

/// A valid operator key, for `AGORA_OPERATOR_KEY`.
pub fn new_operator_key() -> String {
    format!("op_{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 48))
}

/// A database for one test: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database_url(dir: &Path) -> String {
    match backend() {
        Backend::Sqlite => format!("sqlite://{}", dir.join("agora.db").display()),
        Backend::Postgres => {
            let admin = std::env::var("AGORA_TEST_POSTGRES_URL")
                .expect("AGORA_TEST_POSTGRES_URL must name a PostgreSQL server (see scripts/with-postgres.sh)");
            let name = random_name("agora_test").replace('-', "_");
            let mut conn =
                <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.expect("connecting to PostgreSQL");
            sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("creating a database");
            let (base, _) = admin.rsplit_once('/').unwrap();
            format!("{base}/{name}")
        }
    }
}

pub struct Options {
    pub env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options { env: vec![("AGORA_RATE_LIMIT_PER_MINUTE".into(), "1000000".into())] }
    }
}

impl Options {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pub operator_key: String,
    pub options: Options,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database_url(dir.path()).await;
        let mut server = Server {
            child: None,
            base: String::new(),
            dir,
            database_url,
            operator_key: new_operator_key(),
            options,
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
        };
        server.launch("127.0.0.1:0").await;
        server
    }

    /// A command line for this server's data (for `agora admin ...`).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(agora_bin());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AGORA_DATA_DIR", self.dir.path())
            .env("AGORA_DATABASE_URL", &self.database_url)
            .env("AGORA_OPERATOR_KEY", &self.operator_key)
            .env("AGORA_ALLOW_INSECURE_URLS", "true")
            .env("AGORA_LOG_LEVEL", "info");
        for (k, v) in &self.options.env {
            cmd.env(k, v);
        }
        cmd
    }

    async fn launch(&mut self, listen: &str) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let mut child = self
            .command()
            .args(["serve", "--listen", listen])
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("starting agora");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wait = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("agora listening on ") {
                    return Some(url.to_string());
                }
            }
            None
        };
        match tokio::time::timeout(Duration::from_secs(60), wait).await {
            Ok(Some(url)) => self.base = url,
            _ => panic!("agora did not start; log:\n{}", self.log()),
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).expect("server running")
    }

    /// Sends SIGTERM; returns the process's exit status.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let pid = child.id().expect("pid").to_string();
        Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("server stops").expect("wait")
    }

    /// Waits for a server that was already signalled to exit.
    pub async fn stop_after_signal(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("server stops").expect("wait")
    }

    /// Stops the server and starts it again on the same address and data.
    pub async fn restart(&mut self) {
        assert!(self.stop().await.success(), "clean shutdown; log:\n{}", self.log());
        let addr = self.base.trim_start_matches("http://").to_string();
        self.launch(&addr).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn request(&self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::from(req.send().await.expect("request sent")).await
    }

    /// A POST with an `Idempotency-Key`.
    pub async fn post_idempotent(&self, path: &str, key: &str, idempotency_key: &str, body: Value) -> Reply {
        let req = self.http.post(self.url(path)).header("X-API-Key", key).header("Idempotency-Key", idempotency_key);
        Reply::from(req.json(&body).send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        self.request("GET", path, key, None).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: Value) -> Reply {
        self.request("POST", path, key, Some(body)).await
    }

    /// Registers an agent; returns (id, api key).
    pub async fn register(&self, name: &str, extra: Value) -> (String, String) {
        let mut body = json!({ "name": name });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self.post("/api/agents/register", None, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "register: {}", r.body);
        (r.body["agent"]["id"].as_str().unwrap().into(), r.body["agent"]["apiKey"].as_str().unwrap().into())
    }

    pub async fn balance(&self, key: &str) -> i64 {
        let r = self.get("/api/wallet", Some(key)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["balance"].as_i64().unwrap()
    }

    pub async fn assert_ledger_sound(&self) -> Value {
        let r = self.get("/api/admin/ledger/check", Some(&self.operator_key)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["ok"], json!(true), "ledger check: {}", r.body);
        assert_eq!(r.body["totalCents"], json!(0));
        r.body
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn from(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    /// Whether the server replayed a stored idempotent response.
    pub fn replayed(&self) -> bool {
        self.headers.get("idempotent-replayed").is_some_and(|v| v == "true")
    }

    /// Asserts the API's error shape with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "expected {status} {code}, got {}", self.body);
        assert_eq!(self.body["error"]["code"], json!(code), "error code in {}", self.body);
        assert!(self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "message in {}", self.body);
    }
}

/// A built guest component (`guests/dist/<name>.wasm`), built on first use.
pub fn guest(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = clean_command(workspace_root().join("scripts/build-guests.sh"))
            .output()
            .expect("running scripts/build-guests.sh");
        assert!(
            out.status.success(),
            "building the guest components failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    let path = workspace_root().join("guests/dist").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An Ed25519 key registered on an agent, to sign components with.
pub struct Publisher {
    pub key: String,
    pub signing: agora::components::signing::AuthorKey,
}

impl Server {
    /// Registers a fresh signing key on the agent behind `key`.
    pub async fn publisher(&self, key: &str) -> Publisher {
        let signing = agora::components::signing::AuthorKey::generate();
        let r = self.post("/api/agents/me/signing-keys", Some(key), json!({"publicKey": signing.public_hex()})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        Publisher { key: key.to_string(), signing }
    }

    /// Publishes `bytes` signed by `p`; returns the reply.
    pub async fn publish(&self, p: &Publisher, bytes: &[u8], kind: &str, name: &str, capabilities: Value) -> Reply {
        use base64::Engine as _;
        let signature = p.signing.sign_component(bytes);
        let body = json!({
            "kind": kind, "name": name, "version": "0.1.0", "description": format!("{name} for tests"),
            "capabilities": capabilities,
            "component": base64::engine::general_purpose::STANDARD.encode(bytes),
            "signature": signature,
        });
        self.post("/api/components", Some(&p.key), body).await
    }

    /// Publishes a built guest and points a new agent at it; returns (agent id, agent key, component id).
    pub async fn component_agent(&self, guest_name: &str, price: i64, capabilities: Value) -> (String, String, String) {
        let (id, key) = self.register(&random_name(guest_name), json!({"price_per_task": price})).await;
        let p = self.publisher(&key).await;
        let r = self.publish(&p, &guest(guest_name), "agent", guest_name, capabilities).await;
        assert_eq!(r.status, StatusCode::CREATED, "publish {guest_name}: {}", r.body);
        let component = r.body["component"]["id"].as_str().unwrap().to_string();
        let r = self.request("PATCH", "/api/agents/me", Some(&key), Some(json!({"componentId": component}))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        (id, key, component)
    }

    /// A buyer with `cents` deposited on top of the sign-up credits; returns (id, key).
    pub async fn buyer(&self, cents: i64) -> (String, String) {
        let (id, key) = self.register(&random_name("buyer"), json!({})).await;
        if cents > 0 {
            let r = self.post("/api/agents/wallet/deposit", Some(&key), json!({"amountCents": cents})).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
        (id, key)
    }

    pub async fn execute(&self, key: &str, agent: &str, input: &str, budget: i64) -> Reply {
        self.post("/api/execute", Some(key), json!({"agent_id": agent, "task_description": input, "budget": budget}))
            .await
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    }
}

/// A tiny HTTP server on loopback for tests: every request is recorded and answered by `reply`.
pub struct TestHttp {
    pub addr: std::net::SocketAddr,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String, String)>>>,
}

impl TestHttp {
    pub async fn start(
        reply: impl Fn(&str, &str) -> (u16, Vec<(String, String)>, String) + Clone + Send + Sync + 'static,
    ) -> TestHttp {
        use axum::response::IntoResponse;
        let seen: std::sync::Arc<std::sync::Mutex<Vec<_>>> = Default::default();
        let log = seen.clone();
        let app =
            axum::Router::new().fallback(move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                let (reply, log) = (reply.clone(), log.clone());
                async move {
                    let path = uri.path().to_string();
                    log.lock().unwrap().push((headers, path.clone(), body.clone()));
                    let (status, hdrs, text) = reply(&path, &body);
                    let mut resp = (axum::http::StatusCode::from_u16(status).unwrap(), text).into_response();
                    for (k, v) in hdrs {
                        resp.headers_mut().insert(
                            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                            axum::http::HeaderValue::from_str(&v).unwrap(),
                        );
                    }
                    resp
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestHttp { addr, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}
