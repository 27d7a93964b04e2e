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

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(super::placeholders(3, 2), "$3, $4");
        assert_eq!(super::placeholders(1, 1), "$1");
        assert_eq!(super::placeholders(1, 0), "");
    }
}
