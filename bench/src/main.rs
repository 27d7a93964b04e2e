//! Load benchmarks over loopback against the real release binary.
//!
//! `agora-bench measure --backend sqlite|postgres --out FILE` starts a server (through the test
//! harness, so PostgreSQL needs `AGORA_TEST_POSTGRES_URL`), runs each scenario with N
//! concurrent clients for a fixed number of requests, and writes the results as JSON.
//! `agora-bench report FILE...` rewrites the generated section of docs/benchmarks.md.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_e2e::{Options, Server, TestHttp};

mod cpu;
mod gateway;
mod guardrails;
mod hops;
mod messaging;
mod runtime;
mod skills;
mod social;
mod webhooks;
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Measure {
        #[arg(long)]
        backend: String,
        #[arg(long)]
        out: String,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 4000)]
        requests: usize,
    },
    /// Instantiate-and-call against native, and concurrent executions held.
    Runtime {
        #[arg(long)]
        out: String,
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        /// Only the sequential calls, to profile one call (`perf record`): no native
        /// baseline, no concurrency, nothing written to `--out`.
        #[arg(long)]
        calls_only: bool,
    },
    /// What one statement costs the writer, with and without the round trip to the driver.
    Hops {
        /// A database URL, e.g. `sqlite:///tmp/hops.db` or `$AGORA_TEST_POSTGRES_URL`.
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 20_000)]
        statements: usize,
    },
    /// Webhook deliveries per second and the lag from event to delivery.
    Webhooks {
        #[arg(long)]
        backend: String,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 2000)]
        events: usize,
    },
    /// The model gateway's added latency against calling its upstream directly, at fixed rates,
    /// and streams' time to the first chunk.
    Gateway {
        #[arg(long)]
        backend: String,
        /// Requests per second, comma-separated.
        #[arg(long, default_value = "500,1000", value_delimiter = ',')]
        rates: Vec<u32>,
        #[arg(long, default_value_t = 5)]
        seconds: u32,
    },
    /// Guardrail checks (declarative, Wasm) against `/health`, and `/api/execute` with the
    /// policies enforced against without.
    Guardrails {
        #[arg(long)]
        backend: String,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 4000)]
        requests: usize,
    },
    /// Messages answered by a Wasm handler against a `sh -c` spawned per message, and one
    /// message fanned out to many event streams.
    Messaging {
        #[arg(long)]
        backend: String,
        #[arg(long, default_value_t = 16)]
        senders: usize,
        #[arg(long, default_value_t = 50)]
        rounds: usize,
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
    },
    /// Skill calls from components against running the skill directly, and licence checks
    /// against `/health`.
    Skills {
        #[arg(long)]
        backend: String,
        #[arg(long)]
        out: String,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 4000)]
        requests: usize,
    },
    Report {
        #[arg(long, default_value = "docs/benchmarks.md")]
        doc: String,
        #[arg(long)]
        runtime: Option<String>,
        files: Vec<String>,
    },
}

struct Stats {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Stats {
    /// The results since `cpu` was taken, with the CPU they cost.
    fn json(&mut self, scenario: &str, cpu: &cpu::Snapshot) -> Value {
        self.json_with(scenario, cpu.since())
    }

    /// The results, with the CPU they cost.
    fn json_with(&mut self, scenario: &str, cpu: cpu::Usage) -> Value {
        self.latencies_us.sort_unstable();
        let pct = |p: f64| {
            let i = ((self.latencies_us.len() as f64 * p).ceil() as usize).clamp(1, self.latencies_us.len()) - 1;
            self.latencies_us[i] as f64 / 1000.0
        };
        json!({
            "scenario": scenario,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": self.elapsed.as_secs_f64(),
            "per_second": self.requests as f64 / self.elapsed.as_secs_f64(),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "cpu": cpu.per_request(self.requests),
        })
    }

    /// Adds another run's results to these.
    fn absorb(&mut self, other: Stats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies_us.extend(other.latencies_us);
    }
}

/// Runs operation `0..total` from `concurrency` concurrent workers, timing each; an operation
/// answers whether it succeeded.
async fn drive<F, Fut>(concurrency: usize, total: usize, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (op, next) = (op.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                errors += usize::from(!op(i).await);
                lat.push(t.elapsed().as_micros() as u64);
            }
            (lat, errors)
        }));
    }
    let mut stats = Stats { requests: total, errors: 0, elapsed: Duration::ZERO, latencies_us: Vec::new() };
    for w in workers {
        let (lat, errors) = w.await.expect("worker");
        stats.latencies_us.extend(lat);
        stats.errors += errors;
    }
    stats.elapsed = started.elapsed();
    stats
}

/// Sends `total` HTTP requests from `concurrency` clients; `make(i)` builds request number i.
async fn load<F>(concurrency: usize, total: usize, make: F) -> Stats
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let reported = Arc::new(std::sync::atomic::AtomicBool::new(false));
    drive(concurrency, total, move |i| {
        let (req, reported) = (make(i), reported.clone());
        async move {
            let failure = match req.send().await {
                Ok(r) if r.status().is_success() => return r.bytes().await.is_ok(),
                Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            // One sample per scenario, so a broken run says why.
            if !reported.swap(true, Ordering::Relaxed) {
                eprintln!("first failure: {failure}");
            }
            false
        }
    })
    .await
}

async fn measure(backend: &str, out: &str, concurrency: usize, requests: usize) -> anyhow::Result<()> {
    std::env::set_var("AGORA_TEST_BACKEND", backend);
    let mut options = Options::default()
        .env("AGORA_LOG_LEVEL", "warn")
        .env("AGORA_DB_MAX_CONNECTIONS", "32")
        .env("AGORA_ALLOW_PRIVATE_HTTP", "true")
        .env("AGORA_FEED_POST_INTERVAL_SECS", "0");
    // To compare commit lanes on PostgreSQL: `AGORA_DB_COMMIT_LANES=4 make bench`.
    if let Ok(lanes) = std::env::var("AGORA_DB_COMMIT_LANES") {
        options = options.env("AGORA_DB_COMMIT_LANES", &lanes);
    }
    let server = Server::start_with(options).await;
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let base = server.base.clone();

    // Warm up connections and the database.
    let _ = load(concurrency, concurrency * 4, {
        let (http, base) = (http.clone(), base.clone());
        move |_| http.get(format!("{base}/health"))
    })
    .await;

    let pid = server.pid();
    let mut results = Vec::new();
    let cpu = cpu::Snapshot::take(pid);
    let mut health = load(concurrency, requests, {
        let (http, base) = (http.clone(), base.clone());
        move |_| http.get(format!("{base}/health"))
    })
    .await;
    results.push(health.json("GET /health (baseline, no database)", &cpu));

    let run = agora_e2e::random_name("bench");
    let cpu = cpu::Snapshot::take(pid);
    let mut register = load(concurrency, requests, {
        let (http, base, run) = (http.clone(), base.clone(), run.clone());
        move |i| {
            http.post(format!("{base}/api/agents/register"))
                .json(&json!({"name": format!("{run}-{i}"), "capabilities": ["bench"]}))
        }
    })
    .await;
    results.push(register.json("POST /api/agents/register", &cpu));

    let mut keys = Vec::new();
    for i in 0..concurrency {
        keys.push(server.register(&format!("{run}-payer-{i}"), json!({})).await.1);
    }
    let keys = Arc::new(keys);
    let cpu = cpu::Snapshot::take(pid);
    let mut deposits = load(concurrency, requests, {
        let (http, base, keys) = (http.clone(), base.clone(), keys.clone());
        move |i| {
            http.post(format!("{base}/api/agents/wallet/deposit"))
                .header("X-API-Key", &keys[i % keys.len()])
                .json(&json!({"amountCents": 100}))
        }
    })
    .await;
    results.push(deposits.json("POST /api/agents/wallet/deposit (one ledger transfer)", &cpu));

    let cpu = cpu::Snapshot::take(pid);
    let mut idem = load(concurrency, requests, {
        let (http, base, keys, run) = (http.clone(), base.clone(), keys.clone(), run.clone());
        move |i| {
            http.post(format!("{base}/api/agents/wallet/deposit"))
                .header("X-API-Key", &keys[i % keys.len()])
                .header("Idempotency-Key", format!("{run}-{i}"))
                .json(&json!({"amountCents": 100}))
        }
    })
    .await;
    results.push(idem.json("POST /api/agents/wallet/deposit with Idempotency-Key", &cpu));

    // Direct execution: a Wasm component, and the two ways the seeds run agents.
    let remote = TestHttp::start(|_, body| {
        let v: Value = serde_json::from_str(body).unwrap_or_default();
        (200, vec![], json!({ "result": v["task_description"] }).to_string())
    })
    .await;
    let (endpoint_agent, _) = server
        .register(&format!("{run}-remote"), json!({"endpoint_url": remote.url("/run"), "price_per_task": 1}))
        .await;
    let (component_agent, component_key, _) = server.component_agent("echo", 1, json!({})).await;
    let exec_requests = requests / 2;
    for (label, agent) in
        [("component (Wasm echo)", component_agent), ("endpoint_url agent over loopback HTTP", endpoint_agent)]
    {
        let cpu = cpu::Snapshot::take(pid);
        let mut stats = load(concurrency, exec_requests, {
            let (http, base, keys) = (http.clone(), base.clone(), keys.clone());
            move |i| {
                http.post(format!("{base}/api/execute"))
                    .header("X-API-Key", &keys[i % keys.len()])
                    .json(&json!({"agent_id": agent, "task_description": "Write a haiku about distributed systems", "budget": 2}))
            }
        })
        .await;
        results.push(stats.json(&format!("POST /api/execute, {label}"), &cpu));
    }
    // Hiring the same component through the marketplace: each `POST /api/jobs` holds the
    // price, runs the component and answers the job DELIVERED (hire-to-delivered latency); a
    // manual service's hire is the job's bookkeeping alone.
    for fulfilment in ["component", "manual"] {
        let body = json!({"title": format!("Echo, {fulfilment}"), "priceCents": 2, "fulfilment": fulfilment});
        let r = server.post("/api/services", Some(&component_key), body).await;
        anyhow::ensure!(r.status.is_success(), "creating the {fulfilment} service: {}", r.body);
        let service = r.body["service"]["id"].as_str().context("service id")?.to_string();
        let cpu = cpu::Snapshot::take(pid);
        let mut stats = load(concurrency, exec_requests, {
            let (http, base, keys) = (http.clone(), base.clone(), keys.clone());
            move |i| {
                http.post(format!("{base}/api/jobs"))
                    .header("X-API-Key", &keys[i % keys.len()])
                    .json(&json!({"serviceId": service, "input": "Write a haiku about distributed systems"}))
            }
        })
        .await;
        let label = match fulfilment {
            "component" => "POST /api/jobs, component service (Wasm echo): hired, run, delivered",
            _ => "POST /api/jobs, manual service: hired, held in escrow",
        };
        results.push(stats.json(label, &cpu));
    }
    social::measure(&server, &http, concurrency, requests, requests * 25, &mut results).await?;
    let cpu = cpu::Snapshot::take(pid);
    let mut shell = spawn_load(concurrency, exec_requests).await;
    results.push(shell.json("spawn `sh -c cat` per task (shell handler, no HTTP, no database)", &cpu));

    server.assert_ledger_sound().await;
    let doc = json!({ "backend": backend, "concurrency": concurrency, "results": results });
    std::fs::write(out, serde_json::to_string_pretty(&doc)?)?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// The seeds' shell-handler baseline: one native process per task, fed the task on stdin.
async fn spawn_load(concurrency: usize, total: usize) -> Stats {
    use tokio::io::AsyncWriteExt;
    drive(concurrency, total, |_| async {
        let child = tokio::process::Command::new("sh")
            .args(["-c", "cat"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let Ok(mut c) = child else { return false };
        let mut stdin = c.stdin.take().expect("stdin");
        let _ = stdin.write_all(b"Write a haiku about distributed systems").await;
        drop(stdin);
        c.wait_with_output().await.is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    })
    .await
}

const START: &str = "<!-- generated:foundation:start -->";
const END: &str = "<!-- generated:foundation:end -->";

fn report(doc_path: &str, runtime_file: Option<&str>, files: &[String]) -> anyhow::Result<()> {
    let mut table = String::new();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let date = chrono_free_date();
    table.push_str(&format!("{START}\nMeasured {date} on {cores} cores.\n\n"));
    table.push_str(
        "| backend | scenario | requests | errors | req/s | p50 ms | p99 ms | ratio to /health req/s \
         | server CPU µs/req | clients' CPU µs/req | other CPU µs/req | machine busy |\n",
    );
    table.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for f in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).with_context(|| format!("reading {f}"))?)?;
        let results = v["results"].as_array().context("results")?;
        let baseline = results[0]["per_second"].as_f64().unwrap_or(1.0);
        for r in results {
            let rps = r["per_second"].as_f64().unwrap_or(0.0);
            let cpu = |k: &str| r["cpu"][k].as_f64().unwrap_or(0.0);
            table.push_str(&format!(
                "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.3} | {:.0} | {:.0} | {:.0} | {:.0}% |\n",
                v["backend"].as_str().unwrap_or("?"),
                r["scenario"].as_str().unwrap_or("?"),
                r["requests"],
                r["errors"],
                rps,
                r["p50_ms"].as_f64().unwrap_or(0.0),
                r["p99_ms"].as_f64().unwrap_or(0.0),
                rps / baseline,
                cpu("server_cpu_us"),
                cpu("client_cpu_us"),
                cpu("other_cpu_us"),
                cpu("machine_busy") * 100.0,
            ));
        }
    }
    table.push_str(END);
    let mut doc = std::fs::read_to_string(doc_path).with_context(|| format!("reading {doc_path}"))?;
    doc = replace_section(&doc, START, END, &table)?;
    if let Some(f) = runtime_file {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).with_context(|| format!("reading {f}"))?)?;
        let section = format!("{RUNTIME_START}\n{}{RUNTIME_END}", runtime::report_section(&v));
        doc = replace_section(&doc, RUNTIME_START, RUNTIME_END, &section)?;
    }
    std::fs::write(doc_path, doc)?;
    Ok(())
}

const RUNTIME_START: &str = "<!-- generated:runtime:start -->";
const RUNTIME_END: &str = "<!-- generated:runtime:end -->";

fn replace_section(doc: &str, start: &str, end: &str, with: &str) -> anyhow::Result<String> {
    let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
        bail!("the document has no {start} ... {end} section");
    };
    Ok(format!("{}{}{}", &doc[..a], with, &doc[b + end.len()..]))
}

fn chrono_free_date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Measure { backend, out, concurrency, requests } => {
            measure(&backend, &out, concurrency, requests).await
        }
        Command::Runtime { out, calls, calls_only } => runtime::measure(&out, calls, calls_only).await,
        Command::Hops { url, statements } => {
            println!("{:#}", hops::measure(&url, statements).await?);
            Ok(())
        }
        Command::Webhooks { backend, concurrency, events } => {
            println!("{:#}", webhooks::measure(&backend, concurrency, events).await?);
            Ok(())
        }
        Command::Guardrails { backend, concurrency, requests } => {
            println!("{:#}", guardrails::measure(&backend, concurrency, requests).await?);
            Ok(())
        }
        Command::Messaging { backend, senders, rounds, subscribers } => {
            println!("{:#}", messaging::measure(&backend, senders, rounds, subscribers).await?);
            Ok(())
        }
        Command::Gateway { backend, rates, seconds } => {
            println!("{:#}", gateway::measure(&backend, &rates, seconds).await?);
            Ok(())
        }
        Command::Skills { backend, out, concurrency, requests } => {
            skills::measure(&backend, &out, concurrency, requests).await
        }
        Command::Report { doc, runtime, files } => report(&doc, runtime.as_deref(), &files),
    }
}
