//! The SQLite writer's connection: statements are prepared (once, then cached), bound and
//! stepped on the calling thread. sqlx's SQLite driver runs each connection on a thread of its
//! own and sends every statement there and the answer back, two thread wake-ups per statement;
//! for the one writer, through which every write passes, that hand-off was most of the cost of a
//! write (see docs/benchmarks.md). A statement here takes microseconds, so running it inline on
//! the async worker is cheaper than handing it off; commits, which may checkpoint the WAL, run
//! on the blocking pool (`group`).

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use sqlx::error::{DatabaseError, ErrorKind};

use super::query::Arg;
use super::row::Row;

const STATEMENT_CACHE: usize = 512;

pub fn open(path: &Path) -> Result<Connection, sqlx::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(error)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
         PRAGMA foreign_keys = ON;",
    )
    .map_err(error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Runs statements without arguments (transaction control).
pub fn batch(conn: &Connection, sql: &str) -> Result<(), sqlx::Error> {
    conn.execute_batch(sql).map_err(error)
}

/// Runs one statement; the number of rows it changed.
pub fn execute(conn: &Connection, sql: &str, args: &[Arg]) -> Result<u64, sqlx::Error> {
    let mut stmt = prepare(conn, sql, args)?;
    let mut rows = stmt.raw_query();
    while rows.next().map_err(error)?.is_some() {}
    drop(rows);
    Ok(conn.changes())
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
