//! `agora:platform/kv`: the agent's store, through `Invocation::kv` in its namespace.

use super::HostState;
use crate::runtime::bindings::kv;
use crate::runtime::bindings::types::CapabilityError;
use crate::runtime::kv::KvError;
use std::future::Future;

/// Longest key accepted (bytes); longer or empty keys are `invalid`.
const MAX_KEY_BYTES: usize = 512;
/// Most keys returned by one `list-keys`.
const MAX_LISTED_KEYS: usize = 1000;

impl HostState {
    fn check_kv(&mut self, key: Option<&str>) -> Result<(), CapabilityError> {
        if !self.grants.kv {
            return Err(CapabilityError::Denied(self.deny("kv is not granted to this component")));
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
    async fn kv_call<T>(&mut self, call: impl Future<Output = Result<T, KvError>>) -> Result<T, CapabilityError> {
        match self.bounded(call).await {
            Some(Ok(value)) => Ok(value),
            Some(Err(KvError::QuotaExceeded(m))) => Err(CapabilityError::QuotaExceeded(m)),
            Some(Err(KvError::TooLarge(m))) => Err(CapabilityError::TooLarge(m)),
            Some(Err(KvError::Failed(m))) => Err(CapabilityError::Failed(m)),
            None => Err(CapabilityError::Unavailable("kv did not answer in time".into())),
        }
    }
}

// The store and namespace are cloned out of `self` so that the call does not borrow it.
impl kv::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, CapabilityError> {
        self.check_kv(Some(&key))?;
        let (kv, ns) = (self.kv.clone(), self.namespace.clone());
        self.kv_call(kv.get(&ns, &key)).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), CapabilityError> {
        self.check_kv(Some(&key))?;
        let (kv, ns) = (self.kv.clone(), self.namespace.clone());
        self.kv_call(kv.set(&ns, &key, value)).await
    }

    async fn delete(&mut self, key: String) -> Result<bool, CapabilityError> {
        self.check_kv(Some(&key))?;
        let (kv, ns) = (self.kv.clone(), self.namespace.clone());
        self.kv_call(kv.delete(&ns, &key)).await
    }

    async fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, CapabilityError> {
        self.check_kv(None)?;
        let (kv, ns) = (self.kv.clone(), self.namespace.clone());
        let mut keys = self.kv_call(kv.list_keys(&ns, &prefix)).await?;
        keys.truncate(MAX_LISTED_KEYS);
        Ok(keys)
    }
}
