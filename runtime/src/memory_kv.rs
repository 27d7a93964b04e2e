//! An in-memory `KvStore` for tests and for running components without a database.

use super::kv::{KvError, KvStore};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryKv {
    /// (namespace, key) -> value; ordered so that listing is in ascending byte order.
    entries: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<(String, String), Vec<u8>>) -> R) -> R {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut entries)
    }
}

impl KvStore for MemoryKv {
    fn get<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, KvError>> {
        let value = self.with(|m| m.get(&(ns.to_string(), key.to_string())).cloned());
        Box::pin(async move { Ok(value) })
    }

    fn set<'a>(&'a self, ns: &'a str, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<(), KvError>> {
        self.with(|m| m.insert((ns.to_string(), key.to_string()), value));
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, Result<bool, KvError>> {
        let existed = self.with(|m| m.remove(&(ns.to_string(), key.to_string())).is_some());
        Box::pin(async move { Ok(existed) })
    }

    fn list_keys<'a>(&'a self, ns: &'a str, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, KvError>> {
        let keys = self.with(|m| {
            m.range((ns.to_string(), prefix.to_string())..)
                .take_while(|((n, k), _)| n == ns && k.starts_with(prefix))
                .map(|((_, k), _)| k.clone())
                .collect()
        });
        Box::pin(async move { Ok(keys) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn namespaces_are_separate_and_listing_is_ordered() {
        let kv = MemoryKv::new();
        kv.set("a", "k2", b"2".to_vec()).await.unwrap();
        kv.set("a", "k1", b"1".to_vec()).await.unwrap();
        kv.set("a", "other", b"x".to_vec()).await.unwrap();
        kv.set("b", "k1", b"b".to_vec()).await.unwrap();
        assert_eq!(kv.get("a", "k1").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(kv.get("b", "k1").await.unwrap(), Some(b"b".to_vec()));
        assert_eq!(kv.list_keys("a", "k").await.unwrap(), vec!["k1", "k2"]);
        assert_eq!(kv.list_keys("a", "").await.unwrap(), vec!["k1", "k2", "other"]);
        assert!(kv.delete("a", "k1").await.unwrap());
        assert!(!kv.delete("a", "k1").await.unwrap());
        assert_eq!(kv.get("a", "k1").await.unwrap(), None);
    }
}
