//! Guests, runtimes and invocations for the tests.

use crate::runtime::{Grants, Invocation, Kind, Limits, MemoryKv, Runtime, RuntimeConfig};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const GUESTS: [&str; 14] = [
    "echo",
    "summarize",
    "counter",
    "fetch",
    "markdown",
    "spend-cap",
    "auto-reply",
    "spin",
    "hog",
    "recurse",
    "panic",
    "escape",
    "flood",
    "sneaky",
];

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent")
}

/// Runs `scripts/build-guests.sh` once if any guest is missing from `guests/dist`.
fn ensure_guests_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dist = repo_root().join("guests/dist");
        if GUESTS.iter().all(|name| dist.join(format!("{name}.wasm")).is_file()) {
            return;
        }
        let status = std::process::Command::new(repo_root().join("scripts/build-guests.sh"))
            .current_dir(repo_root())
            .status()
            .expect("run scripts/build-guests.sh");
        assert!(status.success(), "scripts/build-guests.sh failed: {status}");
    });
}

/// The bytes of `guests/dist/<name>.wasm`.
pub(super) fn guest(name: &str) -> Vec<u8> {
    ensure_guests_built();
    let path = repo_root().join(format!("guests/dist/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub(super) fn digest_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A fresh, empty directory under the system temp dir.
pub(super) fn fresh_dir(label: &str) -> PathBuf {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "agora-runtime-{label}-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

pub(super) fn config(cache_dir: PathBuf, max_concurrent: u32, queue_timeout: Duration) -> RuntimeConfig {
    RuntimeConfig { cache_dir, max_concurrent, queue_timeout, max_memory_bytes: 128 << 20 }
}

/// An artifact cache that survives between test runs (artifacts are keyed by engine, so
/// that is safe), for the runtimes whose tests are not about compiling.
pub(super) fn shared_cache_dir() -> PathBuf {
    std::env::temp_dir().join("agora-runtime-tests-shared-cache")
}

/// One runtime shared by the tests that need no special configuration.
pub(super) fn shared() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(config(shared_cache_dir(), 8, Duration::from_secs(30))).expect("runtime"))
}

/// Prepares `guests/dist/<name>.wasm` as `kind` and returns its digest.
pub(super) fn prepare(runtime: &Runtime, name: &str, kind: Kind) -> String {
    let bytes = guest(name);
    let digest = digest_of(&bytes);
    runtime.prepare(&digest, &bytes, kind).unwrap_or_else(|e| panic!("prepare {name}: {e}"));
    digest
}

pub(super) fn invocation(limits: Limits, grants: Grants) -> Invocation {
    Invocation { namespace: "agent-1".into(), grants, limits, kv: Arc::new(MemoryKv::new()) }
}

pub(super) fn plain() -> Invocation {
    invocation(Limits::default(), Grants::default())
}

pub(super) fn task(input: &str, params: Option<&str>) -> crate::runtime::AgentTask {
    crate::runtime::AgentTask {
        id: "task-1".into(),
        input: input.into(),
        params: params.map(str::to_string),
        budget_cents: 100,
        caller: None,
    }
}
