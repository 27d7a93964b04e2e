//! The SQLite writer's connection: statements are prepared (once, then cached), bound and
//! stepped on the calling thread. sqlx's SQLite driver runs each connection on a thread of its
//! own and sends every statement there and the answer back, two thread wake-ups per statement;
//! for the one writer, through which every write passes, that hand-off was most of the cost of a
//! write (see docs/benchmarks.md). A statement here takes about a microsecond, so running it
//! inline on the async worker is much cheaper than handing it off. So are commits: the writer
//! never checkpoints the WAL itself (which writes and syncs the database file); a thread of its
//! own does, on a connection of its own, every `CHECKPOINT_EVERY` commits (`Checkpointer`).

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use sqlx::error::{DatabaseError, ErrorKind};

use super::query::Arg;
use super::row::Row;

const STATEMENT_CACHE: usize = 512;

/// The writer's connection: it leaves checkpoints to the `Checkpointer`.
pub fn open_writer(path: &Path) -> Result<Connection, sqlx::Error> {
    let conn = open(path)?;
    batch(&conn, "PRAGMA wal_autocheckpoint = 0")?;
    Ok(conn)
}

fn open(path: &Path) -> Result<Connection, sqlx::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(error)?;
    // Each unit of a batch runs in a savepoint, whose undo pages SQLite keeps in a statement
    // journal: in memory (`temp_store`) rather than a temporary file written at every unit.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
         PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )
    .map_err(error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Commits between two checkpoints. A deposit writes about three pages, so the WAL stays
/// within a few megabytes.
pub(super) const CHECKPOINT_EVERY: u32 = 100;

/// Copies the WAL back into the database file, on a thread and a connection of its own, when
/// told to (`committed`). A passive checkpoint never waits for the writer or for readers.
pub struct Checkpointer {
    wake: std::sync::mpsc::SyncSender<()>,
    commits: u32,
}

impl Checkpointer {
    pub fn start(path: &Path) -> Checkpointer {
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("agora-checkpoint".into())
            .spawn(move || {
                let mut conn = None;
                // Ends when the writer is gone.
                while woken.recv().is_ok() {
                    if conn.is_none() {
                        conn = open(&path)
                            .map_err(|e| tracing::warn!(error = %e, "opening the checkpoint connection"))
                            .ok();
                    }
                    if let Some(c) = &conn {
                        if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                            tracing::warn!(error = %e, "WAL checkpoint");
                        }
                    }
                }
            })
            .expect("starting the checkpoint thread");
        Checkpointer { wake, commits: 0 }
    }

    /// Counts a commit; every `CHECKPOINT_EVERY` of them, wakes the checkpoint thread (a
    /// checkpoint already under way takes the new frames too).
    pub fn committed(&mut self) {
        self.commits += 1;
        if self.commits >= CHECKPOINT_EVERY {
            self.commits = 0;
            let _ = self.wake.try_send(());
        }
    }
}

/// Connections for reads, each used by one caller at a time; opened when first needed.
pub struct Readers {
    path: std::path::PathBuf,
    conns: Vec<std::sync::Mutex<Option<Connection>>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Readers {
    pub fn new(path: &Path, count: u32) -> Readers {
        let conns = (0..count.max(1)).map(|_| std::sync::Mutex::new(None)).collect();
        Readers { path: path.to_path_buf(), conns, next: Default::default() }
    }

    /// Runs `read` on a free connection, or waits for one if all are in use (reads hold a
    /// connection for the few microseconds of one statement).
    pub fn with<R>(&self, read: impl FnOnce(&Connection) -> Result<R, sqlx::Error>) -> Result<R, sqlx::Error> {
        let mut slot = match self.conns.iter().find_map(|c| c.try_lock().ok()) {
            Some(free) => free,
            None => {
                let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.conns.len();
                self.conns[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
            }
        };
        if slot.is_none() {
            let conn = open(&self.path)?;
            batch(&conn, "PRAGMA query_only = ON")?;
            *slot = Some(conn);
        }
        read(slot.as_ref().expect("opened above"))
    }
}

/// Runs statements without arguments (transaction control).
pub fn batch(conn: &Connection, sql: &str) -> Result<(), sqlx::Error> {
    conn.execute_batch(sql).map_err(error)
}

/// Runs one statement; the number of rows it changed.
pub fn execute(conn: &Connection, sql: &str, args: &[Arg]) -> Result<u64, sqlx::Error> {
    let mut stmt = prepare(conn, sql, args)?;
    // `changes` still counts the last statement that wrote; a read changed nothing.
    let wrote = !stmt.readonly();
    let mut rows = stmt.raw_query();
    while rows.next().map_err(error)?.is_some() {}
    drop(rows);
    Ok(if wrote { conn.changes() } else { 0 })
}

/// Runs one statement and reads up to `limit` of its rows.
pub fn fetch(conn: &Connection, sql: &str, args: &[Arg], limit: usize) -> Result<Vec<Row>, sqlx::Error> {
    let mut stmt = prepare(conn, sql, args)?;
    let columns: Arc<[String]> = stmt.column_names().into_iter().map(String::from).collect();
    let width = columns.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next().map_err(error)? else { break };
        let values =
            (0..width).map(|i| row.get_ref(i).map(Value::from)).collect::<Result<Vec<_>, _>>().map_err(error)?;
        out.push(Row::Sqlite { columns: columns.clone(), values });
    }
    Ok(out)
}

/// Prepares `sql` (from the cache) and binds `args`. Placeholders are written `$n` for both
/// databases; SQLite numbers named parameters by first appearance, so each is bound by the
/// number in its name.
fn prepare<'c>(conn: &'c Connection, sql: &str, args: &[Arg]) -> Result<rusqlite::CachedStatement<'c>, sqlx::Error> {
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    for index in 1..=stmt.parameter_count() {
        let n = match stmt.parameter_name(index) {
            Some(name) => name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()).ok_or_else(|| {
                sqlx::Error::Protocol(format!("placeholder {name} in {sql:?}: write placeholders as $1, $2, ..."))
            })?,
            None => index,
        };
        let arg = args.get(n - 1).ok_or_else(|| {
            sqlx::Error::Protocol(format!("{sql:?} uses ${n} but {} arguments were bound", args.len()))
        })?;
        stmt.raw_bind_parameter(index, arg).map_err(error)?;
    }
    Ok(stmt)
}

impl ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Arg::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Arg::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
            Arg::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Arg::Null | Arg::NullInt | Arg::NullBlob => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

/// A SQLite error as sqlx reports one, so that callers tell constraint violations and busy
/// databases apart the same way on both drivers (by code and kind).
#[derive(Debug)]
struct SqliteError {
    /// The extended result code.
    code: i32,
    message: String,
}

fn error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => sqlx::Error::Database(Box::new(SqliteError {
            code: failure.extended_code,
            message: message.unwrap_or_else(|| failure.to_string()),
        })),
        rusqlite::Error::QueryReturnedNoRows => sqlx::Error::RowNotFound,
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for SqliteError {}

impl DatabaseError for SqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(self.code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            2067 | 1555 => ErrorKind::UniqueViolation,
            787 => ErrorKind::ForeignKeyViolation,
            1299 => ErrorKind::NotNullViolation,
            275 => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}
