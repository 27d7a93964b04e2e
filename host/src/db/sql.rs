//! SQL assembled at run time (filters, partial updates) with numbered arguments.

pub use super::query::Arg;
use super::query::Query;
use super::Conn;

/// A case-insensitive `LIKE ... ESCAPE '\'` pattern matching `text` anywhere, with the
/// wildcards in `text` taken literally.
pub fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// `count` numbered placeholders from `$first`, comma-separated: `placeholders(3, 2)` is
/// `"$3, $4"`.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// A column list with every column prefixed by a table alias: `qualified("id, name", "a")` is
/// `"a.id, a.name"`.
pub fn qualified(columns: &str, alias: &str) -> String {
    columns.split(',').map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// Inserts one row `(key, label)` per label into a mirror table of labels (an agent's
/// capabilities, a task's, a service's tags), in one statement. `columns` names the two.
pub async fn insert_labels(
    c: &mut Conn,
    table: &str,
    columns: &str,
    key: &str,
    labels: &[String],
) -> Result<(), sqlx::Error> {
    if labels.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..labels.len()).map(|i| format!("($1, ${})", i + 2)).collect();
    let sql = format!("INSERT INTO {table} ({columns}) VALUES {}", rows.join(", "));
    let mut q = super::query(&sql).bind(key);
    for label in labels {
        q = q.bind(label);
    }
    q.execute(c).await?;
    Ok(())
}

/// SQL text plus its arguments, numbered `$1..` as they are added.
#[derive(Debug, Default, Clone)]
pub struct SqlBuf {
    pub sql: String,
    args: Vec<Arg>,
}

impl SqlBuf {
    pub fn new(sql: &str) -> Self {
        Self { sql: sql.to_string(), args: Vec::new() }
    }
    /// Adds an argument and returns its placeholder.
    pub fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }
    pub fn query(&self) -> Query<'static> {
        Query::with_args(self.sql.clone(), self.args.clone())
    }
}

/// The conditional update every lifecycle step is decided by: sets `updated_at`, the status
/// `to` (when given) and `changes` on row `id` of `table`, only if its status is one of `from`
/// and, with a `guard`, its column holds that value. True when the row matched; false when a
/// concurrent step moved it first, with nothing written.
pub async fn update_if(
    c: &mut Conn,
    table: &str,
    id: &str,
    from: &[&str],
    to: Option<&str>,
    guard: Option<(&str, &str)>,
    changes: &Changes,
) -> Result<bool, sqlx::Error> {
    let mut q = SqlBuf::new("");
    let now = q.arg(Arg::Int(super::now_ms()));
    let mut sets = vec![format!("updated_at = {now}")];
    if let Some(to) = to {
        sets.push(format!("status = {}", q.arg(Arg::Text(to.into()))));
    }
    sets.extend(changes.set_list(&mut q, &now));
    let id = q.arg(Arg::Text(id.into()));
    let from: Vec<String> = from.iter().map(|s| q.arg(Arg::Text(s.to_string()))).collect();
    let mut sql = format!("UPDATE {table} SET {} WHERE id = {id} AND status IN ({})", sets.join(", "), from.join(", "));
    if let Some((column, value)) = guard {
        sql.push_str(&format!(" AND {column} = {}", q.arg(Arg::Text(value.into()))));
    }
    q.sql = sql;
    Ok(q.query().execute(c).await?.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_qualified_one_by_one() {
        assert_eq!(super::qualified("id, name,status", "a"), "a.id, a.name, a.status");
    }

    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(super::placeholders(3, 2), "$3, $4");
        assert_eq!(super::placeholders(1, 1), "$1");
        assert_eq!(super::placeholders(1, 0), "");
    }
}

/// What a conditional UPDATE sets besides its status: built by a domain's service, rendered
/// by its store with `set_list`.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    sets: Vec<(&'static str, Arg)>,
    stamps: Vec<&'static str>,
    adds: Vec<(&'static str, i64)>,
}

impl Changes {
    pub fn text(mut self, column: &'static str, value: &str) -> Self {
        self.sets.push((column, Arg::Text(value.to_string())));
        self
    }

    pub fn int(mut self, column: &'static str, value: i64) -> Self {
        self.sets.push((column, Arg::Int(value)));
        self
    }

    /// Sets an integer column (a time, a count) to NULL.
    pub fn no_int(mut self, column: &'static str) -> Self {
        self.sets.push((column, Arg::NullInt));
        self
    }

    /// Sets a text column to NULL.
    pub fn no_text(mut self, column: &'static str) -> Self {
        self.sets.push((column, Arg::Null));
        self
    }

    /// Sets `column` to the time of the change.
    pub fn stamp(mut self, column: &'static str) -> Self {
        self.stamps.push(column);
        self
    }

    /// Adds `amount` to an integer column.
    pub fn add(mut self, column: &'static str, amount: i64) -> Self {
        self.adds.push((column, amount));
        self
    }

    /// `column = $n` for each change, its values bound into `q`; stamps are set to `now` (a
    /// placeholder already bound).
    pub fn set_list(&self, q: &mut SqlBuf, now: &str) -> Vec<String> {
        let mut sets = Vec::new();
        for (column, value) in &self.sets {
            sets.push(format!("{column} = {}", q.arg(value.clone())));
        }
        for column in &self.stamps {
            sets.push(format!("{column} = {now}"));
        }
        for (column, amount) in &self.adds {
            sets.push(format!("{column} = {column} + {}", q.arg(Arg::Int(*amount))));
        }
        sets
    }
}
