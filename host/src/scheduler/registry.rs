//! The job kinds a host runs: each domain registers its own (in its `jobs.rs`) with a handler,
//! a time limit, how often it is retried and, for recurring work, how often it runs.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::model::Job;

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
pub type Handler<C> = Arc<dyn Fn(Arc<C>, Job) -> BoxFuture + Send + Sync>;

/// The pause before a failed job runs again: `first`, then `factor` times longer each time, at
/// most `max`; or, with `steps`, the step for the attempt (the last one repeating). Each pause
/// is lengthened by up to a quarter at random so that jobs failing together do not retry
/// together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub factor: u32,
    pub max: Duration,
    pub steps: &'static [Duration],
}

impl Default for Backoff {
    /// 5 s, 20 s, 80 s, ... up to an hour.
    fn default() -> Self {
        Backoff::exponential(Duration::from_secs(5), 4, Duration::from_secs(3600))
    }
}

impl Backoff {
    pub const fn exponential(first: Duration, factor: u32, max: Duration) -> Backoff {
        Backoff { first, factor, max, steps: &[] }
    }

    /// A fixed schedule: the pause after the n-th failure is `steps[n - 1]` (the last repeating).
    pub const fn schedule(steps: &'static [Duration]) -> Backoff {
        Backoff { first: Duration::ZERO, factor: 1, max: Duration::ZERO, steps }
    }

    /// The pause after the `attempts`-th failed run (1 for the first), without the jitter.
    pub fn base(&self, attempts: i64) -> Duration {
        if let Some(last) = self.steps.last() {
            let i = (attempts.max(1) - 1) as usize;
            return self.steps.get(i).copied().unwrap_or(*last);
        }
        let mut pause = self.first;
        for _ in 1..attempts.max(1) {
            pause = pause.saturating_mul(self.factor);
            if pause >= self.max {
                return self.max;
            }
        }
        pause.min(self.max)
    }

    pub fn after(&self, attempts: i64) -> Duration {
        let base = self.base(attempts);
        base + base.mul_f64(rand::random::<f64>() / 4.0)
    }
}

pub struct Kind<C> {
    pub spec: KindSpec,
    pub handler: Handler<C>,
}

pub struct Registry<C> {
    kinds: BTreeMap<&'static str, Kind<C>>,
}

impl<C> Default for Registry<C> {
    fn default() -> Self {
        Registry { kinds: BTreeMap::new() }
    }
}

impl<C: Send + Sync + 'static> Registry<C> {
    /// Adds a kind; its handler gets the host's context and the job.
    pub fn add<F, Fut>(&mut self, kind: KindSpec, handler: F) -> &mut Self
    where
        F: Fn(Arc<C>, Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        assert!(!self.kinds.contains_key(kind.name), "job kind {} registered twice", kind.name);
        let handler: Handler<C> = Arc::new(move |ctx, job| Box::pin(handler(ctx, job)));
        self.kinds.insert(kind.name, Kind { spec: kind, handler });
        self
    }

    pub fn get(&self, name: &str) -> Option<&Kind<C>> {
        self.kinds.get(name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }

    pub fn recurring(&self) -> impl Iterator<Item = &Kind<C>> {
        self.kinds.values().filter(|k| k.spec.every.is_some())
    }
}

/// How a kind runs.
#[derive(Debug, Clone, Copy)]
pub struct KindSpec {
    pub name: &'static str,
    /// A run taking longer fails; its lease lasts this long plus a margin.
    pub timeout: Duration,
    pub max_attempts: i64,
    pub backoff: Backoff,
    /// Recurring work: one job of this kind always exists and runs this often.
    pub every: Option<Duration>,
}

impl KindSpec {
    /// Work added now and then (`scheduler::enqueue`): a minute to run, 8 attempts.
    pub const fn once(name: &'static str) -> KindSpec {
        KindSpec {
            name,
            timeout: Duration::from_secs(60),
            max_attempts: 8,
            backoff: Backoff::exponential(Duration::from_secs(5), 4, Duration::from_secs(3600)),
            every: None,
        }
    }

    /// Work that runs every `every`, and once when a host starts.
    pub const fn every(name: &'static str, every: Duration) -> KindSpec {
        KindSpec { every: Some(every), ..KindSpec::once(name) }
    }

    pub const fn timeout(self, timeout: Duration) -> KindSpec {
        KindSpec { timeout, ..self }
    }

    pub const fn attempts(self, max_attempts: i64, backoff: Backoff) -> KindSpec {
        KindSpec { max_attempts, backoff, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_grows_by_its_factor_up_to_its_cap_with_at_most_a_quarter_of_jitter() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=7).map(|n| b.base(n).as_secs()).collect();
        assert_eq!(secs, [5, 20, 80, 320, 1280, 3600, 3600]);
        for n in 1..=7 {
            let pause = b.after(n);
            assert!(pause >= b.base(n) && pause <= b.base(n) + b.base(n) / 4, "{n}: {pause:?}");
        }
        const STEPS: &[Duration] = &[Duration::from_secs(5), Duration::from_secs(300)];
        let s = Backoff::schedule(STEPS);
        let secs: Vec<u64> = (1..=3).map(|n| s.base(n).as_secs()).collect();
        assert_eq!(secs, [5, 300, 300]);
    }
}
