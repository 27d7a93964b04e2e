//! The process's one wasmtime `Engine` and the thread that advances its epoch.

use super::config::RuntimeConfig;
use std::time::Duration;
use wasmtime::{Config, Enabled, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of wall-clock limits and of yielding.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Pool slots beyond `max_concurrent`: a Store being dropped still holds its slot for a
/// moment after its permit is released.
const POOL_HEADROOM: u32 = 2;

// Per component instance. Rust components built for wasm32-wasip2 have one core instance
// with one memory and one table, plus a few small shim instances; these leave room for
// other toolchains without letting one component take a large share of the pool.
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 8;

/// Bytes of each pooled memory and table kept resident between instances (see `build_engine`).
/// 2 MiB covers a Rust guest's stack and data (just over 1 MiB), so a typical call gives
/// nothing back to the kernel; what a guest grew beyond it is given back when its slot returns.
const MEMORY_KEPT_RESIDENT: usize = 2 << 20;
const TABLE_KEPT_RESIDENT: usize = 64 << 10;

/// Builds the engine: fuel and epochs on, pooling allocator sized from the configuration.
///
/// Each pooled memory reserves address space (not RAM): the default 4 GiB reservation
/// (which lets compiled code skip bounds checks) plus a 32 MiB guard. With
/// `max_concurrent = 16` that is 18 slots × 2 memories ≈ 146 GiB of the 128 TiB user
/// address space, whatever the machine's RAM; resident memory is only what guests touch.
pub(crate) fn build_engine(config: &RuntimeConfig) -> anyhow::Result<Engine> {
    anyhow::ensure!(config.max_concurrent > 0, "max_concurrent must be at least 1");
    anyhow::ensure!(config.max_memory_bytes >= 1 << 16, "max_memory_bytes must be at least one wasm page (64 KiB)");
    anyhow::ensure!(config.max_memory_bytes <= 1 << 32, "max_memory_bytes must be at most 4 GiB");
    let slots = config.max_concurrent.saturating_add(POOL_HEADROOM);

    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots.saturating_mul(MEMORIES_PER_COMPONENT))
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .total_tables(slots.saturating_mul(TABLES_PER_COMPONENT))
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .total_stacks(slots)
        .max_memory_size(config.max_memory_bytes)
        // Reset a returning slot's first pages with memset instead of giving them back with
        // madvise: the next instance in the slot then takes no page faults there, and no TLB
        // shootdown is sent to the other cores on every call.
        .linear_memory_keep_resident(MEMORY_KEPT_RESIDENT)
        .table_keep_resident(TABLE_KEPT_RESIDENT)
        // Give back the rest at once (no batching): a batch would leave a memory-hungry
        // guest's pages resident until enough other slots return.
        .decommit_batch_size(1)
        .pagemap_scan(Enabled::Auto);

    let mut wasm = Config::new();
    wasm.consume_fuel(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&wasm).map_err(anyhow::Error::from)
}

/// Advances the engine's epoch every `EPOCH_TICK` until the engine is dropped.
pub(crate) fn start_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let engine: EngineWeak = engine.weak();
    std::thread::Builder::new().name("agora-epoch".into()).spawn(move || loop {
        std::thread::sleep(EPOCH_TICK);
        match engine.upgrade() {
            Some(engine) => engine.increment_epoch(),
            None => return,
        }
    })?;
    Ok(())
}
