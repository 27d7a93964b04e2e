//! The data of one execution's `Store` and how a fresh, limited `Store` is made.

use super::config::Limits;
use super::host::http::HttpCtx;
use super::host::kv::KvCtx;
use super::host::log::LogBuffer;
use super::host::{Call, Cap, Contexts, Nested, Unserved};
use super::invocation::Invocation;
use super::limiter::MemoryLimiter;
use super::outbound::OutboundHttp;
use super::stdio::CappedOutput;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) call: Call,
    pub(crate) caps: Contexts,
}

/// One getter per capability context, for the linker.
impl State {
    pub(crate) fn log(&mut self) -> Cap<'_, LogBuffer> {
        Cap { ctx: &mut self.caps.log, call: &mut self.call }
    }
    pub(crate) fn kv(&mut self) -> Cap<'_, KvCtx> {
        Cap { ctx: &mut self.caps.kv, call: &mut self.call }
    }
    pub(crate) fn http(&mut self) -> Cap<'_, HttpCtx> {
        Cap { ctx: &mut self.caps.http, call: &mut self.call }
    }
    pub(crate) fn nested(&mut self) -> Cap<'_, Nested> {
        Cap { ctx: &mut self.caps.nested, call: &mut self.call }
    }
    pub(crate) fn unserved(&mut self) -> Cap<'_, Unserved> {
        Cap { ctx: &mut self.caps.unserved, call: &mut self.call }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Captured stdout and stderr of a store, readable after it is gone.
pub(crate) struct Captured {
    pub(crate) stdout: CappedOutput,
    pub(crate) stderr: CappedOutput,
}

/// A store with WASI that grants nothing (no files, environment, arguments, sockets or
/// name lookups), bounded stdio, memory limits, fuel, and a wall-clock deadline enforced
/// through epochs, yielding to the async executor at every epoch tick meanwhile.
pub(crate) fn new_store(
    engine: &Engine,
    digest: Arc<str>,
    invocation: Invocation,
    http: OutboundHttp,
    started: Instant,
) -> wasmtime::Result<(Store<State>, Captured)> {
    let Invocation { namespace, grants, limits, kv, nested } = invocation;
    let Limits { fuel, timeout, memory_bytes, max_log_bytes, max_stdio_bytes, host_call_timeout, .. } = limits;
    let deadline = started + timeout;
    let captured = Captured { stdout: CappedOutput::new(max_stdio_bytes), stderr: CappedOutput::new(max_stdio_bytes) };
    let wasi = WasiCtxBuilder::new()
        .stdout(captured.stdout.clone())
        .stderr(captured.stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let caps = Contexts {
        log: LogBuffer::new(max_log_bytes),
        kv: KvCtx { granted: grants.kv, namespace, store: kv },
        http: HttpCtx {
            hosts: grants.http_hosts,
            allow_private: grants.allow_private_http,
            client: http,
            policies: nested.clone(),
        },
        nested: Nested {
            skills: grants.skills,
            marketplace: grants.marketplace,
            llm: grants.llm,
            messaging: grants.messaging,
            port: nested,
        },
        unserved: Unserved,
    };
    let state = State {
        wasi,
        table: ResourceTable::new(),
        limiter: MemoryLimiter::new(memory_bytes),
        call: Call::new(digest, host_call_timeout, deadline),
        caps,
    };

    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    store.set_fuel(fuel)?;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            // tokio's yield_now lets the worker run its timers and other tasks before us.
            Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now())))
        }
    });
    Ok((store, captured))
}
