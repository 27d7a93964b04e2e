//! Compiled artifacts are written once and loaded by later runtimes without compiling.

use super::support::{config, digest_of, fresh_dir, guest, plain, task};
use crate::{Kind, Runtime};
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

/// Prints compile and call times (`cargo test -p agora-runtime --lib tests::cache::timings -- --nocapture`).
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

fn runtime_with(dir: &std::path::Path, prepared_cache_bytes: usize, artifact_cache_bytes: u64) -> Runtime {
    let config = crate::RuntimeConfig {
        prepared_cache_bytes,
        artifact_cache_bytes,
        ..config(dir.to_path_buf(), 2, Duration::from_secs(5))
    };
    Runtime::new(config).expect("runtime")
}

#[tokio::test]
async fn components_past_the_memory_budget_are_evicted_and_reloaded_from_disk() {
    let dir = fresh_dir("evict");
    let (echo, summarize) = (guest("echo"), guest("summarize"));
    // Room for either component, never both.
    let runtime = runtime_with(&dir, echo.len().max(summarize.len()) + 1, u64::MAX);
    runtime.prepare(&digest_of(&echo), &echo, Kind::Agent).unwrap();
    runtime.prepare(&digest_of(&summarize), &summarize, Kind::Agent).unwrap();
    assert!(!runtime.is_prepared(&digest_of(&echo)), "the least recently used one is evicted");
    assert!(runtime.is_prepared(&digest_of(&summarize)));
    assert_eq!(runtime.prepared_in_memory().0, 1);
    assert!(runtime.prepared_in_memory().1 <= echo.len().max(summarize.len()) + 1);

    let refused = runtime.run_agent(&digest_of(&echo), task("x", None), plain()).await;
    assert_eq!(refused.result.unwrap_err(), crate::ExecError::NotPrepared);
    assert!(runtime.load_cached(&digest_of(&echo), Kind::Agent).unwrap(), "reloaded from its artifact");
    let run = runtime.run_agent(&digest_of(&echo), task("back", None), plain()).await;
    assert_eq!(run.result.unwrap().output, "back");
    assert_eq!(runtime.compile_count(), 2, "reloading does not compile");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_artifact_directory_keeps_to_its_budget() {
    let dir = fresh_dir("trim");
    let runtime = runtime_with(&dir, usize::MAX, 1);
    for name in ["echo", "summarize", "counter"] {
        let bytes = guest(name);
        runtime.prepare(&digest_of(&bytes), &bytes, Kind::Agent).unwrap();
    }
    let left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left.len(), 1, "only the newest artifact fits a 1-byte budget: {left:?}");
    assert!(left[0].starts_with(&digest_of(&guest("counter"))));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_component_whose_memory_starts_past_the_limit_is_refused() {
    let dir = fresh_dir("bloat");
    let bytes = guest("bloat");
    let small = crate::RuntimeConfig { max_memory_bytes: 16 << 20, ..config(dir.clone(), 2, Duration::from_secs(5)) };
    let error = Runtime::new(small).unwrap().inspect(&bytes, Kind::Agent).unwrap_err();
    assert!(matches!(error, crate::ComponentError::MemoryTooLarge { limit, .. } if limit == 16 << 20), "{error:?}");
    let roomy = runtime_in(&dir);
    roomy.inspect(&bytes, Kind::Agent).expect("fits 128 MiB");
    let _ = std::fs::remove_dir_all(&dir);
}
