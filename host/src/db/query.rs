//! Statements, written once for both databases: `query(sql).bind(..).execute(on)` and the
//! `fetch_*` family, much as with sqlx. A statement runs on the writer's connection inside a
//! unit (`&mut Conn`), on the read pool, or on a connection of sqlx's `Any` driver (a read
//! snapshot). On SQLite, in a unit or on the read pool, it runs right where it is called, with
//! no hand-off to another thread (see `lite`).

use std::borrow::Cow;
use std::marker::PhantomData;

use sqlx::{Any, AnyConnection};

use super::conn::{Conn, Link};
use super::lite;
use super::row::{Decode, FromRow, Row};
use super::ReadPool;

/// A bind value. A `NULL` carries the type it stands for, which PostgreSQL needs to know.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
    /// A `NULL` in a text column.
    Null,
    NullInt,
    NullBlob,
}

/// A Rust value that can be bound to a statement.
pub trait Bind {
    fn arg(self) -> Arg;
    /// The `NULL` of this type (what `None` binds as).
    fn null() -> Arg;
}

macro_rules! bind_by_value {
    ($($ty:ty => $variant:ident($conv:expr), $null:ident;)+) => {
        $(
            impl Bind for $ty {
                fn arg(self) -> Arg {
                    #[allow(clippy::redundant_closure_call)]
                    Arg::$variant(($conv)(self))
                }
                fn null() -> Arg {
                    Arg::$null
                }
            }
        )+
    };
}

bind_by_value! {
    i64 => Int(|v| v), NullInt;
    i32 => Int(i64::from), NullInt;
    u32 => Int(i64::from), NullInt;
    bool => Bool(|v| v), NullInt;
    f64 => Real(|v| v), NullInt;
    String => Text(|v| v), Null;
    &str => Text(str::to_string), Null;
    &String => Text(String::clone), Null;
    Vec<u8> => Blob(|v| v), NullBlob;
    &[u8] => Blob(<[u8]>::to_vec), NullBlob;
    &Vec<u8> => Blob(Vec::clone), NullBlob;
}

impl Bind for &i64 {
    fn arg(self) -> Arg {
        Arg::Int(*self)
    }
    fn null() -> Arg {
        Arg::NullInt
    }
}

impl Bind for &&str {
    fn arg(self) -> Arg {
        Arg::Text(self.to_string())
    }
    fn null() -> Arg {
        Arg::Null
    }
}

impl<T: Bind> Bind for Option<T> {
    fn arg(self) -> Arg {
        match self {
            Some(v) => v.arg(),
            None => T::null(),
        }
    }
    fn null() -> Arg {
        T::null()
    }
}

impl Bind for &Option<String> {
    fn arg(self) -> Arg {
        self.as_deref().arg()
    }
    fn null() -> Arg {
        Arg::Null
    }
}

impl Bind for &Option<i64> {
    fn arg(self) -> Arg {
        (*self).arg()
    }
    fn null() -> Arg {
        Arg::NullInt
    }
}

impl Bind for Arg {
    fn arg(self) -> Arg {
        self
    }
    fn null() -> Arg {
        Arg::Null
    }
}

/// Where a statement runs.
pub enum On<'c> {
    /// The writer's connection, inside a unit of the group commit.
    Conn(&'c mut Conn),
    /// The read pool.
    Pool(&'c ReadPool),
    /// A connection of sqlx's driver (a read transaction).
    Any(&'c mut AnyConnection),
}

impl<'c> From<&'c mut Conn> for On<'c> {
    fn from(c: &'c mut Conn) -> Self {
        On::Conn(c)
    }
}

impl<'c> From<&'c ReadPool> for On<'c> {
    fn from(p: &'c ReadPool) -> Self {
        On::Pool(p)
    }
}

impl<'c> From<&'c mut AnyConnection> for On<'c> {
    fn from(c: &'c mut AnyConnection) -> Self {
        On::Any(c)
    }
}

/// What a statement changed.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

#[derive(Clone)]
#[must_use = "a query does nothing until it is executed or fetched"]
pub struct Query<'q> {
    sql: Cow<'q, str>,
    args: Vec<Arg>,
}

pub fn query(sql: &str) -> Query<'_> {
    Query { sql: Cow::Borrowed(sql), args: Vec::new() }
}

/// A query whose rows are read as `T`.
pub fn query_as<T: FromRow>(sql: &str) -> QueryAs<'_, T> {
    QueryAs { query: query(sql), row: PhantomData }
}

/// A query whose first column is read as `T`.
pub fn query_scalar<T: Decode>(sql: &str) -> QueryScalar<'_, T> {
    QueryScalar { rows: query_as(sql) }
}

impl<'q> Query<'q> {
    pub(super) fn with_args(sql: String, args: Vec<Arg>) -> Query<'static> {
        Query { sql: Cow::Owned(sql), args }
    }

    pub fn bind(mut self, value: impl Bind) -> Self {
        self.args.push(value.arg());
        self
    }

    pub async fn execute<'c>(self, on: impl Into<On<'c>>) -> Result<Done, sqlx::Error> {
        match on.into() {
            On::Conn(Conn { link: Link::Sqlite(c), .. }) => {
                lite::execute(c, &self.sql, &self.args).map(|n| Done { rows_affected: n })
            }
            On::Conn(Conn { link: Link::Postgres(c), .. }) => self.sqlx().execute(&mut **c).await.map(done),
            On::Pool(p) => match p.sqlite() {
                Some(readers) => {
                    readers.with(|c| lite::execute(c, &self.sql, &self.args)).map(|n| Done { rows_affected: n })
                }
                None => self.sqlx().execute(&**p).await.map(done),
            },
            On::Any(c) => self.sqlx().execute(c).await.map(done),
        }
    }

    pub async fn fetch_all<'c>(self, on: impl Into<On<'c>>) -> Result<Vec<Row>, sqlx::Error> {
        match on.into() {
            On::Conn(Conn { link: Link::Sqlite(c), .. }) => lite::fetch(c, &self.sql, &self.args, usize::MAX),
            On::Conn(Conn { link: Link::Postgres(c), .. }) => any_rows(self.sqlx().fetch_all(&mut **c).await),
            On::Pool(p) => match p.sqlite() {
                Some(readers) => readers.with(|c| lite::fetch(c, &self.sql, &self.args, usize::MAX)),
                None => any_rows(self.sqlx().fetch_all(&**p).await),
            },
            On::Any(c) => any_rows(self.sqlx().fetch_all(c).await),
        }
    }

    pub async fn fetch_optional<'c>(self, on: impl Into<On<'c>>) -> Result<Option<Row>, sqlx::Error> {
        match on.into() {
            On::Conn(Conn { link: Link::Sqlite(c), .. }) => Ok(lite::fetch(c, &self.sql, &self.args, 1)?.pop()),
            On::Conn(Conn { link: Link::Postgres(c), .. }) => {
                Ok(self.sqlx().fetch_optional(&mut **c).await?.map(Row::Any))
            }
            On::Pool(p) => match p.sqlite() {
                Some(readers) => Ok(readers.with(|c| lite::fetch(c, &self.sql, &self.args, 1))?.pop()),
                None => Ok(self.sqlx().fetch_optional(&**p).await?.map(Row::Any)),
            },
            On::Any(c) => Ok(self.sqlx().fetch_optional(c).await?.map(Row::Any)),
        }
    }

    pub async fn fetch_one<'c>(self, on: impl Into<On<'c>>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(on).await?.ok_or(sqlx::Error::RowNotFound)
    }

    fn sqlx(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Int(i) => q.bind(*i),
                Arg::Real(f) => q.bind(*f),
                Arg::Bool(b) => q.bind(*b),
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Blob(b) => q.bind(b.as_slice()),
                Arg::Null => q.bind(None::<String>),
                Arg::NullInt => q.bind(None::<i64>),
                Arg::NullBlob => q.bind(None::<Vec<u8>>),
            };
        }
        q
    }
}

fn done(r: sqlx::any::AnyQueryResult) -> Done {
    Done { rows_affected: r.rows_affected() }
}

fn any_rows(rows: Result<Vec<sqlx::any::AnyRow>, sqlx::Error>) -> Result<Vec<Row>, sqlx::Error> {
    Ok(rows?.into_iter().map(Row::Any).collect())
}

#[must_use = "a query does nothing until it is fetched"]
pub struct QueryAs<'q, T> {
    query: Query<'q>,
    row: PhantomData<fn() -> T>,
}

impl<'q, T: FromRow> QueryAs<'q, T> {
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.query = self.query.bind(value);
        self
    }

    pub async fn fetch_all<'c>(self, on: impl Into<On<'c>>) -> Result<Vec<T>, sqlx::Error> {
        self.query.fetch_all(on).await?.iter().map(T::from_row).collect()
    }

    pub async fn fetch_optional<'c>(self, on: impl Into<On<'c>>) -> Result<Option<T>, sqlx::Error> {
        self.query.fetch_optional(on).await?.as_ref().map(T::from_row).transpose()
    }

    pub async fn fetch_one<'c>(self, on: impl Into<On<'c>>) -> Result<T, sqlx::Error> {
        T::from_row(&self.query.fetch_one(on).await?)
    }
}

/// A query whose rows are read as the value of their first column.
#[must_use = "a query does nothing until it is fetched"]
pub struct QueryScalar<'q, T> {
    rows: QueryAs<'q, (T,)>,
}

impl<'q, T: Decode> QueryScalar<'q, T> {
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.rows = self.rows.bind(value);
        self
    }

    pub async fn fetch_all<'c>(self, on: impl Into<On<'c>>) -> Result<Vec<T>, sqlx::Error> {
        Ok(self.rows.fetch_all(on).await?.into_iter().map(|(v,)| v).collect())
    }

    pub async fn fetch_one<'c>(self, on: impl Into<On<'c>>) -> Result<T, sqlx::Error> {
        Ok(self.rows.fetch_one(on).await?.0)
    }

    pub async fn fetch_optional<'c>(self, on: impl Into<On<'c>>) -> Result<Option<T>, sqlx::Error> {
        Ok(self.rows.fetch_optional(on).await?.map(|(v,)| v))
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{is_unique_violation, query, query_as, query_scalar, Db, Transient};
    use crate::transaction;

    async fn db() -> Db {
        let dir = agora_testkit::fresh_dir("query");
        let db = Db::connect(&format!("sqlite://{}/q.db", dir.display()), 2).await.unwrap();
        sqlx::query("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT, note TEXT, data BLOB, flag BOOLEAN)")
            .execute(&db.direct)
            .await
            .unwrap();
        db
    }

    crate::row_struct! {
        #[derive(Debug, PartialEq)]
        struct T {
            id: String,
            n: Option<i64>,
            note: Option<String>,
            data: Option<Vec<u8>>,
            flag: bool,
        }
    }

    #[tokio::test]
    async fn placeholders_bind_by_their_number_and_values_read_back_by_type() {
        let db = db().await;
        transaction!(db, |c| async move {
            // Out of order and repeated: SQLite numbers named parameters by first appearance.
            query("INSERT INTO t (flag, id, n, note, data) VALUES ($5, $2, $1, $3, $4)")
                .bind(7i64)
                .bind("a")
                .bind(None::<String>)
                .bind(vec![1u8, 2])
                .bind(true)
                .execute(&mut *c)
                .await?;
            query("INSERT INTO t (id, n, note, flag) VALUES ($1, $2, $1, $3)")
                .bind("b")
                .bind(None::<i64>)
                .bind(false)
                .execute(c)
                .await
        })
        .unwrap();
        let rows =
            query_as::<T>("SELECT id, n, note, data, flag FROM t ORDER BY id").fetch_all(&db.read).await.unwrap();
        assert_eq!(
            rows,
            [
                T { id: "a".into(), n: Some(7), note: None, data: Some(vec![1, 2]), flag: true },
                T { id: "b".into(), n: None, note: Some("b".into()), data: None, flag: false },
            ]
        );
        let ids: Vec<String> =
            query_scalar("SELECT id FROM t WHERE n IS NULL OR n > $1").bind(0i64).fetch_all(&db.read).await.unwrap();
        assert_eq!(ids, ["a", "b"]);
        let read_after_write = transaction!(db, |c| async move {
            let updated = query("UPDATE t SET n = 1").execute(&mut *c).await?.rows_affected();
            Ok::<_, sqlx::Error>((updated, query("SELECT id FROM t").execute(c).await?.rows_affected()))
        })
        .unwrap();
        assert_eq!(read_after_write, (2, 0), "a read changes nothing, whatever the write before it changed");
        let missing = query("SELECT id FROM t WHERE id = $1").bind("z").fetch_one(&db.read).await;
        assert!(matches!(missing, Err(sqlx::Error::RowNotFound)), "{:?}", missing.err());
    }

    #[tokio::test]
    async fn sqlite_errors_read_as_sqlx_reports_them() {
        let db = db().await;
        let insert = |id: &'static str| {
            let db = db.clone();
            async move { transaction!(db, |c| query("INSERT INTO t (id, flag) VALUES ($1, 0)").bind(id).execute(c)) }
        };
        insert("a").await.unwrap();
        let duplicate = insert("a").await.unwrap_err();
        assert!(is_unique_violation(&duplicate), "{duplicate:?}");
        assert!(!duplicate.is_transient());
        let unbound = transaction!(db, |c| query("SELECT $1, $2").bind(1i64).execute(c)).unwrap_err();
        assert!(unbound.to_string().contains("uses $2 but 1 arguments were bound"), "{unbound}");
    }

    #[tokio::test]
    async fn the_checkpointer_copies_committed_writes_into_the_database_file() {
        let dir = agora_testkit::fresh_dir("checkpoint");
        let file = dir.join("c.db");
        let db = Db::connect(&format!("sqlite://{}", file.display()), 2).await.unwrap();
        sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY, pad TEXT)").execute(&db.direct).await.unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&db.direct).await.unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        for id in 0..(super::super::lite::CHECKPOINT_EVERY as i64 + 1) {
            let pad = "x".repeat(2_000);
            transaction!(db, |c| query("INSERT INTO t (id, pad) VALUES ($1, $2)").bind(id).bind(&pad).execute(c))
                .unwrap();
        }
        // The writer never checkpoints: only the checkpoint thread grows the database file.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&file).unwrap().len() <= before {
            assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
