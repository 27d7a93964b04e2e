//! The writer's connection a unit of the group commit runs its statements on.

use sqlx::pool::PoolConnection;
use sqlx::{Any, Executor};

use super::lite;

pub enum Conn {
    /// SQLite's one writer, stepped on the calling thread (`lite`).
    Sqlite(rusqlite::Connection),
    Postgres(PoolConnection<Any>),
}

impl Conn {
    /// Runs statements without arguments (transaction control).
    pub async fn batch(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            Conn::Sqlite(c) => lite::batch(c, sql),
            Conn::Postgres(c) => c.execute(sql).await.map(|_| ()),
        }
    }
}
