//! The capability interfaces given to guests, one file and one context struct per WIT
//! interface, as wasmtime's `p2/host/` does.
//!
//! Each interface's `Host` trait is implemented for `Cap<'_, ItsCtx>`: the interface's own
//! context plus the `Call` state every capability shares (the deadline, and the record of a
//! denied capability). Every call that is not granted answers `denied` to the guest and is
//! recorded in `Call::denied`, which makes the whole execution end in
//! `ExecError::CapabilityDenied` whatever the guest returns afterwards.

pub(crate) mod http;
pub(crate) mod knowledge;
pub(crate) mod kv;
pub(crate) mod llm;
pub(crate) mod log;
pub(crate) mod marketplace;
pub(crate) mod messaging;
pub(crate) mod skills;
pub(crate) mod types;

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::HasData;

use crate::bindings::types::CapabilityError;
use crate::nested::{CallError, NestedCalls};

/// What every host call of one execution shares.
pub(crate) struct Call {
    /// The component's digest, for tracing.
    pub(crate) digest: Arc<str>,
    pub(crate) host_call_timeout: Duration,
    /// When the execution's wall-clock limit runs out.
    pub(crate) deadline: Instant,
    /// The first capability the guest was denied.
    pub(crate) denied: Option<String>,
    /// A host call was cut short because the execution's time ran out.
    pub(crate) out_of_time: bool,
}

impl Call {
    pub(crate) fn new(digest: Arc<str>, host_call_timeout: Duration, deadline: Instant) -> Self {
        Call { digest, host_call_timeout, deadline, denied: None, out_of_time: false }
    }

    /// Records a denial (the first one is kept) and returns the message for the guest.
    pub(crate) fn deny(&mut self, what: impl Into<String>) -> String {
        let what = what.into();
        tracing::info!(target: "agora::guest", digest = %self.digest, "capability denied: {what}");
        self.denied.get_or_insert_with(|| what.clone());
        what
    }

    /// How long the next host call may take: the per-call limit, but never past the
    /// execution's own deadline (epochs cannot interrupt a guest waiting on the host).
    pub(crate) fn timeout(&self) -> Duration {
        self.host_call_timeout.min(self.time_left())
    }

    /// What remains of the execution's wall-clock limit.
    pub(crate) fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs a host call within `timeout`; `None` if it did not finish in time. A call cut
    /// short by the execution's deadline makes the execution end in `Timeout`.
    pub(crate) async fn bounded<F: Future>(&mut self, call: F) -> Option<F::Output> {
        self.within(self.timeout(), call).await
    }

    /// Runs a nested call (a skill, a hire) until the execution's own deadline, which the
    /// nested run counts against; `None` (and the execution ends in `Timeout`) if it is reached.
    pub(crate) async fn until_deadline<F: Future>(&mut self, call: F) -> Option<F::Output> {
        self.within(self.time_left(), call).await
    }

    async fn within<F: Future>(&mut self, limit: Duration, call: F) -> Option<F::Output> {
        let outcome = tokio::time::timeout(limit, call).await.ok();
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

/// One capability's view of the store: its own context and the shared call state.
pub(crate) struct Cap<'a, C> {
    pub(crate) ctx: &'a mut C,
    pub(crate) call: &'a mut Call,
}

/// Projects the store data onto `Cap<'_, C>` for a generated `add_to_linker`.
pub(crate) struct CapData<C>(PhantomData<C>);

impl<C: Send + 'static> HasData for CapData<C> {
    type Data<'a> = Cap<'a, C>;
}

/// The capabilities' contexts of one execution.
pub(crate) struct Contexts {
    pub(crate) log: log::LogCtx,
    pub(crate) kv: kv::KvCtx,
    pub(crate) http: http::HttpCtx,
    pub(crate) nested: Nested,
    pub(crate) unserved: Unserved,
}

/// The context of `skills`, `marketplace`, `llm` and `messaging`: their grants and the host's
/// port.
pub(crate) struct Nested {
    pub(crate) skills: bool,
    pub(crate) marketplace: bool,
    pub(crate) llm: bool,
    pub(crate) messaging: bool,
    pub(crate) port: Option<Arc<dyn NestedCalls>>,
}

impl Nested {
    /// The host's port; a host that runs this component without one cannot serve the call.
    pub(crate) fn port(&self) -> Result<Arc<dyn NestedCalls>, CapabilityError> {
        self.port.clone().ok_or_else(|| CapabilityError::Unavailable("nested calls are not served here".into()))
    }
}

impl From<CallError> for CapabilityError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Denied(m) => CapabilityError::Denied(m),
            CallError::Unavailable(m) => CapabilityError::Unavailable(m),
            CallError::QuotaExceeded(m) => CapabilityError::QuotaExceeded(m),
            CallError::TooLarge(m) => CapabilityError::TooLarge(m),
            CallError::Invalid(m) => CapabilityError::Invalid(m),
            CallError::Failed(m) => CapabilityError::Failed(m),
        }
    }
}

/// The context of the interface the host does not serve yet (`knowledge`) and of the
/// function-less `types`: it answers `unavailable`.
pub(crate) struct Unserved;

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub(crate) fn call() -> Call {
        Call::new(Arc::from("test"), Duration::from_secs(10), Instant::now() + Duration::from_secs(1))
    }

    #[tokio::test]
    async fn capabilities_not_served_yet_are_unavailable_not_denied() {
        use crate::bindings::knowledge;
        use crate::bindings::types::CapabilityError;
        let is_unavailable = |result: Result<(), CapabilityError>| matches!(result, Err(CapabilityError::Unavailable(m)) if m.ends_with("is not available yet"));
        let mut state = call();
        let mut cap = Cap { ctx: &mut Unserved, call: &mut state };
        assert!(is_unavailable(knowledge::Host::search(&mut cap, "q".into(), 3).await.map(drop)));
        assert!(is_unavailable(knowledge::Host::add_note(&mut cap, "t".into(), "b".into()).await.map(drop)));
        assert_eq!(state.denied, None);
    }

    #[test]
    fn host_calls_never_outlast_the_execution() {
        let mut state = call();
        assert!(state.timeout() <= Duration::from_secs(1));
        state.deadline = Instant::now();
        assert_eq!(state.timeout(), Duration::ZERO);
    }
}
