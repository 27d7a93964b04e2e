//! Compiled artifacts are written once and loaded by later runtimes without compiling.

use super::support::{config, digest_of, fresh_dir, guest, plain, task};
use crate::runtime::{Kind, Runtime};
use std::time::{Duration, Instant};

fn runtime_in(dir: &std::path::Path) -> Runtime {
    Runtime::new(config(dir.to_path_buf(), 2, Duration::from_secs(5))).expect("runtime")
}

#[tokio::test]
async fn a_second_runtime_loads_the_artifact_without_compiling() {
    let dir = fresh_dir("cache");
    let bytes = guest("echo");
    let digest = digest_of(&bytes);

    let first = runtime_in(&dir);
    assert!(!first.load_cached(&digest, Kind::Agent).unwrap(), "nothing cached yet");
    first.prepare(&digest, &bytes, Kind::Agent).unwrap();
    first.prepare(&digest, &bytes, Kind::Agent).unwrap();
    assert_eq!(first.compile_count(), 1);
    let artifacts: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert!(artifacts[0].to_string_lossy().starts_with(&digest));
    assert!(artifacts[0].to_string_lossy().ends_with(".cwasm"));

    let second = runtime_in(&dir);
    assert!(second.load_cached(&digest, Kind::Agent).unwrap());
    assert!(second.is_prepared(&digest));
    let run = second.run_agent(&digest, task("from disk", None), plain()).await;
    assert_eq!(run.result.unwrap().output, "from disk");

    let third = runtime_in(&dir);
    third.prepare(&digest, &bytes, Kind::Agent).unwrap();
    assert_eq!(second.compile_count() + third.compile_count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_artifact_is_dropped_and_recompiled() {
    let dir = fresh_dir("damaged");
    let bytes = guest("echo");
    let digest = digest_of(&bytes);
    runtime_in(&dir).prepare(&digest, &bytes, Kind::Agent).unwrap();
    let path = std::fs::read_dir(&dir).unwrap().flatten().next().unwrap().path();
    std::fs::write(&path, b"not an artifact").unwrap();

    let runtime = runtime_in(&dir);
    assert!(!runtime.load_cached(&digest, Kind::Agent).unwrap());
    assert!(!path.exists());
    runtime.prepare(&digest, &bytes, Kind::Agent).unwrap();
    assert_eq!(runtime.compile_count(), 1);
    assert!(path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inspect_then_prepare_compiles_once() {
    let dir = fresh_dir("inspect");
    let runtime = runtime_in(&dir);
    let bytes = guest("summarize");
    runtime.inspect(&bytes, Kind::Agent).unwrap();
    runtime.prepare(&digest_of(&bytes), &bytes, Kind::Agent).unwrap();
    assert_eq!(runtime.compile_count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Prints compile and call times (`cargo test -p agora-host --lib runtime::tests::cache::timings -- --nocapture`).
#[tokio::test]
async fn timings() {
    let dir = fresh_dir("timings");
    let runtime = runtime_in(&dir);
    for (name, kind) in [
        ("echo", Kind::Agent),
        ("summarize", Kind::Agent),
        ("counter", Kind::Agent),
        ("fetch", Kind::Skill),
        ("markdown", Kind::Skill),
        ("spend-cap", Kind::Policy),
        ("auto-reply", Kind::Handler),
    ] {
        let bytes = guest(name);
        let started = Instant::now();
        runtime.prepare(&digest_of(&bytes), &bytes, kind).unwrap();
        eprintln!("compile {name:<10} {:>6} bytes: {:?}", bytes.len(), started.elapsed());
    }
    let reloaded = runtime_in(&dir);
    let echo = digest_of(&guest("echo"));
    let started = Instant::now();
    assert!(reloaded.load_cached(&echo, Kind::Agent).unwrap());
    eprintln!("load echo from disk: {:?}", started.elapsed());

    let runs = 200;
    let started = Instant::now();
    for _ in 0..runs {
        let run = runtime.run_agent(&echo, task("ping", None), plain()).await;
        assert_eq!(run.result.unwrap().output, "ping");
    }
    eprintln!("echo instantiate + call: {:?} per execution (mean of {runs})", started.elapsed() / runs);
    let _ = std::fs::remove_dir_all(&dir);
}
