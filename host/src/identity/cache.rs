//! Recently verified keys (API keys, licence keys), so that the hot path does not look a key
//! up on every request.
//!
//! Only keys that verified are kept, by the hash of the whole key (never the key itself), for
//! `ttl`: a key revoked or an agent suspended by another process (or directly in the database)
//! stops working within that time. Bounded: when full, expired entries go, and if none has
//! expired the whole cache is emptied (it refills from the database).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct KeyCache<V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V: Clone> KeyCache<V> {
    /// A `ttl` of zero keeps nothing.
    pub fn new(ttl: Duration, max_entries: usize) -> KeyCache<V> {
        KeyCache { ttl, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, key_hash: &str) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key_hash).filter(|(_, until)| *until > Instant::now()).map(|(p, _)| p.clone())
    }

    pub fn insert(&self, key_hash: String, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key_hash, (value, now + self.ttl));
    }

    /// Forgets a key at once (revoked, rotated) in this process.
    pub fn remove(&self, key_hash: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(key_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Principal;

    fn agent(id: &str) -> Principal {
        Principal::Agent { agent_id: id.into() }
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache = KeyCache::new(Duration::from_secs(60), 2);
        cache.insert("a".into(), agent("1"));
        cache.insert("b".into(), agent("2"));
        assert_eq!(cache.get("a"), Some(agent("1")));
        cache.insert("c".into(), agent("3"));
        assert!(cache.entries.lock().unwrap().len() <= 2);
        assert_eq!(cache.get("c"), Some(agent("3")));

        let expired = KeyCache::new(Duration::from_nanos(1), 10);
        expired.insert("a".into(), agent("1"));
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(expired.get("a"), None);

        let off = KeyCache::new(Duration::ZERO, 10);
        off.insert("a".into(), agent("1"));
        assert_eq!(off.get("a"), None);
    }
}
