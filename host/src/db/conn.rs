//! The writer's connection a unit of the group commit runs its statements on, and the rows its
//! units append at the batch's commit.

use sqlx::pool::PoolConnection;
use sqlx::{Any, Executor};

use super::lite;
use super::query::{Arg, Bind, Query};

pub struct Conn {
    pub(super) link: Link,
    /// Rows to insert when the batch commits (`append`), in order.
    appends: Vec<Append>,
}

pub enum Link {
    /// SQLite's one writer, stepped on the calling thread (`lite`).
    Sqlite(rusqlite::Connection),
    Postgres(PoolConnection<Any>),
}

/// A row for an append-only table, inserted when its unit's batch commits.
pub struct Append {
    table: &'static str,
    columns: Vec<&'static str>,
    args: Vec<Arg>,
}

impl Append {
    pub fn into(table: &'static str) -> Append {
        Append { table, columns: Vec::new(), args: Vec::new() }
    }

    pub fn value(mut self, column: &'static str, value: impl Bind) -> Append {
        self.columns.push(column);
        self.args.push(value.arg());
        self
    }

    fn same_shape(&self, other: &Append) -> bool {
        self.table == other.table && self.columns == other.columns
    }
}

/// `INSERT INTO table (columns) VALUES ($1, ...), ...` for `rows` rows of `width` columns.
fn insert_sql(first: &Append, rows: usize) -> String {
    let width = first.columns.len();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect();
    format!("INSERT INTO {} ({}) VALUES {}", first.table, first.columns.join(", "), values.join(", "))
}

/// Rows per PostgreSQL statement at most (it takes up to 65,535 arguments).
const ROWS_PER_STATEMENT: usize = 100;

impl Conn {
    pub(super) fn new(link: Link) -> Conn {
        Conn { link, appends: Vec::new() }
    }

    pub(super) fn into_link(self) -> Link {
        self.link
    }

    /// Runs statements without arguments (transaction control).
    pub async fn batch(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        match &mut self.link {
            Link::Sqlite(c) => lite::batch(c, sql),
            Link::Postgres(c) => c.execute(sql).await.map(|_| ()),
        }
    }

    /// Inserts `row` when the unit's batch commits, after every unit and outside their
    /// savepoints, in the same transaction; it goes with the unit if the unit is undone. For
    /// rows of append-only tables that nothing in the batch reads back and that cannot be
    /// refused (a fresh key, no other constraint): written this way a row costs a fraction of
    /// a statement of its own, since no savepoint keeps a copy of the pages it touches and, on
    /// PostgreSQL, a batch's rows take one round trip. Should one fail after all, the whole
    /// batch is rolled back and its units run again.
    pub fn append(&mut self, row: Append) {
        self.appends.push(row);
    }

    pub(super) fn appended(&self) -> usize {
        self.appends.len()
    }

    /// Forgets the rows appended since `mark` (a unit rolled back to its savepoint).
    pub(super) fn forget_appends_from(&mut self, mark: usize) {
        self.appends.truncate(mark);
    }

    /// Writes the appended rows: on SQLite one prepared single-row insert each (a statement
    /// whose text changed with the number of rows would be prepared again every time), on
    /// PostgreSQL multi-row inserts of rows of the same shape.
    pub(super) async fn write_appends(&mut self) -> Result<(), sqlx::Error> {
        let appends = std::mem::take(&mut self.appends);
        let limit = match self.link {
            Link::Sqlite(_) => 1,
            Link::Postgres(_) => ROWS_PER_STATEMENT,
        };
        let mut rest = appends.as_slice();
        while let Some(first) = rest.first() {
            let rows = rest.iter().take(limit).take_while(|a| a.same_shape(first)).count();
            let args = rest[..rows].iter().flat_map(|a| a.args.iter().cloned()).collect();
            Query::with_args(insert_sql(first, rows), args).execute(&mut *self).await?;
            rest = &rest[rows..];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insert_numbers_every_rows_placeholders_in_order() {
        let row = Append::into("t").value("a", 1i64).value("b", "x");
        assert_eq!(insert_sql(&row, 1), "INSERT INTO t (a, b) VALUES ($1, $2)");
        assert_eq!(insert_sql(&row, 3), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)");
    }
}
