//! The exact-match cache of chat completions, in this process.
//!
//! The key is the SHA-256 of the account and the request in canonical JSON (object keys
//! sorted), without the fields that only change how the answer is delivered (`stream`,
//! `stream_options`): a streamed and a whole request share an entry. Entries are scoped to the
//! account that paid for them, never shared between accounts. Bounded by age (`ttl`) and by
//! the bytes of the cached answers, the oldest going first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

type Key = [u8; 32];

pub struct ResponseCache {
    ttl: Duration,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, (Arc<Value>, Instant, usize)>,
    order: VecDeque<(Key, Instant)>,
    bytes: usize,
}

/// The cache key of a chat request by `agent_id`.
pub fn key(agent_id: &str, body: &Value) -> Key {
    let mut hasher = Sha256::new();
    hasher.update(agent_id.as_bytes());
    hasher.update([0]);
    if let Value::Object(fields) = body {
        let mut names: Vec<&String> =
            fields.keys().filter(|k| !matches!(k.as_str(), "stream" | "stream_options")).collect();
        names.sort();
        for name in names {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            canonical(&fields[name], &mut hasher);
        }
    }
    hasher.finalize().into()
}

fn canonical(value: &Value, hasher: &mut Sha256) {
    match value {
        Value::Object(fields) => {
            let mut names: Vec<&String> = fields.keys().collect();
            names.sort();
            hasher.update(b"{");
            for name in names {
                hasher.update(serde_json::to_string(name).unwrap_or_default().as_bytes());
                hasher.update(b":");
                canonical(&fields[name], hasher);
                hasher.update(b",");
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for item in items {
                canonical(item, hasher);
                hasher.update(b",");
            }
            hasher.update(b"]");
        }
        other => hasher.update(other.to_string().as_bytes()),
    }
}

impl ResponseCache {
    /// A `ttl` of zero caches nothing.
    pub fn new(ttl: Duration, max_bytes: usize) -> ResponseCache {
        ResponseCache { ttl, max_bytes, inner: Mutex::new(Inner::default()) }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max_bytes > 0
    }

    /// A cached answer and its age.
    pub fn get(&self, key: &Key) -> Option<(Arc<Value>, Duration)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (value, stored, _) = inner.entries.get(key)?;
        let age = stored.elapsed();
        (age < self.ttl).then(|| (value.clone(), age))
    }

    pub fn put(&self, key: Key, value: Value) {
        if !self.enabled() {
            return;
        }
        let size = value.to_string().len() + 64;
        if size > self.max_bytes {
            return;
        }
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, old)) = inner.entries.insert(key, (Arc::new(value), now, size)) {
            inner.bytes -= old;
        }
        inner.bytes += size;
        inner.order.push_back((key, now));
        while inner.bytes > self.max_bytes || inner.order.front().is_some_and(|(_, at)| at.elapsed() >= self.ttl) {
            let Some((oldest, at)) = inner.order.pop_front() else { break };
            // Only the entry this record was made for: a key stored again has a newer record.
            if inner.entries.get(&oldest).is_some_and(|(_, stored, _)| *stored == at) {
                if let Some((_, _, size)) = inner.entries.remove(&oldest) {
                    inner.bytes -= size;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_ignore_field_order_and_delivery_but_not_the_account() {
        let a = json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}], "temperature": 0});
        let b = json!({"temperature": 0, "stream": true, "stream_options": {"include_usage": true},
                       "messages": [{"content": "hi", "role": "user"}], "model": "auto"});
        assert_eq!(key("x", &a), key("x", &b));
        assert_ne!(key("x", &a), key("y", &a));
        assert_ne!(key("x", &a), key("x", &json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}]})));
    }

    #[test]
    fn entries_expire_and_the_oldest_go_when_full() {
        let cache = ResponseCache::new(Duration::from_secs(60), 300);
        let big = json!("x".repeat(100));
        let k = |n: i64| key("a", &json!({ "n": n }));
        cache.put(k(1), big.clone());
        cache.put(k(2), big.clone());
        cache.put(k(3), big);
        assert!(cache.get(&k(1)).is_none(), "the oldest went");
        assert!(cache.get(&k(2)).is_none() && cache.get(&k(3)).is_some());
        let off = ResponseCache::new(Duration::ZERO, 300);
        off.put(k(1), json!(1));
        assert!(off.get(&k(1)).is_none());
    }
}
