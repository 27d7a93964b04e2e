//! The WebAssembly component runtime: checks, compiles, caches and runs the components
//! agents, skills, message handlers and policies are made of. It knows nothing of HTTP
//! routes or the database; the host gives it bytes, a digest, limits, grants and a
//! `KvStore`, and gets back an `Execution` with the result and what was used.
//!
//! - One `Engine` per `Runtime` (one per process): fuel, epochs, a pooling allocator.
//! - `prepare` compiles a component once (or loads it from the on-disk cache) and keeps a
//!   linked `InstancePre` in memory; each execution instantiates it into a fresh `Store`.
//! - Limits per execution (`Limits`): fuel, wall-clock time (epoch deadline plus a tokio
//!   backstop; host calls are bounded too), memory, output, log and stdio sizes.
//! - Capabilities (`Grants`): `log` always; `kv`, `http`, `skills` and `marketplace` when
//!   granted; the others answer `unavailable` for now. A call to a capability that is not granted answers `denied` to
//!   the guest **and** ends the execution in `ExecError::CapabilityDenied`, whatever the
//!   guest returns afterwards: a component that needs a capability must be granted it, and
//!   one that probes for capabilities is reported, not quietly tolerated.
//! - `http` (see `outbound`): only to `Grants::http_hosts`, only to public addresses unless
//!   `allow_private_http`; up to 5 redirects are followed by the host, each hop checked like
//!   the first.
//! - Ports: the capabilities whose data the host owns are traits it implements (`KvStore`,
//!   and `NestedCalls` for skill calls and hires, bounded by the caller's deadline); the
//!   runtime never sees the database.

mod artifacts;
mod bindings;
mod calls;
mod component;
mod config;
mod engine;
mod execution;
mod guest_types;
mod host;
mod inspect;
mod invocation;
mod kind;
mod kv;
mod limiter;
mod linker;
mod memory_kv;
mod nested;
pub mod net;
mod outbound;
mod prepare;
mod prepared;
mod prepared_cache;
mod session;
mod stdio;
mod store;
#[cfg(test)]
mod tests;

pub use component::{ComponentError, ComponentInfo};
pub use config::{Grants, Limits, RuntimeConfig};
pub use execution::{ExecError, Execution, LogEntry, Usage};
pub use guest_types::{
    AgentOutput, AgentTask, HandlerAction, IncomingMessage, PolicyDecision, ProposedAction, SkillInfo,
};
pub use invocation::Invocation;
pub use kind::{Kind, UnknownKind};
pub use kv::{KvError, KvStore, MAX_KEY_BYTES, MAX_VALUE_BYTES};
pub use memory_kv::MemoryKv;
pub use nested::{CallError, ChatCall, ChatReply, Guarded, Hired, NestedCalls};

use artifacts::ArtifactCache;
use linker::Linkers;
use outbound::OutboundHttp;
use prepare::RecentCompiles;
use prepared_cache::PreparedCache;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use wasmtime::Engine;

/// The component runtime. Create one per process and share it (e.g. in an `Arc`).
pub struct Runtime {
    engine: Engine,
    linkers: Linkers,
    /// Prepared components by digest, least recently used evicted past a budget.
    prepared: PreparedCache,
    /// Components compiled by `inspect`, so that `prepare` right after does not compile again.
    recent: RecentCompiles,
    artifacts: ArtifactCache,
    /// One permit per concurrent execution (and pool slot).
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    http: OutboundHttp,
    /// Components compiled from bytes since start (not loaded from disk).
    compiles: AtomicU64,
    max_component_bytes: usize,
    max_memory_bytes: usize,
}

impl Runtime {
    /// Builds the engine (pooling allocator sized from `max_concurrent`), the linkers and
    /// the HTTP clients, opens the artifact cache and starts the epoch ticker thread.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let engine = engine::build_engine(&config)?;
        let runtime = Runtime {
            linkers: Linkers::new(&engine)?,
            prepared: PreparedCache::new(config.prepared_cache_bytes),
            recent: RecentCompiles::default(),
            artifacts: ArtifactCache::new(&config.cache_dir, &engine, config.artifact_cache_bytes)?,
            permits: Arc::new(Semaphore::new(config.max_concurrent as usize)),
            queue_timeout: config.queue_timeout,
            http: OutboundHttp::new()?,
            compiles: AtomicU64::new(0),
            max_component_bytes: config.max_component_bytes,
            max_memory_bytes: config.max_memory_bytes,
            engine,
        };
        engine::start_epoch_ticker(&runtime.engine)?;
        Ok(runtime)
    }

    /// How many executions could start now without waiting for a slot.
    pub fn free_slots(&self) -> usize {
        self.permits.available_permits()
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("prepared", &self.prepared.len())
            .field("available_slots", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}
