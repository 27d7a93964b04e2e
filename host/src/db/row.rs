//! Rows as the domain code reads them, whichever driver produced them: a row of sqlx's `Any`
//! driver (reads, and writes on PostgreSQL) or a row of values read by the SQLite writer.

use std::sync::Arc;

use rusqlite::types::Value;
use sqlx::any::AnyRow;

pub enum Row {
    Any(AnyRow),
    Sqlite { columns: Arc<[String]>, values: Vec<Value> },
}

/// A column by name or by position.
pub trait ColumnIndex: Copy + std::fmt::Display {
    fn position(self, columns: &[String]) -> Option<usize>;
    fn read<T: Decode>(self, row: &AnyRow) -> Result<T, sqlx::Error>;
}

impl ColumnIndex for &str {
    fn position(self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|c| c == self)
    }
    fn read<T: Decode>(self, row: &AnyRow) -> Result<T, sqlx::Error> {
        sqlx::Row::try_get(row, self)
    }
}

impl ColumnIndex for usize {
    fn position(self, columns: &[String]) -> Option<usize> {
        (self < columns.len()).then_some(self)
    }
    fn read<T: Decode>(self, row: &AnyRow) -> Result<T, sqlx::Error> {
        sqlx::Row::try_get(row, self)
    }
}

impl Row {
    /// The column's value; panics if the column is missing or of another type (a bug in the
    /// query, as with sqlx's `Row::get`).
    pub fn get<T: Decode, I: ColumnIndex>(&self, index: I) -> T {
        self.try_get(index).unwrap_or_else(|e| panic!("column {index}: {e}"))
    }

    pub fn try_get<T: Decode, I: ColumnIndex>(&self, index: I) -> Result<T, sqlx::Error> {
        match self {
            Row::Any(row) => index.read(row),
            Row::Sqlite { columns, values } => {
                let at = index.position(columns).ok_or_else(|| sqlx::Error::ColumnNotFound(index.to_string()))?;
                T::from_sqlite(&values[at])
                    .map_err(|message| sqlx::Error::ColumnDecode { index: index.to_string(), source: message.into() })
            }
        }
    }
}

/// A Rust type a column decodes into, from either driver.
pub trait Decode: Sized + for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> {
    fn from_sqlite(value: &Value) -> Result<Self, String>;
}

fn mismatch<T>(want: &str, got: &Value) -> Result<T, String> {
    Err(format!("expected {want}, found {:?}", got.data_type()))
}

impl Decode for i64 {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        match value {
            Value::Integer(i) => Ok(*i),
            other => mismatch("an integer", other),
        }
    }
}

impl Decode for i32 {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        i64::from_sqlite(value)?.try_into().map_err(|_| "integer out of range".to_string())
    }
}

impl Decode for bool {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        Ok(i64::from_sqlite(value)? != 0)
    }
}

impl Decode for f64 {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        match value {
            Value::Real(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            other => mismatch("a number", other),
        }
    }
}

impl Decode for String {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => mismatch("text", other),
        }
    }
}

impl Decode for Vec<u8> {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.clone().into_bytes()),
            other => mismatch("a blob", other),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_sqlite(other).map(Some),
        }
    }
}

/// A type built from a whole row.
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> Result<Self, sqlx::Error>;
}

/// A single column is a row of one.
impl<T: Decode> FromRow for (T,) {
    fn from_row(row: &Row) -> Result<Self, sqlx::Error> {
        Ok((row.try_get(0)?,))
    }
}

/// Declares a struct read from rows by its field names (each field a column of that name):
/// `row_struct! { #[derive(Debug)] pub struct AgentRow { pub id: String, ... } }`.
#[macro_export]
macro_rules! row_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty),*
        }

        impl $crate::db::FromRow for $name {
            fn from_row(row: &$crate::db::Row) -> Result<Self, sqlx::Error> {
                Ok(Self { $($field: row.try_get(stringify!($field))?),* })
            }
        }
    };
}
