//! The capability interfaces given to guests, one file per WIT interface.
//!
//! `HostState` is the capability half of an execution's store data. Every call that is not
//! granted answers `denied` to the guest and is recorded in `denied`, which makes the whole
//! execution end in `ExecError::CapabilityDenied` whatever the guest returns afterwards.

mod http;
mod knowledge;
mod kv;
mod llm;
pub(crate) mod log;
mod marketplace;
mod messaging;
mod skills;
mod types;

use super::config::Grants;
use super::kv::KvStore;
use super::outbound::OutboundHttp;
use log::LogBuffer;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::HasData;

pub(crate) struct HostState {
    /// The component's digest, for tracing.
    pub(crate) digest: Arc<str>,
    pub(crate) namespace: String,
    pub(crate) grants: Grants,
    pub(crate) kv: Arc<dyn KvStore>,
    pub(crate) http: OutboundHttp,
    pub(crate) host_call_timeout: Duration,
    /// When the execution's wall-clock limit runs out.
    pub(crate) deadline: Instant,
    pub(crate) log: LogBuffer,
    /// The first capability the guest was denied.
    pub(crate) denied: Option<String>,
    /// A host call was cut short because the execution's time ran out.
    pub(crate) out_of_time: bool,
}

impl HostState {
    /// Records a denial (the first one is kept) and returns the message for the guest.
    pub(crate) fn deny(&mut self, what: impl Into<String>) -> String {
        let what = what.into();
        tracing::info!(target: "agora::guest", digest = %self.digest, "capability denied: {what}");
        self.denied.get_or_insert_with(|| what.clone());
        what
    }

    /// How long the next host call may take: the per-call limit, but never past the
    /// execution's own deadline (epochs cannot interrupt a guest waiting on the host).
    pub(crate) fn call_timeout(&self) -> Duration {
        self.host_call_timeout.min(self.deadline.saturating_duration_since(Instant::now()))
    }

    /// Runs a host call within `call_timeout`; `None` if it did not finish in time. A call
    /// cut short by the execution's deadline makes the execution end in `Timeout`.
    pub(crate) async fn bounded<F: Future>(&mut self, call: F) -> Option<F::Output> {
        let outcome = tokio::time::timeout(self.call_timeout(), call).await.ok();
        if outcome.is_none() {
            self.note_timeout();
        }
        outcome
    }

    /// Records that a host call timed out, and whether that was the execution's deadline.
    pub(crate) fn note_timeout(&mut self) {
        if Instant::now() >= self.deadline {
            self.out_of_time = true;
        }
    }
}

/// Projects the store data onto `HostState` for the generated `add_to_linker` functions.
pub(crate) struct Capabilities;

impl HasData for Capabilities {
    type Data<'a> = &'a mut HostState;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::types::CapabilityError;
    use crate::runtime::bindings::{knowledge, kv, llm, marketplace, messaging, skills};
    use crate::runtime::memory_kv::MemoryKv;

    fn host(grants: Grants) -> HostState {
        HostState {
            digest: Arc::from("test"),
            namespace: "agent-1".into(),
            grants,
            kv: Arc::new(MemoryKv::new()),
            http: OutboundHttp::new().unwrap(),
            host_call_timeout: Duration::from_secs(10),
            deadline: Instant::now() + Duration::from_secs(1),
            log: LogBuffer::new(1024),
            denied: None,
            out_of_time: false,
        }
    }

    fn is_unavailable<T>(result: Result<T, CapabilityError>) -> bool {
        matches!(result, Err(CapabilityError::Unavailable(m)) if m.ends_with("is not available yet"))
    }

    #[tokio::test]
    async fn capabilities_not_served_yet_are_unavailable_not_denied() {
        let mut host = host(Grants::default());
        let request = llm::ChatRequest { model: String::new(), messages: vec![], max_tokens: None, temperature: None };
        assert!(is_unavailable(llm::Host::chat(&mut host, request).await));
        assert!(is_unavailable(knowledge::Host::search(&mut host, "q".into(), 3).await));
        assert!(is_unavailable(knowledge::Host::add_note(&mut host, "t".into(), "b".into()).await));
        assert!(is_unavailable(skills::Host::call(&mut host, "s".into(), "{}".into()).await));
        assert!(is_unavailable(marketplace::Host::hire(&mut host, "a".into(), "t".into(), 1).await));
        assert!(is_unavailable(messaging::Host::send(&mut host, "a".into(), None, "hi".into()).await));
        assert_eq!(host.denied, None);
    }

    #[tokio::test]
    async fn kv_checks_grant_and_keys() {
        let mut denied = host(Grants::default());
        assert!(matches!(kv::Host::get(&mut denied, "k".into()).await, Err(CapabilityError::Denied(_))));
        assert_eq!(denied.denied.as_deref(), Some("kv is not granted to this component"));

        let mut granted = host(Grants { kv: true, ..Grants::default() });
        assert!(matches!(kv::Host::get(&mut granted, String::new()).await, Err(CapabilityError::Invalid(_))));
        assert!(matches!(kv::Host::set(&mut granted, "k".repeat(513), vec![]).await, Err(CapabilityError::Invalid(_))));
        kv::Host::set(&mut granted, "k".into(), b"v".to_vec()).await.unwrap();
        assert_eq!(kv::Host::get(&mut granted, "k".into()).await.unwrap(), Some(b"v".to_vec()));
        assert_eq!(kv::Host::list_keys(&mut granted, String::new()).await.unwrap(), vec!["k"]);
        assert!(kv::Host::delete(&mut granted, "k".into()).await.unwrap());
        assert_eq!(granted.denied, None);
    }

    #[test]
    fn host_calls_never_outlast_the_execution() {
        let mut state = host(Grants::default());
        assert!(state.call_timeout() <= Duration::from_secs(1));
        state.deadline = Instant::now();
        assert_eq!(state.call_timeout(), Duration::ZERO);
    }
}
