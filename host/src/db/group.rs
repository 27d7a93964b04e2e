//! Group commit: the write transactions of concurrent requests run one after another inside
//! one database transaction and are committed together, so that a busy server commits (and,
//! on PostgreSQL, flushes its log) once for many requests instead of once per request.
//!
//! A *lane* is one connection with its open transaction. A unit (one request's transaction)
//! takes the lane's lock, runs its statements (inside a savepoint unless it opened the
//! transaction, so that a failing unit rolls back alone), and lets go of the lock; the first
//! unit of a batch then wakes the lane's committer, which queues for the lock behind every unit
//! already waiting and commits them all. Each unit is answered only after the commit that holds
//! its writes. A request alone commits at once; under load the batch grows with the queue.
//!
//! SQLite has one lane (one writer). PostgreSQL has several, each with its own connection; a
//! unit takes a free lane if there is one. Lanes' batches can wait on each other's row locks in
//! a cycle; a short lock timeout breaks such a cycle fast (PostgreSQL's deadlock detector waits
//! a second), and the unit that timed out runs again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use sqlx::AnyPool;
use tokio::sync::{watch, Mutex, Notify, OwnedMutexGuard};

use super::conn::{Conn, Link};
use super::lite;

/// How a batch ended, as its units see it.
type Outcome = Option<Result<(), BatchFailed>>;

pub struct GroupCommit {
    lanes: Vec<Arc<Lane>>,
    next: AtomicUsize,
    stats: Arc<Stats>,
}

/// Counts since start, for operators and tests: how many units were committed in how many
/// transactions.
#[derive(Default)]
pub struct Stats {
    pub units: AtomicU64,
    pub commits: AtomicU64,
}

/// Where a lane's connection comes from.
#[derive(Clone)]
pub enum Source {
    /// SQLite's one writer connection to this file, kept open between batches.
    Sqlite(PathBuf),
    Pool(AnyPool),
}

struct Lane {
    stats: Arc<Stats>,
    source: Source,
    begin: &'static str,
    batch: Arc<Mutex<Batch>>,
    wake_committer: Notify,
    max_units: usize,
}

/// The lane's open transaction, if any.
#[derive(Default)]
struct Batch {
    open: Option<Open>,
    /// SQLite's writer connection between batches.
    idle: Option<rusqlite::Connection>,
    /// SQLite's checkpoints, once the writer is open.
    checkpointer: Option<lite::Checkpointer>,
}

struct Open {
    conn: Conn,
    units: usize,
    /// Units that finished with their writes kept.
    kept: usize,
    /// Set when a statement that keeps the batch consistent (a savepoint, a rollback to one)
    /// failed: the batch cannot be committed and its units retry.
    broken: bool,
    done: watch::Sender<Outcome>,
}

impl GroupCommit {
    /// `lanes` connections from `source` at most (SQLite has one), each opening its
    /// transactions with `begin`; at most `max_units` units per transaction.
    pub fn new(source: Source, begin: &'static str, lanes: usize, max_units: usize) -> Arc<GroupCommit> {
        let stats = Arc::new(Stats::default());
        let lanes: Vec<Arc<Lane>> = (0..lanes.max(1))
            .map(|_| {
                Arc::new(Lane {
                    stats: stats.clone(),
                    source: source.clone(),
                    begin,
                    batch: Arc::new(Mutex::new(Batch::default())),
                    wake_committer: Notify::new(),
                    max_units,
                })
            })
            .collect();
        for lane in &lanes {
            tokio::spawn(commit_when_woken(lane.clone()));
        }
        Arc::new(GroupCommit { lanes, next: AtomicUsize::new(0), stats })
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Starts a unit: its statements run on `Unit::conn` until `finish` or `abandon`.
    pub async fn unit(&self) -> Result<Unit, sqlx::Error> {
        let (lane, guard) = self.take_lane().await;
        Unit::start(lane, guard).await
    }

    async fn take_lane(&self) -> (Arc<Lane>, OwnedMutexGuard<Batch>) {
        for lane in &self.lanes {
            if let Ok(guard) = lane.batch.clone().try_lock_owned() {
                return (lane.clone(), guard);
            }
        }
        let lane = self.lanes[self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len()].clone();
        let guard = lane.batch.clone().lock_owned().await;
        (lane, guard)
    }
}

/// The committer of one lane: commits the open batch each time the first unit of a batch is
/// done. Its turn at the lock comes after every unit that was already waiting for it.
async fn commit_when_woken(lane: Arc<Lane>) {
    loop {
        lane.wake_committer.notified().await;
        let mut batch = lane.batch.lock().await;
        commit(&mut batch, &lane.stats).await;
    }
}

/// Commits the open batch (or rolls it back if it is broken) and tells its units.
async fn commit(batch: &mut Batch, stats: &Stats) {
    let Some(mut open) = batch.open.take() else { return };
    let (ended, outcome) = if open.broken {
        let ended = open.conn.batch("ROLLBACK").await;
        (ended, Err(BatchFailed { retry: true, message: "the batch this write was part of failed".into() }))
    } else if let Err(e) = open.conn.write_appends().await {
        let ended = open.conn.batch("ROLLBACK").await;
        (ended, Err(BatchFailed { retry: true, message: format!("the batch this write was part of failed: {e}") }))
    } else {
        match open.conn.batch("COMMIT").await {
            Ok(()) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats.units.fetch_add(open.kept as u64, Ordering::Relaxed);
                (Ok(()), Ok(()))
            }
            // The database may have committed before the error reached us: running the units
            // again could apply them twice.
            Err(e) => {
                let message = format!("commit outcome unknown: {e}");
                (Err(e), Err(BatchFailed { retry: false, message }))
            }
        }
    };
    match open.conn.into_link() {
        Link::Sqlite(c) if ended.is_ok() => {
            batch.idle = Some(c);
            if let (Some(checkpointer), Ok(())) = (batch.checkpointer.as_mut(), &outcome) {
                checkpointer.committed();
            }
        }
        // The connection may be in any state: close it rather than use it again.
        Link::Postgres(mut c) if ended.is_err() => c.close_on_drop(),
        _ => {}
    }
    let _ = open.done.send(Some(outcome));
}

/// One request's transaction inside a batch.
pub struct Unit {
    lane: Arc<Lane>,
    guard: Option<OwnedMutexGuard<Batch>>,
    /// Its savepoint, unless it opened the batch.
    savepoint: Option<String>,
    /// How many rows the batch had appended when it started (`Conn::append`).
    appended: usize,
    done: watch::Receiver<Outcome>,
}

/// A unit's batch was not committed, or may not have been.
#[derive(Debug, Clone)]
pub struct BatchFailed {
    /// True when the batch was certainly not committed: the unit's writes are gone and it may
    /// run again. False when the outcome is unknown.
    pub retry: bool,
    pub message: String,
}

impl Unit {
    async fn start(lane: Arc<Lane>, mut guard: OwnedMutexGuard<Batch>) -> Result<Unit, sqlx::Error> {
        if guard.open.as_ref().is_some_and(|o| o.units >= lane.max_units || o.broken) {
            // In a task of its own: if this request is cancelled meanwhile, the commit and the
            // batch's answer still complete.
            let stats = lane.stats.clone();
            guard = tokio::spawn(async move {
                commit(&mut guard, &stats).await;
                guard
            })
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("committing a full batch: {e}")))?;
        }
        let savepoint = match guard.open.as_mut() {
            Some(open) => {
                let name = format!("unit_{}", open.units);
                if let Err(e) = open.conn.batch(&format!("SAVEPOINT {name}")).await {
                    open.broken = true;
                    return Err(e);
                }
                open.units += 1;
                Some(name)
            }
            None => {
                let link = match &lane.source {
                    Source::Sqlite(path) => Link::Sqlite(match guard.idle.take() {
                        Some(c) => c,
                        None => {
                            let c = lite::open_writer(path)?;
                            guard.checkpointer.get_or_insert_with(|| lite::Checkpointer::start(path));
                            c
                        }
                    }),
                    Source::Pool(pool) => Link::Postgres(pool.acquire().await?),
                };
                let mut conn = Conn::new(link);
                conn.batch(lane.begin).await?;
                let (done, _) = watch::channel(None);
                guard.open = Some(Open { conn, units: 1, kept: 0, broken: false, done });
                None
            }
        };
        let open = guard.open.as_ref().expect("a batch is open");
        let (done, appended) = (open.done.subscribe(), open.conn.appended());
        Ok(Unit { lane, guard: Some(guard), savepoint, appended, done })
    }

    pub fn conn(&mut self) -> &mut Conn {
        let open = self.guard.as_mut().and_then(|g| g.open.as_mut()).expect("a unit runs in an open batch");
        &mut open.conn
    }

    /// Keeps the unit's writes and waits until the batch holding them is committed.
    pub async fn finish(mut self) -> Result<(), BatchFailed> {
        let mut guard = self.guard.take().expect("finished once");
        if let Some(open) = guard.open.as_mut() {
            open.kept += 1;
        }
        let first = self.savepoint.is_none();
        drop(guard);
        if first {
            self.lane.wake_committer.notify_one();
        }
        match self.done.wait_for(Option::is_some).await {
            Ok(outcome) => match outcome.as_ref().expect("waited for an outcome") {
                Ok(()) => Ok(()),
                Err(failed) => Err(failed.clone()),
            },
            Err(_) => Err(BatchFailed { retry: false, message: "the batch's outcome was lost".into() }),
        }
    }

    /// Undoes the unit's writes; the rest of the batch goes on.
    pub async fn abandon(mut self) {
        let mut guard = self.guard.take().expect("abandoned once");
        undo(&mut guard, self.savepoint.take(), self.appended).await;
    }
}

/// Rolls back a unit: to its savepoint, or the whole transaction if it opened it (then it is
/// alone in it: it held the lock since).
async fn undo(batch: &mut Batch, savepoint: Option<String>, appended: usize) {
    match savepoint {
        Some(name) => {
            if let Some(open) = batch.open.as_mut() {
                open.conn.forget_appends_from(appended);
                if open.conn.batch(&format!("ROLLBACK TO SAVEPOINT {name}")).await.is_err() {
                    open.broken = true;
                }
            }
        }
        None => {
            if let Some(mut open) = batch.open.take() {
                match open.conn.batch("ROLLBACK").await {
                    Ok(()) => {
                        if let Link::Sqlite(c) = open.conn.into_link() {
                            batch.idle = Some(c);
                        }
                    }
                    Err(_) => {
                        if let Link::Postgres(c) = &mut open.conn.link {
                            c.close_on_drop();
                        }
                    }
                }
                let _ = open.done.send(Some(Err(BatchFailed { retry: true, message: "rolled back".into() })));
            }
        }
    }
}

impl Drop for Unit {
    /// A unit dropped half way (its request was cancelled) is undone before anyone else
    /// uses the lane: the task that undoes it takes over the lock.
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            let (savepoint, appended) = (self.savepoint.take(), self.appended);
            tokio::spawn(async move { undo(&mut guard, savepoint, appended).await });
        }
    }
}

impl From<BatchFailed> for sqlx::Error {
    fn from(e: BatchFailed) -> Self {
        sqlx::Error::Protocol(e.message)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use crate::db::Db;
    use crate::transaction;

    async fn db() -> Db {
        let dir = agora_testkit::fresh_dir("group");
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.display()), 4).await.unwrap();
        sqlx::query("CREATE TABLE t (n BIGINT PRIMARY KEY)").execute(&db.direct).await.unwrap();
        db
    }

    async fn rows(db: &Db) -> Vec<i64> {
        crate::db::query_scalar::<i64>("SELECT n FROM t ORDER BY n").fetch_all(&db.read).await.unwrap()
    }

    async fn insert(db: &Db, n: i64, fail: bool) -> Result<(), sqlx::Error> {
        transaction!(db, |c| async move {
            crate::db::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *c).await?;
            if fail {
                // A second write that breaks a constraint: the unit fails after writing.
                crate::db::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *c).await?;
            }
            Ok::<_, sqlx::Error>(())
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_units_share_commits_and_failing_ones_roll_back_alone() {
        let db = db().await;
        // A first unit holds the writer until every other unit is waiting for it, so that they
        // all join its batch however the machine schedules them.
        let first = db.group.unit().await.unwrap();
        let queued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..200i64)
            .map(|n| {
                let (db, queued) = (db.clone(), queued.clone());
                tokio::spawn(async move {
                    queued.fetch_add(1, Ordering::SeqCst);
                    (n, insert(&db, n, n % 3 == 0).await)
                })
            })
            .collect();
        while queued.load(Ordering::SeqCst) < 200 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        first.finish().await.unwrap();
        for t in tasks {
            let (n, result) = t.await.unwrap();
            assert_eq!(result.is_err(), n % 3 == 0, "unit {n}: {result:?}");
        }
        let expected: Vec<i64> = (0..200).filter(|n| n % 3 != 0).collect();
        assert_eq!(rows(&db).await, expected);
        let stats = db.group.stats();
        let (units, commits) = (stats.units.load(Ordering::Relaxed), stats.commits.load(Ordering::Relaxed));
        assert_eq!(units, expected.len() as u64 + 1, "the first unit and the others that succeeded");
        assert!(commits < units, "{units} units in {commits} commits: some shared one");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unit_dropped_half_way_leaves_nothing_and_others_go_on() {
        let db = db().await;
        let started = std::sync::Arc::new(tokio::sync::Notify::new());
        let cancelled = {
            let (db, started) = (db.clone(), started.clone());
            tokio::spawn(async move {
                transaction!(db, |c| async {
                    crate::db::query("INSERT INTO t (n) VALUES (1)").execute(&mut *c).await?;
                    started.notify_one();
                    std::future::pending::<()>().await;
                    Ok::<_, sqlx::Error>(())
                })
            })
        };
        started.notified().await;
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        insert(&db, 2, false).await.unwrap();
        assert_eq!(rows(&db).await, vec![2]);
    }

    async fn logged(db: &Db) -> Vec<i64> {
        crate::db::query_scalar::<i64>("SELECT n FROM log ORDER BY n").fetch_all(&db.read).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appended_rows_commit_with_their_units_and_go_with_the_ones_undone() {
        let db = db().await;
        sqlx::query("CREATE TABLE log (n BIGINT PRIMARY KEY)").execute(&db.direct).await.unwrap();
        let first = db.group.unit().await.unwrap();
        let queued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..60i64)
            .map(|n| {
                let (db, queued) = (db.clone(), queued.clone());
                tokio::spawn(async move {
                    queued.fetch_add(1, Ordering::SeqCst);
                    let done = transaction!(db, |c| async move {
                        c.append(crate::db::Append::into("log").value("n", n));
                        crate::db::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *c).await?;
                        if n % 3 == 0 {
                            crate::db::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *c).await?;
                        }
                        Ok::<_, sqlx::Error>(())
                    });
                    (n, done)
                })
            })
            .collect();
        while queued.load(Ordering::SeqCst) < 60 {
            tokio::task::yield_now().await;
        }
        first.finish().await.unwrap();
        for t in tasks {
            let (n, result) = t.await.unwrap();
            assert_eq!(result.is_err(), n % 3 == 0, "unit {n}: {result:?}");
        }
        let expected: Vec<i64> = (0..60).filter(|n| n % 3 != 0).collect();
        assert_eq!(rows(&db).await, expected);
        assert_eq!(logged(&db).await, expected, "a row appended by each unit kept, none by those undone");
    }

    #[tokio::test]
    async fn an_append_that_fails_rolls_its_batch_back() {
        let db = db().await;
        sqlx::query("CREATE TABLE log (n BIGINT PRIMARY KEY)").execute(&db.direct).await.unwrap();
        let failed = transaction!(db, |c| async move {
            crate::db::query("INSERT INTO t (n) VALUES (1)").execute(&mut *c).await?;
            c.append(crate::db::Append::into("log").value("n", 7i64));
            c.append(crate::db::Append::into("log").value("n", 7i64));
            Ok::<_, sqlx::Error>(())
        });
        assert!(failed.is_err());
        assert_eq!(rows(&db).await, Vec::<i64>::new(), "the unit's own writes are gone too");
        assert_eq!(logged(&db).await, Vec::<i64>::new());
        insert(&db, 2, false).await.unwrap();
        assert_eq!(rows(&db).await, vec![2], "the writer goes on");
    }
}
