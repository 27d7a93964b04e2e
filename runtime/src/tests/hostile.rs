//! The hostile components end the way guests/README.md says a correct host ends them.

use super::support::{invocation, plain, prepare, shared, task};
use crate::{ExecError, Grants, Kind, Limits};
use std::time::Duration;

const MIB: usize = 1 << 20;

#[tokio::test]
async fn spin_is_stopped_by_the_wall_clock() {
    let runtime = shared();
    let digest = prepare(runtime, "spin", Kind::Agent);
    let limits = Limits { timeout: Duration::from_millis(300), fuel: u64::MAX / 2, ..Limits::default() };
    let run = runtime.run_agent(&digest, task("", None), invocation(limits, Grants::default())).await;
    assert_eq!(run.result.unwrap_err(), ExecError::Timeout);
    assert!((250..1_300).contains(&run.usage.wall_ms), "{:?}", run.usage);
}

#[tokio::test]
async fn spin_is_stopped_by_fuel() {
    let runtime = shared();
    let digest = prepare(runtime, "spin", Kind::Agent);
    let limits = Limits { fuel: 20_000_000, timeout: Duration::from_secs(30), ..Limits::default() };
    let run = runtime.run_agent(&digest, task("", None), invocation(limits, Grants::default())).await;
    assert_eq!(run.result.unwrap_err(), ExecError::OutOfFuel);
    assert!(run.usage.fuel >= 19_000_000 && run.usage.fuel <= 20_000_000, "{:?}", run.usage);
}

#[tokio::test]
async fn hog_is_stopped_by_the_memory_limit() {
    let runtime = shared();
    let digest = prepare(runtime, "hog", Kind::Agent);
    let limits = Limits { memory_bytes: 16 * MIB, ..Limits::default() };
    let run = runtime.run_agent(&digest, task("", None), invocation(limits, Grants::default())).await;
    assert_eq!(run.result.unwrap_err(), ExecError::MemoryLimit);
    assert!(run.usage.memory_bytes <= 16 * MIB as u64, "{:?}", run.usage);
    assert!(run.usage.memory_bytes >= 8 * MIB as u64, "{:?}", run.usage);
}

#[tokio::test]
async fn recurse_traps() {
    let runtime = shared();
    let digest = prepare(runtime, "recurse", Kind::Agent);
    let run = runtime.run_agent(&digest, task("", None), plain()).await;
    match run.result {
        Err(ExecError::Trap(message)) => assert!(!message.is_empty()),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[tokio::test]
async fn panic_traps_with_its_message_on_stderr_and_the_next_run_is_unaffected() {
    let runtime = shared();
    let digest = prepare(runtime, "panic", Kind::Agent);
    let run = runtime.run_agent(&digest, task("", None), plain()).await;
    assert!(matches!(&run.result, Err(ExecError::Trap(_))), "{:?}", run.result);
    assert!(run.stderr.contains("deliberate panic in task task-1"), "{}", run.stderr);

    let echo = prepare(runtime, "echo", Kind::Agent);
    let after = runtime.run_agent(&echo, task("still here", None), plain()).await;
    assert_eq!(after.result.expect("echo after a trap").output, "still here");
}

#[tokio::test]
async fn escape_gets_nothing() {
    let runtime = shared();
    let digest = prepare(runtime, "escape", Kind::Agent);
    let run = runtime.run_agent(&digest, task("", None), plain()).await;
    let output = run.result.expect("escape returns a report").output;
    let report: serde_json::Value = serde_json::from_str(&output).expect("JSON report");
    for attempt in [
        "read /etc/passwd",
        "read /proc/self/environ",
        "read ./Cargo.toml",
        "list /",
        "list .",
        "write /tmp/agora-escape",
        "tcp 127.0.0.1:22",
        "udp bind",
    ] {
        assert!(report[attempt].get("error").is_some(), "{attempt}: {}", report[attempt]);
    }
    assert_eq!(report["env vars"], serde_json::json!([]));
    assert_eq!(report["args"], serde_json::json!([]));
}

#[tokio::test]
async fn flood_is_bounded() {
    let runtime = shared();
    let digest = prepare(runtime, "flood", Kind::Agent);
    let limits = Limits { max_stdio_bytes: 64 * 1024, max_output_bytes: MIB, ..Limits::default() };
    let params = r#"{"stdout_mib": 2, "stderr_mib": 2, "result_mib": 2}"#;
    let run = runtime.run_agent(&digest, task("", Some(params)), invocation(limits.clone(), Grants::default())).await;
    assert_eq!(run.result.unwrap_err(), ExecError::OutputTooLarge);
    assert_eq!(run.stdout.len(), 64 * 1024);
    assert_eq!(run.stderr.len(), 64 * 1024);

    // The defaults (64 MiB of each) cannot even build their result within 64 MiB of memory.
    let run = runtime.run_agent(&digest, task("", None), invocation(limits, Grants::default())).await;
    let error = run.result.unwrap_err();
    assert!(matches!(error, ExecError::OutputTooLarge | ExecError::MemoryLimit), "{error:?}");
    assert_eq!(run.stdout.len(), 64 * 1024);
}

#[tokio::test]
async fn sneaky_is_denied() {
    let runtime = shared();
    let digest = prepare(runtime, "sneaky", Kind::Agent);
    let run = runtime.run_agent(&digest, task("", None), plain()).await;
    match run.result {
        Err(ExecError::CapabilityDenied(which)) => assert!(which.contains("kv"), "{which}"),
        other => panic!("expected capability_denied, got {other:?}"),
    }
    // The guest itself saw `denied` for every call (it logs each one).
    for call in ["kv.get", "kv.set", "kv.delete", "kv.list-keys", "http.send"] {
        assert!(run.logs.iter().any(|l| l.message.starts_with(&format!("{call}: denied"))), "{call}: {:?}", run.logs);
    }
}
