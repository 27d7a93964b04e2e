//! The key-value store behind the `kv` capability, implemented by the host on its database.

use futures::future::BoxFuture;

/// Longest key (bytes) a guest may use; longer or empty keys are `invalid`.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value (bytes) a guest may store.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// One namespace per agent; the host enforces its quotas and answers with `KvError`.
pub trait KvStore: Send + Sync {
    fn get<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, KvError>>;
    fn set<'a>(&'a self, ns: &'a str, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<(), KvError>>;
    /// Returns whether the key existed.
    fn delete<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, Result<bool, KvError>>;
    /// Keys starting with `prefix`, in ascending byte order.
    fn list_keys<'a>(&'a self, ns: &'a str, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, KvError>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("{0}")]
    Failed(String),
}
