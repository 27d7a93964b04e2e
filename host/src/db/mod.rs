//! Storage: one code path for SQLite (embedded default) or PostgreSQL.
//!
//! SQL is written once with `$1` placeholders and run through `query` (`query`, `query_as`,
//! `query_scalar`), which reads rows the same way from either database. Writes run as units of
//! the group commit (`group`, through the `transaction!` macro): concurrent requests'
//! transactions share one database transaction and one commit. SQLite allows one writer at a
//! time: its units run on one connection of our own, stepped on the calling thread (`lite`);
//! reads go through a pool of sqlx's `Any` driver. On PostgreSQL reads and writes use one sqlx
//! pool.
//!
//! `tx` holds the transaction macro, `sql` the builder for SQL assembled at run time, `page`
//! pagination.

mod conn;
pub mod group;
mod lite;
pub mod page;
pub mod query;
mod row;
pub mod sql;
pub mod tx;

pub use conn::{Append, Conn};
pub use query::{query, query_as, query_scalar, Arg, Bind, Done, Query};
pub use row::{Decode, FromRow, Row};
pub use tx::Transient;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;
use group::{GroupCommit, Source};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    /// sqlx's pool, for migrations and for tools beside the server (tests). The server writes
    /// through `group` only: on SQLite a second writer would wait on the first's lock.
    pub direct: AnyPool,
    pub read: ReadPool,
    pub backend: Backend,
    pub group: Arc<GroupCommit>,
}

/// Units per batch at most. PostgreSQL keeps the ids of 64 subtransactions per transaction in
/// shared memory and slows every snapshot once a transaction has more, so its batches stay
/// under that.
const SQLITE_BATCH_UNITS: usize = 256;
const POSTGRES_BATCH_UNITS: usize = 48;
/// A batch waits at most this long for a row another lane's batch holds (see `group`).
const POSTGRES_BEGIN: &str = "BEGIN; SET LOCAL lock_timeout = '100ms'";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        Db::connect_with_lanes(url, max_connections, 1).await
    }

    /// `lanes`: PostgreSQL connections committing batches side by side (see `group`).
    pub async fn connect_with_lanes(url: &str, max_connections: u32, lanes: u32) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            let (url, path) = sqlite_url_creating_file(url)?;
            let opts = AnyConnectOptions::from_str(&url)?;
            let pool = |n: u32| {
                AnyPoolOptions::new()
                    .max_connections(n)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts.clone())
            };
            let direct = pool(1).await.with_context(|| format!("opening {url}"))?;
            let readers = max_connections.clamp(1, 8);
            let read =
                ReadPool { any: pool(readers).await?, sqlite: Some(Arc::new(lite::Readers::new(&path, readers))) };
            let group = GroupCommit::new(Source::Sqlite(path), "BEGIN IMMEDIATE", 1, SQLITE_BATCH_UNITS);
            Ok(Db { direct, read, backend: Backend::Sqlite, group })
        } else {
            let pool = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .context("connecting to PostgreSQL")?;
            let group =
                GroupCommit::new(Source::Pool(pool.clone()), POSTGRES_BEGIN, lanes as usize, POSTGRES_BATCH_UNITS);
            Ok(Db {
                direct: pool.clone(),
                read: ReadPool { any: pool, sqlite: None },
                backend: Backend::Postgres,
                group,
            })
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.direct).await.context("applying migrations")?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        query("SELECT 1").execute(&self.read).await.map(|_| ())
    }

    /// Runs one write statement as a unit of its own.
    pub async fn execute(&self, statement: Query<'_>) -> Result<Done, sqlx::Error> {
        crate::transaction!(self, |c| statement.clone().execute(c))
    }

    /// Row-lock suffix for reads that precede a write in the same transaction. SQLite needs
    /// none: its single writer connection already serializes writers.
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    pub async fn close(&self) {
        self.direct.close().await;
        self.read.close().await;
    }
}

/// The pool reads go through (a type of its own, so that writes cannot use it by mistake). On
/// SQLite, `query` reads on connections of our own, stepped on the calling thread like the
/// writer's; sqlx's pool serves read transactions (`begin`), which keep one snapshot.
#[derive(Clone)]
pub struct ReadPool {
    any: AnyPool,
    sqlite: Option<Arc<lite::Readers>>,
}

impl ReadPool {
    pub(crate) fn sqlite(&self) -> Option<&lite::Readers> {
        self.sqlite.as_deref()
    }
}

impl std::ops::Deref for ReadPool {
    type Target = AnyPool;
    fn deref(&self) -> &AnyPool {
        &self.any
    }
}

/// True when the error is a unique-constraint violation (used to map duplicates to 409).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(e) => {
            e.is_unique_violation() || matches!(e.code().as_deref(), Some("23505" | "2067" | "1555"))
        }
        _ => false,
    }
}

/// The URL for sqlx (creating the file if missing) and the database file's path.
fn sqlite_url_creating_file(url: &str) -> anyhow::Result<(String, PathBuf)> {
    let path_part = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path_part.split('?').next().unwrap_or_default();
    if path == ":memory:" || path.is_empty() {
        anyhow::bail!("{url}: SQLite needs a database file (the writer and the readers share it)");
    }
    if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    let url = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
    Ok((url, PathBuf::from(path)))
}

/// How far the host's clock was moved forward (`test_clock`).
static CLOCK_AHEAD_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The host's time: every stamp, due time and lease reads it.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis() + CLOCK_AHEAD_MS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Moves the host's clock forward by `ms`, for tests of what happens days later.
pub fn advance_clock(ms: i64) {
    CLOCK_AHEAD_MS.fetch_add(ms.max(0), std::sync::atomic::Ordering::Relaxed);
}

pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod migrations_agree;

/// A status or kind stored as text: the enum, `as_str`, `ALL`, `Display` and `FromStr`
/// (unknown text is an error naming it). Stored values are lowercase snake_case.
#[macro_export]
macro_rules! stored_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("unknown {} {s:?}", stringify!($name)))
            }
        }
    };
}
