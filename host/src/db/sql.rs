//! SQL assembled at run time (filters, partial updates) with numbered arguments.

pub use super::query::Arg;
use super::query::Query;

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
