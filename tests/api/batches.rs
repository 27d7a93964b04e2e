//! Group commit under load: many clients' writes share transactions, yet every answer matches
//! the database, a failing write takes nothing else with it, a crash loses no answered write,
//! and two servers can share one PostgreSQL database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agora_e2e::{backend, Backend, Options, Server, StatusCode};
use serde_json::{json, Value};

/// One client of the load: an agent of its own, and what the server acknowledged to it.
struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
    echo: String,
    /// Its balance as of its last acknowledged write.
    balance: Option<i64>,
    deposits: Vec<String>,
    executions: Vec<String>,
    refused: usize,
}

impl Client {
    async fn post(&self, path: &str, body: Value) -> Result<(StatusCode, Value), reqwest::Error> {
        let r =
            self.http.post(format!("{}{path}", self.base)).header("X-API-Key", &self.key).json(&body).send().await?;
        let status = r.status();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    /// Operation number `i` of the mix; `Err` when the server could not be reached.
    async fn operate(&mut self, i: usize) -> Result<(), reqwest::Error> {
        match i % 8 {
            0..=3 => {
                let (status, body) = self.post("/api/agents/wallet/deposit", json!({"amountCents": 100})).await?;
                assert_eq!(status, StatusCode::OK, "{body}");
                self.deposits.push(body["deposit"]["transactionId"].as_str().unwrap().to_string());
                self.balance = body["balance"].as_i64();
            }
            4 | 5 => {
                let task = json!({"agent_id": self.echo, "task_description": "hello", "budget": 2});
                let (status, body) = self.post("/api/execute", task).await?;
                assert_eq!(status, StatusCode::OK, "{body}");
                self.executions.push(body["data"]["execution_id"].as_str().unwrap().to_string());
                self.balance = body["balance"].as_i64();
            }
            6 => {
                // Fails inside its unit, at the first write.
                let (status, body) =
                    self.post("/api/agents/wallet/withdraw", json!({"amountCents": 1_000_000_000})).await?;
                assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
                self.refused += 1;
            }
            _ => {
                // Fails inside its unit after a write (the escrow account of the hold).
                let task = json!({"agent_id": self.echo, "task_description": "hello", "budget": 90_000_000});
                let (status, body) = self.post("/api/execute", task).await?;
                assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
                self.refused += 1;
            }
        }
        Ok(())
    }
}

/// `count` clients spread over `servers`, each with an agent of its own.
async fn clients(servers: &[&Server], count: usize, echo: &str) -> Vec<Client> {
    let mut clients = Vec::with_capacity(count);
    for i in 0..count {
        let s = servers[i % servers.len()];
        let (_, key) = s.register(&agora_e2e::random_name("load"), json!({})).await;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        clients.push(Client {
            http,
            base: s.base.clone(),
            key,
            echo: echo.to_string(),
            balance: None,
            deposits: Vec::new(),
            executions: Vec::new(),
            refused: 0,
        });
    }
    clients
}

/// Runs `per_client` operations on every client at once; returns the clients when all are done.
async fn run_all(clients: Vec<Client>, per_client: usize) -> Vec<Client> {
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(n, mut c)| {
            tokio::spawn(async move {
                for i in 0..per_client {
                    c.operate(n + i).await.expect("the server answers");
                }
                c
            })
        })
        .collect();
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.unwrap());
    }
    done
}

/// Every acknowledged write is in the database, and no failed one left anything behind.
async fn assert_answers_match_the_database(s: &Server, clients: &[Client]) {
    let db = agora::db::Db::connect(&s.database_url, 2).await.unwrap();
    for c in clients {
        for id in &c.deposits {
            let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transfers WHERE id = $1 AND kind = 'DEPOSIT'")
                .bind(id)
                .fetch_one(&*db.read)
                .await
                .unwrap();
            assert_eq!(found, 1, "acknowledged deposit {id} is in the ledger");
        }
        for id in &c.executions {
            let status: Option<String> = sqlx::query_scalar("SELECT status FROM executions WHERE id = $1")
                .bind(id)
                .fetch_optional(&*db.read)
                .await
                .unwrap();
            assert_eq!(status.as_deref(), Some("succeeded"), "acknowledged execution {id}");
        }
    }
    let escrows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE kind = 'escrow'").fetch_one(&*db.read).await.unwrap();
    let holds: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM holds").fetch_one(&*db.read).await.unwrap();
    assert_eq!(escrows, holds, "a refused hold leaves no escrow account behind");
    db.close().await;
}

fn load_options() -> Options {
    Options::default().env("AGORA_DB_MAX_CONNECTIONS", "16").env("AGORA_LOG_LEVEL", "warn")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_mixed_writes_from_64_clients_match_the_database() {
    let s = Server::start_with(load_options()).await;
    let (echo, _, _) = s.component_agent("echo", 1, json!({})).await;
    let clients = clients(&[&s], 64, &echo).await;
    let clients = run_all(clients, 10_000 / 64 + 1).await;

    for c in &clients {
        let (balance, _, _) = s.wallet(&c.key).await;
        assert_eq!(Some(balance), c.balance, "the last answer a client got is its balance");
        assert!(c.refused > 0);
    }
    assert_answers_match_the_database(&s, &clients).await;
    s.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_load_loses_no_acknowledged_write() {
    let mut s = Server::start_with(load_options()).await;
    let (echo, _, _) = s.component_agent("echo", 1, json!({})).await;
    let clients = clients(&[&s], 32, &echo).await;
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(n, mut c)| {
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    if c.operate(n + i).await.is_err() {
                        break;
                    }
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                }
                c
            })
        })
        .collect();
    agora_e2e::eventually("500 acknowledged writes", Duration::from_secs(60), || async {
        (acknowledged.load(Ordering::Relaxed) >= 500).then_some(())
    })
    .await;
    s.kill_now();
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.unwrap());
    }
    s.reap().await;
    s.relaunch().await;

    assert_answers_match_the_database(&s, &clients).await;
    s.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_postgresql_database() {
    if backend() != Backend::Postgres {
        return; // Two processes on one SQLite file is not a supported deployment.
    }
    let first = Server::start_with(load_options().env("AGORA_DB_COMMIT_LANES", "2")).await;
    let second = Server::start_beside(&first).await;
    let (echo, _, _) = first.component_agent("echo", 1, json!({})).await;
    let clients = clients(&[&first, &second], 32, &echo).await;
    let clients = run_all(clients, 40).await;

    for c in &clients {
        let (balance, _, _) = second.wallet(&c.key).await;
        assert_eq!(Some(balance), c.balance, "either server answers with what the other wrote");
    }
    assert_answers_match_the_database(&first, &clients).await;
    first.assert_ledger_sound().await;
}
