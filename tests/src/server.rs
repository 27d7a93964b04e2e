//! The server under test: the real `agora` binary on a free loopback port, against SQLite (a
//! fresh data directory) or PostgreSQL (a fresh database on the server named by
//! `AGORA_TEST_POSTGRES_URL`), chosen by `AGORA_TEST_BACKEND=sqlite|postgres`; and plain
//! requests to it.

use std::path::{Path, PathBuf};

use crate::Reply;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

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

/// The `agora` binary: `AGORA_BIN`, or the workspace's debug build (built on first use).
pub fn agora_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(bin) = std::env::var("AGORA_BIN") {
            return PathBuf::from(bin);
        }
        let root = agora_testkit::repo_root();
        let status = agora_testkit::clean_command(env!("CARGO"))
            .args(["build", "-q", "-p", "agora-host", "--bin", "agora"])
            .current_dir(root)
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building the agora binary failed");
        let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
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

#[derive(Clone)]
pub struct Options {
    pub env: Vec<(String, String)>,
}

impl Default for Options {
    /// Limits out of the way of tests that make many requests from one address.
    fn default() -> Self {
        Options {
            env: vec![
                ("AGORA_RATE_LIMIT_PER_MINUTE".into(), "1000000".into()),
                ("AGORA_REGISTER_PER_HOUR".into(), "1000000".into()),
                ("AGORA_AGENT_MAX_CONCURRENT_EXECUTIONS".into(), "1000".into()),
            ],
        }
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

    /// A second server on `first`'s database (PostgreSQL), with its own data directory.
    pub async fn start_beside(first: &Server) -> Server {
        let mut server = Server {
            child: None,
            base: String::new(),
            dir: tempfile::tempdir().expect("temp dir"),
            database_url: first.database_url.clone(),
            operator_key: first.operator_key.clone(),
            options: first.options.clone(),
            http: first.http.clone(),
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

    /// Kills the server with SIGKILL, as a crash would, and waits until it is gone.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("server running");
        child.start_kill().expect("kill -9");
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("server dies").expect("wait");
    }

    /// Sends SIGKILL without waiting (for use while requests are in flight); `reap` after.
    pub fn kill_now(&self) {
        let status = std::process::Command::new("kill").args(["-KILL", &self.pid().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -9");
    }

    /// Waits for a killed server to be gone.
    pub async fn reap(&mut self) {
        let mut child = self.child.take().expect("server started");
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("server dies").expect("wait");
    }

    /// Starts the server again on the same address and data after `kill`.
    pub async fn relaunch(&mut self) {
        let addr = self.base.trim_start_matches("http://").to_string();
        self.launch(&addr).await;
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

    /// A request with extra headers.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path)).header("X-API-Key", key).json(&body);
        for (name, value) in headers {
            req = req.header(*name, *value);
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
}

impl Server {
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
