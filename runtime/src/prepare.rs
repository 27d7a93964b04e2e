//! Checking, compiling and caching components: `inspect`, `prepare`, `load_cached`.

use super::component::{ComponentError, ComponentInfo};
use super::inspect::{check_bytes, check_memory, check_world, compile};
use super::kind::Kind;
use super::prepared::Prepared;
use super::Runtime;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use wasmtime::component::Component;

/// How many components compiled by `inspect` are kept for a following `prepare`.
const RECENT_COMPILES: usize = 4;

/// Components compiled recently, by the sha256 of their bytes.
#[derive(Default)]
pub(crate) struct RecentCompiles(Mutex<VecDeque<([u8; 32], Component)>>);

impl RecentCompiles {
    fn put(&self, hash: [u8; 32], component: Component) {
        let mut recent = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        recent.retain(|(h, _)| *h != hash);
        if recent.len() == RECENT_COMPILES {
            recent.pop_front();
        }
        recent.push_back((hash, component));
    }

    fn take(&self, hash: &[u8; 32]) -> Option<Component> {
        let mut recent = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let index = recent.iter().position(|(h, _)| h == hash)?;
        recent.remove(index).map(|(_, component)| component)
    }
}

impl Runtime {
    /// Checks that `bytes` are a valid component of `kind`'s world: it exports the world's
    /// interface with the right functions, imports only WASI 0.2 interfaces and the agora
    /// capabilities the kind allows (a policy: `log` only), and its memories start within the
    /// memory limit. Compiles to do so (CPU-heavy: run it in `spawn_blocking`); a `prepare`
    /// of the same bytes right after reuses the compiled code.
    pub fn inspect(&self, bytes: &[u8], kind: Kind) -> Result<ComponentInfo, ComponentError> {
        let component = self.compile(bytes)?;
        let info = check_world(&self.engine, &component, kind)?;
        check_memory(&component, self.max_memory_bytes)?;
        Prepared::new(kind, self.linkers.get(kind), &component)?;
        self.recent.put(Sha256::digest(bytes).into(), component);
        Ok(info)
    }

    /// Makes the component ready to run as `kind`: loads the compiled artifact this host
    /// wrote for `digest` or compiles `bytes` (and writes the artifact), checks the world
    /// and keeps a linked instance template in memory. Cheap when already prepared.
    /// `digest` must identify `bytes` (their sha256); it is prepared for one kind at a time.
    /// CPU-heavy: run it in `spawn_blocking`.
    pub fn prepare(&self, digest: &str, bytes: &[u8], kind: Kind) -> Result<(), ComponentError> {
        if self.prepared.get(digest, kind).is_some() {
            return Ok(());
        }
        check_bytes(bytes, self.max_component_bytes)?;
        let component = match self.artifacts.load(&self.engine, digest) {
            Some(component) => component,
            None => {
                let component = match self.recent.take(&Sha256::digest(bytes).into()) {
                    Some(component) => component,
                    None => self.compile(bytes)?,
                };
                if let Err(e) = self.artifacts.store(digest, &component) {
                    tracing::warn!(digest, "could not write the compiled component to the cache: {e:#}");
                }
                component
            }
        };
        self.install(digest, kind, &component, bytes.len())
    }

    /// Prepares from the on-disk artifact alone (after a restart, or after the component was
    /// evicted from memory). `Ok(false)` if there is no usable artifact for `digest`: call
    /// `prepare` with the bytes then.
    pub fn load_cached(&self, digest: &str, kind: Kind) -> Result<bool, ComponentError> {
        if self.prepared.get(digest, kind).is_some() {
            return Ok(true);
        }
        match self.artifacts.load(&self.engine, digest) {
            Some(component) => {
                let weight = self.artifacts.size(digest).unwrap_or(0);
                self.install(digest, kind, &component, weight).map(|()| true)
            }
            None => Ok(false),
        }
    }

    /// Whether `digest` is prepared (for any kind) and in memory.
    pub fn is_prepared(&self, digest: &str) -> bool {
        self.prepared.contains(digest)
    }

    pub(crate) fn prepared_as(&self, digest: &str, kind: Kind) -> Option<Prepared> {
        self.prepared.get(digest, kind)
    }

    fn install(&self, digest: &str, kind: Kind, component: &Component, weight: usize) -> Result<(), ComponentError> {
        check_world(&self.engine, component, kind)?;
        let prepared = Prepared::new(kind, self.linkers.get(kind), component)?;
        self.prepared.insert(digest, prepared, weight);
        Ok(())
    }

    fn compile(&self, bytes: &[u8]) -> Result<Component, ComponentError> {
        self.compiles.fetch_add(1, Ordering::Relaxed);
        compile(&self.engine, bytes, self.max_component_bytes, self.max_memory_bytes)
    }

    /// Components compiled from bytes since this runtime started.
    #[cfg(test)]
    pub(crate) fn compile_count(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    /// How many prepared components are in memory, and their summed weight in bytes.
    pub fn prepared_in_memory(&self) -> (usize, usize) {
        (self.prepared.len(), self.prepared.weight())
    }
}
