//! SQL assembled at run time (filters, partial updates) with numbered arguments.

/// A case-insensitive `LIKE ... ESCAPE '\'` pattern matching `text` anywhere, with the
/// wildcards in `text` taken literally.
pub fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// A bind value for SQL assembled at run time (filters, partial updates).
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
    Null,
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
    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Int(i) => q.bind(*i),
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Null => q.bind(None::<String>),
            };
        }
        q
    }
}
