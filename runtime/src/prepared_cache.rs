//! Prepared components in memory, bounded by an approximate byte budget and evicted least
//! recently used first. An evicted component is prepared again on demand from the on-disk
//! artifact (a cheap deserialize), so the budget trades memory for an occasional reload.

use super::kind::Kind;
use super::prepared::Prepared;
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

struct Entry {
    prepared: Prepared,
    /// What it is assumed to cost in memory: the size of its bytes or compiled artifact.
    weight: usize,
    /// Tick of the last use; the smallest is evicted first.
    used: AtomicU64,
}

pub(crate) struct PreparedCache {
    entries: DashMap<String, Entry>,
    weight: AtomicUsize,
    budget: usize,
    tick: AtomicU64,
    /// Serializes evictions; lookups never wait on it.
    evicting: Mutex<()>,
}

impl PreparedCache {
    pub(crate) fn new(budget: usize) -> Self {
        PreparedCache {
            entries: DashMap::new(),
            weight: AtomicUsize::new(0),
            budget,
            tick: AtomicU64::new(0),
            evicting: Mutex::new(()),
        }
    }

    /// The component prepared for `kind`, marking it used.
    pub(crate) fn get(&self, digest: &str, kind: Kind) -> Option<Prepared> {
        let entry = self.entries.get(digest)?;
        if entry.prepared.kind() != kind {
            return None;
        }
        entry.used.store(self.tick.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        Some(entry.prepared.clone())
    }

    pub(crate) fn contains(&self, digest: &str) -> bool {
        self.entries.contains_key(digest)
    }

    /// Keeps `prepared`, then evicts the least recently used others while over budget. The
    /// newest entry always stays, even alone over budget: it is about to run.
    pub(crate) fn insert(&self, digest: &str, prepared: Prepared, weight: usize) {
        let entry = Entry { prepared, weight, used: AtomicU64::new(self.tick.fetch_add(1, Ordering::Relaxed)) };
        if let Some(old) = self.entries.insert(digest.to_string(), entry) {
            self.weight.fetch_sub(old.weight, Ordering::Relaxed);
        }
        self.weight.fetch_add(weight, Ordering::Relaxed);
        self.evict_over_budget(digest);
    }

    fn evict_over_budget(&self, keep: &str) {
        let _one_at_a_time = self.evicting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while self.weight.load(Ordering::Relaxed) > self.budget {
            let oldest = self
                .entries
                .iter()
                .filter(|e| e.key() != keep)
                .min_by_key(|e| e.used.load(Ordering::Relaxed))
                .map(|e| e.key().clone());
            let Some(digest) = oldest else { return };
            if let Some((_, entry)) = self.entries.remove(&digest) {
                self.weight.fetch_sub(entry.weight, Ordering::Relaxed);
                tracing::debug!(digest, weight = entry.weight, "evicted a prepared component from memory");
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The summed weight of the prepared components kept.
    pub(crate) fn weight(&self) -> usize {
        self.weight.load(Ordering::Relaxed)
    }
}
