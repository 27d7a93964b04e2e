//! Memory limits for one execution, remembering what the guest asked for.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// `StoreLimits` plus a record of refused growth and of the peak memory size.
///
/// A refused `memory.grow` returns -1 to the guest rather than trapping; a Rust guest then
/// aborts with `unreachable`, so the trap alone does not say why it ended. `refused` does.
pub(crate) struct MemoryLimiter {
    limits: StoreLimits,
    refused: bool,
    peak_bytes: usize,
}

impl MemoryLimiter {
    pub(crate) fn new(memory_bytes: usize) -> Self {
        MemoryLimiter {
            limits: StoreLimitsBuilder::new().memory_size(memory_bytes).build(),
            refused: false,
            peak_bytes: 0,
        }
    }

    /// Whether any memory growth (or an initial memory) was refused.
    pub(crate) fn refused(&self) -> bool {
        self.refused
    }

    /// The largest size any one linear memory reached.
    pub(crate) fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_bytes = self.peak_bytes.max(desired);
        } else {
            self.refused = true;
        }
        Ok(allowed)
    }

    /// Growth allowed above but refused by the engine (e.g. beyond the pool's slot size).
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused = true;
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_peak_and_refusal() {
        let mut limiter = MemoryLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 1 << 16, None).unwrap());
        assert!(limiter.memory_growing(1 << 16, 1 << 20, None).unwrap());
        assert!(!limiter.refused());
        assert!(!limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert!(limiter.refused());
        assert_eq!(limiter.peak_bytes(), 1 << 20);
    }
}
