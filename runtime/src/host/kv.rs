//! `agora:platform/kv`: the agent's store, through the host's `KvStore` in its namespace.

use super::Cap;
use crate::bindings::kv;
use crate::bindings::types::CapabilityError;
use crate::kv::{KvError, KvStore, MAX_KEY_BYTES};
use std::future::Future;
use std::sync::Arc;

/// Most keys returned by one `list-keys`.
const MAX_LISTED_KEYS: usize = 1000;

pub(crate) struct KvCtx {
    pub(crate) granted: bool,
    /// One namespace per agent.
    pub(crate) namespace: String,
    pub(crate) store: Arc<dyn KvStore>,
}

impl Cap<'_, KvCtx> {
    fn check(&mut self, key: Option<&str>) -> Result<(), CapabilityError> {
        if !self.ctx.granted {
            return Err(CapabilityError::Denied(self.call.deny("kv is not granted to this component")));
        }
        match key {
            Some("") => Err(CapabilityError::Invalid("the key is empty".into())),
            Some(k) if k.len() > MAX_KEY_BYTES => {
                Err(CapabilityError::Invalid(format!("the key is longer than {MAX_KEY_BYTES} bytes")))
            }
            _ => Ok(()),
        }
    }

    /// Calls the store within the host-call time limit and maps its errors to the WIT ones.
    async fn bounded<T>(&mut self, call: impl Future<Output = Result<T, KvError>>) -> Result<T, CapabilityError> {
        match self.call.bounded(call).await {
            Some(Ok(value)) => Ok(value),
            Some(Err(KvError::QuotaExceeded(m))) => Err(CapabilityError::QuotaExceeded(m)),
            Some(Err(KvError::TooLarge(m))) => Err(CapabilityError::TooLarge(m)),
            Some(Err(KvError::Failed(m))) => Err(CapabilityError::Failed(m)),
            None => Err(CapabilityError::Unavailable("kv did not answer in time".into())),
        }
    }

    /// The store and namespace, cloned so that a call does not borrow the context.
    fn target(&self) -> (Arc<dyn KvStore>, String) {
        (self.ctx.store.clone(), self.ctx.namespace.clone())
    }
}

impl kv::Host for Cap<'_, KvCtx> {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, CapabilityError> {
        self.check(Some(&key))?;
        let (store, ns) = self.target();
        self.bounded(store.get(&ns, &key)).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), CapabilityError> {
        self.check(Some(&key))?;
        let (store, ns) = self.target();
        self.bounded(store.set(&ns, &key, value)).await
    }

    async fn delete(&mut self, key: String) -> Result<bool, CapabilityError> {
        self.check(Some(&key))?;
        let (store, ns) = self.target();
        self.bounded(store.delete(&ns, &key)).await
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, CapabilityError> {
        self.check(None)?;
        let (store, ns) = self.target();
        let mut keys = self.bounded(store.list_keys(&ns, &prefix)).await?;
        keys.truncate(MAX_LISTED_KEYS);
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::testing::call;
    use crate::memory_kv::MemoryKv;

    fn ctx(granted: bool) -> KvCtx {
        KvCtx { granted, namespace: "agent-1".into(), store: Arc::new(MemoryKv::new()) }
    }

    #[tokio::test]
    async fn kv_checks_grant_and_keys() {
        let (mut denied, mut state) = (ctx(false), call());
        let mut cap = Cap { ctx: &mut denied, call: &mut state };
        assert!(matches!(kv::Host::get(&mut cap, "k".into()).await, Err(CapabilityError::Denied(_))));
        assert_eq!(state.denied.as_deref(), Some("kv is not granted to this component"));

        let (mut granted, mut state) = (ctx(true), call());
        let mut cap = Cap { ctx: &mut granted, call: &mut state };
        assert!(matches!(kv::Host::get(&mut cap, String::new()).await, Err(CapabilityError::Invalid(_))));
        assert!(matches!(kv::Host::set(&mut cap, "k".repeat(513), vec![]).await, Err(CapabilityError::Invalid(_))));
        kv::Host::set(&mut cap, "k".into(), b"v".to_vec()).await.unwrap();
        assert_eq!(kv::Host::get(&mut cap, "k".into()).await.unwrap(), Some(b"v".to_vec()));
        assert_eq!(kv::Host::list_keys(&mut cap, String::new()).await.unwrap(), vec!["k"]);
        assert!(kv::Host::delete(&mut cap, "k".into()).await.unwrap());
        assert_eq!(state.denied, None);
    }
}
