//! Guests, runtimes and invocations for the tests.

use crate::{Grants, Invocation, Kind, Limits, MemoryKv, Runtime, RuntimeConfig};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The bytes of `guests/dist/<name>.wasm`.
pub(super) fn guest(name: &str) -> Vec<u8> {
    agora_testkit::guest(name)
}

pub(super) fn digest_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A fresh, empty directory under the system temp dir.
pub(super) fn fresh_dir(label: &str) -> PathBuf {
    agora_testkit::fresh_dir(&format!("runtime-{label}"))
}

pub(super) fn config(cache_dir: PathBuf, max_concurrent: u32, queue_timeout: Duration) -> RuntimeConfig {
    RuntimeConfig { max_concurrent, queue_timeout, max_memory_bytes: 128 << 20, ..RuntimeConfig::new(cache_dir) }
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
    Invocation { namespace: "agent-1".into(), grants, limits, kv: Arc::new(MemoryKv::new()), nested: None }
}

pub(super) fn plain() -> Invocation {
    invocation(Limits::default(), Grants::default())
}

pub(super) fn task(input: &str, params: Option<&str>) -> crate::AgentTask {
    crate::AgentTask {
        id: "task-1".into(),
        input: input.into(),
        params: params.map(str::to_string),
        budget_cents: 100,
        caller: None,
    }
}
