//! The frame around every execution: a pool slot, a fresh store, a backstop timeout, and
//! the translation of how the call ended into an `Execution`.

use super::execution::{ExecError, Execution, Usage};
use super::kind::Kind;
use super::prepared::Prepared;
use super::store::{new_store, Captured, State};
use super::{Invocation, Runtime};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::{Store, Trap};

/// Added to the execution's timeout for the backstop around the whole call. The epoch
/// deadline normally ends the call first; the backstop catches anything that escapes it.
const BACKSTOP_GRACE: Duration = Duration::from_secs(1);

pub(crate) struct Session {
    digest: Arc<str>,
    started: Instant,
    backstop: Duration,
    initial_fuel: u64,
    max_output_bytes: usize,
    captured: Captured,
    // Released after the store is dropped (see `finish`), so the pool slot is free again.
    _permit: OwnedSemaphorePermit,
}

/// How many bytes of a result count against `Limits::max_output_bytes`.
pub(crate) trait OutputSize {
    fn output_bytes(&self) -> usize;
}

impl Runtime {
    /// Waits for a slot (up to the queue timeout) and makes the store for one execution.
    pub(crate) async fn open(
        &self,
        digest: &str,
        kind: Kind,
        invocation: Invocation,
    ) -> Result<(Store<State>, Prepared, Session), ExecError> {
        let prepared = self.prepared_as(digest, kind).ok_or(ExecError::NotPrepared)?;
        let permit = match tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            _ => return Err(ExecError::Busy),
        };
        let started = Instant::now();
        let digest: Arc<str> = Arc::from(digest);
        let initial_fuel = invocation.limits.fuel;
        let max_output_bytes = invocation.limits.max_output_bytes;
        let backstop = invocation.limits.timeout + BACKSTOP_GRACE;
        let (store, captured) = new_store(&self.engine, digest.clone(), invocation, self.http.clone(), started)
            .map_err(|e| ExecError::Trap(format!("{e:#}")))?;
        let session = Session { digest, started, backstop, initial_fuel, max_output_bytes, captured, _permit: permit };
        Ok((store, prepared, session))
    }
}

impl Session {
    /// Runs the call under the backstop timeout; `None` if the backstop fired.
    pub(crate) async fn guard<R>(
        &self,
        call: impl Future<Output = wasmtime::Result<R>>,
    ) -> Option<wasmtime::Result<R>> {
        tokio::time::timeout(self.backstop, call).await.ok()
    }

    /// Applies the execution's rules to how the call ended, in this order: a denied
    /// capability wins over everything; then running out of time (in a host call or at the
    /// backstop); then traps (fuel, deadline, refused memory growth, others); then the
    /// guest's own answer and the output limit.
    pub(crate) fn finish<R, T: OutputSize>(
        self,
        store: Store<State>,
        ended: Option<wasmtime::Result<R>>,
        convert: impl FnOnce(R) -> Result<T, ExecError>,
    ) -> Execution<T> {
        let fuel_left = store.get_fuel().unwrap_or(0);
        let state = store.into_data();
        let usage = Usage {
            fuel: self.initial_fuel.saturating_sub(fuel_left),
            wall_ms: self.started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
            memory_bytes: state.limiter.peak_bytes() as u64,
        };
        let result = match (&state.call.denied, ended) {
            (Some(which), _) => Err(ExecError::CapabilityDenied(which.clone())),
            (None, _) if state.call.out_of_time => Err(ExecError::Timeout),
            (None, None) => Err(ExecError::Timeout),
            (None, Some(Err(error))) => Err(classify_failure(&error, state.limiter.refused())),
            (None, Some(Ok(value))) => convert(value).and_then(|output| {
                if output.output_bytes() > self.max_output_bytes {
                    Err(ExecError::OutputTooLarge)
                } else {
                    Ok(output)
                }
            }),
        };
        let logs = state.caps.log.into_entries();
        if let Err(error) = &result {
            let (digest, code) = (&*self.digest, error.code());
            tracing::debug!(digest, code, fuel = usage.fuel, wall_ms = usage.wall_ms, "execution failed: {error}");
        }
        Execution {
            result,
            usage,
            logs,
            stdout: self.captured.stdout.contents(),
            stderr: self.captured.stderr.contents(),
        }
    }
}

/// What a failed call (trap or host error) means for the execution.
fn classify_failure(error: &wasmtime::Error, memory_refused: bool) -> ExecError {
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => ExecError::OutOfFuel,
        Some(Trap::Interrupt) => ExecError::Timeout,
        // A guest whose memory.grow was refused usually aborts (unreachable) right after.
        _ if memory_refused => ExecError::MemoryLimit,
        Some(trap) => ExecError::Trap(trap.to_string()),
        None => match error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => ExecError::Trap(format!("the component exited with status {}", exit.0)),
            None => ExecError::Trap(format!("{error:#}")),
        },
    }
}
