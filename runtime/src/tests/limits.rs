//! Executions share the machine fairly: they yield, and the pool has a bounded queue.

use super::support::{config, fresh_dir, invocation, plain, prepare, shared, task};
use crate::{ExecError, Grants, Kind, Limits, Runtime};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn spin_limits(timeout: Duration) -> Limits {
    Limits { timeout, fuel: u64::MAX / 2, ..Limits::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinning_guests_do_not_block_other_tasks() {
    let runtime = shared();
    let digest = prepare(runtime, "spin", Kind::Agent);

    // A task on the worker threads (the test's own body runs on another thread) that
    // sleeps 10 ms at a time and records how late it wakes, from its very first poll on.
    let spawned = Instant::now();
    let sleeper = tokio::spawn(async move {
        let mut worst = spawned.elapsed();
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            let asked = Instant::now();
            tokio::time::sleep(Duration::from_millis(10)).await;
            worst = worst.max(asked.elapsed().saturating_sub(Duration::from_millis(10)));
        }
        worst
    });
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let digest = digest.clone();
            tokio::spawn(async move {
                let inv = invocation(spin_limits(Duration::from_secs(2)), Grants::default());
                runtime.run_agent(&digest, task("", None), inv).await
            })
        })
        .collect();

    let worst = sleeper.await.unwrap();
    for spinner in spinners {
        assert_eq!(spinner.await.unwrap().result.unwrap_err(), ExecError::Timeout);
    }
    assert!(worst < Duration::from_millis(50), "a 10 ms sleep was {worst:?} late");
}

fn small_runtime(queue_timeout: Duration) -> Arc<Runtime> {
    Arc::new(Runtime::new(config(fresh_dir("pool"), 1, queue_timeout)).expect("runtime"))
}

#[tokio::test]
async fn a_full_pool_answers_busy_after_the_queue_timeout() {
    let runtime = small_runtime(Duration::from_millis(200));
    let spin = prepare(&runtime, "spin", Kind::Agent);
    let echo = prepare(&runtime, "echo", Kind::Agent);
    let spinner = {
        let runtime = runtime.clone();
        tokio::spawn(async move {
            let inv = invocation(spin_limits(Duration::from_millis(1000)), Grants::default());
            runtime.run_agent(&spin, task("", None), inv).await
        })
    };
    wait_for_no_free_slot(&runtime).await;

    let waited = Instant::now();
    let run = runtime.run_agent(&echo, task("hi", None), plain()).await;
    assert_eq!(run.result.unwrap_err(), ExecError::Busy);
    assert!(waited.elapsed() >= Duration::from_millis(190), "{:?}", waited.elapsed());

    assert_eq!(spinner.await.unwrap().result.unwrap_err(), ExecError::Timeout);
    let run = runtime.run_agent(&echo, task("hi", None), plain()).await;
    assert_eq!(run.result.expect("a free slot again").output, "hi");
}

#[tokio::test]
async fn a_full_pool_queues_within_the_queue_timeout() {
    let runtime = small_runtime(Duration::from_secs(5));
    let spin = prepare(&runtime, "spin", Kind::Agent);
    let echo = prepare(&runtime, "echo", Kind::Agent);
    let spinner = {
        let runtime = runtime.clone();
        tokio::spawn(async move {
            let inv = invocation(spin_limits(Duration::from_millis(400)), Grants::default());
            runtime.run_agent(&spin, task("", None), inv).await
        })
    };
    wait_for_no_free_slot(&runtime).await;

    let waited = Instant::now();
    let run = runtime.run_agent(&echo, task("queued", None), plain()).await;
    assert_eq!(run.result.expect("runs once the slot is free").output, "queued");
    assert!(waited.elapsed() >= Duration::from_millis(200), "did not wait: {:?}", waited.elapsed());
    assert_eq!(spinner.await.unwrap().result.unwrap_err(), ExecError::Timeout);
}

/// Waits until the spinner has taken the pool's one slot.
async fn wait_for_no_free_slot(runtime: &Runtime) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while runtime.free_slots() > 0 {
        assert!(Instant::now() < deadline, "the spinner never took the slot");
        tokio::task::yield_now().await;
    }
}
