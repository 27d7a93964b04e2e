//! Runtime benchmarks: instantiate-and-call of a cached component against a native call in the
//! same process, and memory per concurrent execution with the largest number held at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_runtime::{AgentTask, Grants, Invocation, Kind, Limits, MemoryKv, Runtime, RuntimeConfig};
use serde_json::{json, Value};

fn invocation(limits: Limits) -> Invocation {
    Invocation {
        namespace: "bench".into(),
        grants: Grants::default(),
        limits,
        kv: Arc::new(MemoryKv::default()),
        nested: None,
    }
}

fn task(i: usize, input: &str) -> AgentTask {
    AgentTask { id: i.to_string(), input: input.to_string(), params: None, budget_cents: 0, caller: None }
}

/// The echo agent's work, natively: the output is the input.
#[inline(never)]
fn native_echo(input: &str) -> String {
    std::hint::black_box(input).to_string()
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub async fn measure(out: &str, calls: usize, calls_only: bool) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("agora-bench-runtime-{}", std::process::id()));
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        max_concurrent: 1024,
        queue_timeout: Duration::from_secs(30),
        max_memory_bytes: 16 << 20,
        ..RuntimeConfig::new(dir.clone())
    })?);
    let echo = agora_e2e::guest("echo");
    let spin = agora_e2e::guest("spin");
    runtime.prepare("echo", &echo, Kind::Agent)?;
    runtime.prepare("spin", &spin, Kind::Agent)?;
    let input = "Write a haiku about distributed systems";

    // Warm up, then time each instantiate-and-call.
    for i in 0..200 {
        runtime.run_agent("echo", task(i, input), invocation(Limits::default())).await.result?;
    }
    let mut wasm_us = Vec::with_capacity(calls);
    let t = Instant::now();
    for i in 0..calls {
        let one = Instant::now();
        let e = runtime.run_agent("echo", task(i, input), invocation(Limits::default())).await;
        wasm_us.push(one.elapsed().as_secs_f64() * 1e6);
        assert_eq!(e.result?.output, input);
    }
    let wasm_total = t.elapsed();
    wasm_us.sort_by(f64::total_cmp);
    if calls_only {
        println!("{calls} calls: p50 {:.1} µs, p99 {:.1} µs", percentile(&wasm_us, 0.5), percentile(&wasm_us, 0.99));
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }

    let native_calls = calls * 1000;
    let t = Instant::now();
    for _ in 0..native_calls {
        std::hint::black_box(native_echo(input));
    }
    let native_us = t.elapsed().as_secs_f64() * 1e6 / native_calls as f64;
    let wasm_mean = wasm_total.as_secs_f64() * 1e6 / calls as f64;

    // Concurrent executions held: spin guests parked on their wall-clock limit.
    let mut held = Vec::new();
    for n in [64usize, 256, 1024] {
        let before = rss_bytes();
        let limits = Limits { timeout: Duration::from_millis(1500), memory_bytes: 16 << 20, ..Limits::default() };
        let runs: Vec<_> = (0..n)
            .map(|i| {
                let (rt, l) = (runtime.clone(), limits.clone());
                tokio::spawn(async move { rt.run_agent("spin", task(i, "go"), invocation(l)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(700)).await;
        let during = rss_bytes();
        let mut timed_out = 0;
        for r in runs {
            if r.await?.result.err().is_some_and(|e| e.code() == "timeout") {
                timed_out += 1;
            }
        }
        held.push(json!({
            "concurrent": n,
            "held_to_their_limit": timed_out,
            "rss_before_mib": before as f64 / 1048576.0,
            "rss_during_mib": during as f64 / 1048576.0,
            "kib_per_execution": (during.saturating_sub(before)) as f64 / 1024.0 / n as f64,
        }));
    }
    let _ = std::fs::remove_dir_all(&dir);

    let doc = json!({
        "calls": calls,
        "wasm_mean_us": wasm_mean,
        "wasm_p50_us": percentile(&wasm_us, 0.5),
        "wasm_p99_us": percentile(&wasm_us, 0.99),
        "native_mean_us": native_us,
        "ratio": wasm_mean / native_us,
        "held": held,
    });
    std::fs::write(out, serde_json::to_string_pretty(&doc)?)?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

pub fn report_section(v: &Value) -> String {
    let mut s = format!(
        "Instantiate-and-call of the cached `echo` component, {} sequential calls: mean {:.1} µs, p50 {:.1} µs, \
         p99 {:.1} µs. The same function called natively in the same process: {:.3} µs, so a component call costs \
         {:.0}× a native call (almost all of it instantiation: a fresh Store, WASI context and instance per call).\n\n",
        v["calls"],
        v["wasm_mean_us"].as_f64().unwrap_or(0.0),
        v["wasm_p50_us"].as_f64().unwrap_or(0.0),
        v["wasm_p99_us"].as_f64().unwrap_or(0.0),
        v["native_mean_us"].as_f64().unwrap_or(0.0),
        v["ratio"].as_f64().unwrap_or(0.0),
    );
    s.push_str("| concurrent `spin` executions | held until their time limit | RSS before (MiB) | RSS during (MiB) | KiB per execution |\n");
    s.push_str("|---:|---:|---:|---:|---:|\n");
    for h in v["held"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "| {} | {} | {:.1} | {:.1} | {:.0} |\n",
            h["concurrent"],
            h["held_to_their_limit"],
            h["rss_before_mib"].as_f64().unwrap_or(0.0),
            h["rss_during_mib"].as_f64().unwrap_or(0.0),
            h["kib_per_execution"].as_f64().unwrap_or(0.0),
        ));
    }
    s
}
