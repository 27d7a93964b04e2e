//! The scheduler against a real database (SQLite, or PostgreSQL with several hosts): jobs run
//! once, failures retry on their backoff and give up, two hosts never run the same job, and a
//! dead host's job is taken over when its lease runs out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora::db::{now_ms, Db};
use agora::scheduler::{self, store, Backoff, KindSpec, Registry, Scheduler};
use serde_json::json;
use sqlx::Row;

/// What the test kinds saw: payloads by run, in order.
#[derive(Default)]
struct Seen {
    runs: Mutex<Vec<String>>,
}

impl Seen {
    fn runs(&self) -> Vec<String> {
        self.runs.lock().unwrap().clone()
    }
}

const COUNT: KindSpec = KindSpec::once("test.count");
const NO_WAIT: Backoff = Backoff::exponential(Duration::ZERO, 1, Duration::ZERO);
/// Fails until its third run.
const FLAKY: KindSpec = KindSpec::once("test.flaky").attempts(5, NO_WAIT);
/// Always fails; waits an hour before its next run.
const BROKEN: KindSpec = KindSpec::once("test.broken")
    .attempts(3, Backoff::exponential(Duration::from_secs(3600), 2, Duration::from_secs(7200)));
const HOPELESS: KindSpec = KindSpec::once("test.hopeless").attempts(3, NO_WAIT);
const SLOW: KindSpec = KindSpec::once("test.slow").timeout(Duration::from_millis(50)).attempts(1, NO_WAIT);

fn registry() -> Registry<Seen> {
    let mut jobs = Registry::default();
    jobs.add(COUNT, |seen: Arc<Seen>, job| async move {
        seen.runs.lock().unwrap().push(job.payload["n"].to_string());
        tokio::task::yield_now().await;
        Ok(())
    });
    jobs.add(FLAKY, |seen: Arc<Seen>, job| async move {
        seen.runs.lock().unwrap().push(format!("flaky {}", job.attempts));
        if job.attempts < 3 {
            return Err(format!("failure {}", job.attempts));
        }
        Ok(())
    });
    jobs.add(BROKEN, |_, _| async { Err("the endpoint answered 500".to_string()) });
    jobs.add(HOPELESS, |_, job| async move { Err(format!("failure {}", job.attempts)) });
    jobs.add(SLOW, |_, _| async { std::future::pending().await });
    jobs
}

async fn database() -> String {
    let url = agora_e2e::fresh_database_url(&agora_testkit::fresh_dir("scheduler")).await;
    let db = Db::connect(&url, 4).await.unwrap();
    db.migrate().await.unwrap();
    db.close().await;
    url
}

async fn host(url: &str, seen: &Arc<Seen>) -> (Db, Arc<Scheduler<Seen>>) {
    let db = Db::connect(url, 8).await.unwrap();
    let owner = format!("host-{}", agora_e2e::random_name("test"));
    let scheduler = Scheduler::new(db.clone(), seen.clone(), registry(), owner, 8, Duration::from_secs(1));
    (db, scheduler)
}

async fn enqueue(db: &Db, spec: KindSpec, key: Option<&str>, n: i64, run_at: i64) -> bool {
    let payload = &json!({ "n": n });
    agora::transaction!(db, |c| scheduler::enqueue(c, spec, key, payload, Some(run_at))).unwrap()
}

/// status, attempts, last_error of every job of `kind`, by payload.
async fn jobs(db: &Db, kind: &str) -> HashMap<String, (String, i64, Option<String>)> {
    sqlx::query("SELECT payload, status, attempts, last_error, run_at FROM scheduled_jobs WHERE kind = $1")
        .bind(kind)
        .fetch_all(&*db.read)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("payload"), (r.get("status"), r.get("attempts"), r.get("last_error"))))
        .collect()
}

#[tokio::test]
async fn due_jobs_run_once_and_later_ones_wait() {
    let url = database().await;
    let seen = Arc::new(Seen::default());
    let (db, scheduler) = host(&url, &seen).await;
    let now = now_ms();
    assert!(enqueue(&db, COUNT, None, 1, now - 60_000).await);
    assert!(enqueue(&db, COUNT, Some("only-once"), 2, now).await);
    assert!(!enqueue(&db, COUNT, Some("only-once"), 3, now).await, "a second job with the same key is not added");
    assert!(enqueue(&db, COUNT, None, 4, now + 3_600_000).await);

    assert_eq!(scheduler.run_due().await, 2);
    let mut runs = seen.runs();
    runs.sort();
    assert_eq!(runs, ["1", "2"]);
    assert_eq!(scheduler.run_due().await, 0, "nothing else is due");
    let jobs = jobs(&db, "test.count").await;
    assert_eq!(jobs[r#"{"n":1}"#].0, "done");
    assert_eq!(jobs[r#"{"n":2}"#].0, "done");
    assert_eq!(jobs[r#"{"n":4}"#], ("pending".into(), 0, None));
}

#[tokio::test]
async fn failing_jobs_retry_on_their_backoff_and_give_up_after_their_attempts() {
    let url = database().await;
    let seen = Arc::new(Seen::default());
    let (db, scheduler) = host(&url, &seen).await;
    let now = now_ms();
    enqueue(&db, FLAKY, None, 1, now).await;
    enqueue(&db, BROKEN, None, 2, now).await;
    enqueue(&db, HOPELESS, None, 3, now).await;
    enqueue(&db, SLOW, None, 4, now).await;
    scheduler.run_due().await;

    // Retried at once (no backoff) until it succeeded on its third run.
    assert_eq!(seen.runs(), ["flaky 1", "flaky 2", "flaky 3"]);
    assert_eq!(jobs(&db, "test.flaky").await[r#"{"n":1}"#], ("done".into(), 3, Some("failure 2".into())));
    // Out of attempts: failed for good, with the last error.
    assert_eq!(jobs(&db, "test.hopeless").await[r#"{"n":3}"#], ("failed".into(), 3, Some("failure 3".into())));
    // Over its time limit: failed.
    let slow = &jobs(&db, "test.slow").await[r#"{"n":4}"#];
    assert_eq!((slow.0.as_str(), slow.1), ("failed", 1));
    assert!(slow.2.as_deref().unwrap().starts_with("timed out"), "{slow:?}");
    // Failed once, waiting an hour (plus up to a quarter of jitter) for its next run.
    let broken = jobs(&db, "test.broken").await[r#"{"n":2}"#].clone();
    assert_eq!(broken, ("pending".into(), 1, Some("the endpoint answered 500".into())));
    let run_at: i64 = sqlx::query_scalar("SELECT run_at FROM scheduled_jobs WHERE kind = 'test.broken'")
        .fetch_one(&*db.read)
        .await
        .unwrap();
    let wait = run_at - now_ms();
    assert!((3_590_000..=4_500_000).contains(&wait), "next run in {wait} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_one_database_never_run_the_same_job() {
    let url = database().await;
    let seen = Arc::new(Seen::default());
    let (db, first) = host(&url, &seen).await;
    let (_, second) = host(&url, &seen).await;
    let now = now_ms();
    for n in 0..200 {
        enqueue(&db, COUNT, None, n, now).await;
    }
    let (a, b) = tokio::join!(first.run_due(), second.run_due());
    assert_eq!(a + b, 200, "{a} + {b}");
    let mut runs: Vec<i64> = seen.runs().iter().map(|n| n.parse().unwrap()).collect();
    runs.sort_unstable();
    assert_eq!(runs, (0..200).collect::<Vec<_>>(), "every job ran exactly once");
}

#[tokio::test]
async fn a_dead_hosts_job_is_taken_over_when_its_lease_runs_out() {
    let url = database().await;
    let seen = Arc::new(Seen::default());
    let (db, scheduler) = host(&url, &seen).await;
    enqueue(&db, COUNT, None, 7, now_ms()).await;
    enqueue(&db, COUNT, None, 8, now_ms()).await;
    // Another host claims both and dies: one lease is still running, one ran out.
    let shared = &db;
    let claim = |until: i64| async move {
        agora::transaction!(shared, |c| store::claim(c, shared.backend, &["test.count"], "dead-host", until, 1))
    };
    let claimed = claim(now_ms() + 3_600_000).await.unwrap();
    let expired = claim(now_ms() - 1).await.unwrap();
    assert_eq!((claimed.len(), expired.len()), (1, 1));

    assert_eq!(scheduler.run_due().await, 1, "only the job whose lease ran out");
    assert_eq!(seen.runs(), [expired[0].payload["n"].to_string()]);
    let taken = &jobs(&db, "test.count").await[&expired[0].payload.to_string()];
    assert_eq!((taken.0.as_str(), taken.1), ("done", 2), "its second run");
    // The dead host, back, cannot record an end for the job it lost.
    let finish = |id: &str| {
        let id = id.to_string();
        async move { agora::transaction!(shared, |c| store::finish(c, &id, "dead-host", &scheduler::Next::Done)) }
    };
    assert!(!finish(&expired[0].id).await.unwrap());
    assert!(finish(&claimed[0].id).await.unwrap());
}

#[tokio::test]
async fn a_restarted_host_takes_back_its_own_claims_at_once() {
    let url = database().await;
    let seen = Arc::new(Seen::default());
    let db = Db::connect(&url, 4).await.unwrap();
    enqueue(&db, COUNT, None, 9, now_ms()).await;
    // This host claimed the job (for an hour) and died.
    let until = now_ms() + 3_600_000;
    let held =
        agora::transaction!(db, |c| store::claim(c, db.backend, &["test.count"], "host-restarted", until, 10)).unwrap();
    assert_eq!(held.len(), 1);
    let other = Scheduler::new(db.clone(), seen.clone(), registry(), "host-other".into(), 8, Duration::from_secs(1));
    assert_eq!(other.release_previous_claims().await.unwrap(), 0, "another host's claims are not its own");
    assert_eq!(other.run_due().await, 0, "the lease still runs");
    let again =
        Scheduler::new(db.clone(), seen.clone(), registry(), "host-restarted".into(), 8, Duration::from_secs(1));
    assert_eq!(again.release_previous_claims().await.unwrap(), 1);
    assert_eq!(again.run_due().await, 1);
    assert_eq!(seen.runs(), ["9"]);
}
