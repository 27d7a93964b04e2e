//! The `kv` capability maps store errors and bounds the time a store call may take.

use super::support::{prepare, shared, task};
use crate::{ExecError, Grants, Invocation, Kind, KvError, KvStore, Limits};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Answers every call after `delay` with `error` (or, for `get`, with nothing).
struct TroubledKv {
    delay: Duration,
    error: Option<KvError>,
}

impl TroubledKv {
    fn answer<'a, T: Send + 'a>(&'a self, ok: T) -> BoxFuture<'a, Result<T, KvError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            match &self.error {
                Some(error) => Err(error.clone()),
                None => Ok(ok),
            }
        })
    }
}

impl KvStore for TroubledKv {
    fn get<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, KvError>> {
        self.answer(None)
    }
    fn set<'a>(&'a self, _: &'a str, _: &'a str, _: Vec<u8>) -> BoxFuture<'a, Result<(), KvError>> {
        self.answer(())
    }
    fn delete<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<bool, KvError>> {
        self.answer(false)
    }
    fn list_keys<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Vec<String>, KvError>> {
        self.answer(Vec::new())
    }
}

fn with_kv(kv: TroubledKv, limits: Limits) -> Invocation {
    Invocation {
        namespace: "agent-1".into(),
        grants: Grants { kv: true, ..Grants::default() },
        limits,
        kv: Arc::new(kv),
        nested: None,
    }
}

#[tokio::test]
async fn store_errors_reach_the_guest_as_wit_errors() {
    let runtime = shared();
    let digest = prepare(runtime, "counter", Kind::Agent);
    // counter reads (fine: nothing there), then writes, which the store refuses.
    let quota = TroubledKv { delay: Duration::ZERO, error: None };
    let run = runtime.run_agent(&digest, task("c", None), with_kv(quota, Limits::default())).await;
    assert_eq!(run.result.expect("a store that accepts").output, "1");

    let quota = TroubledKv { delay: Duration::ZERO, error: Some(KvError::QuotaExceeded("store is full".into())) };
    let run = runtime.run_agent(&digest, task("c", None), with_kv(quota, Limits::default())).await;
    match run.result {
        Err(ExecError::Guest { message, .. }) => assert!(message.contains("store is full"), "{message}"),
        other => panic!("expected the guest's error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_slow_store_answers_unavailable_after_the_host_call_timeout() {
    let runtime = shared();
    let digest = prepare(runtime, "counter", Kind::Agent);
    let slow = TroubledKv { delay: Duration::from_secs(10), error: None };
    let limits = Limits { host_call_timeout: Duration::from_millis(200), ..Limits::default() };
    let started = Instant::now();
    let run = runtime.run_agent(&digest, task("c", None), with_kv(slow, limits)).await;
    assert!(matches!(&run.result, Err(ExecError::Guest { kind, .. }) if kind == "unavailable"), "{:?}", run.result);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_store_call_past_the_execution_deadline_is_a_timeout() {
    let runtime = shared();
    let digest = prepare(runtime, "counter", Kind::Agent);
    let slow = TroubledKv { delay: Duration::from_secs(10), error: None };
    let limits = Limits { timeout: Duration::from_millis(300), ..Limits::default() };
    let started = Instant::now();
    let run = runtime.run_agent(&digest, task("c", None), with_kv(slow, limits)).await;
    assert_eq!(run.result.unwrap_err(), ExecError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}
