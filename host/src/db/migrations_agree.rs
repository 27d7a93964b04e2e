//! The SQLite and PostgreSQL migrations are one schema written twice: they must agree
//! statement by statement, apart from the dialect differences listed here.

/// Statements only one dialect has (triggers and their functions, PostgreSQL's column
/// defaults, switching the immutability trigger off for a backfill).
const DIALECT_ONLY: &[&str] = &[
    "CREATE TRIGGER ",
    "CREATE FUNCTION ",
    "DROP TRIGGER ",
    "ALTER TABLE TRANSFERS DISABLE TRIGGER ",
    "ALTER TABLE TRANSFERS ENABLE TRIGGER ",
    "ALTER TABLE AGENTS ALTER COLUMN STATUS SET DEFAULT ",
];

/// Spellings that differ between the dialects, in PostgreSQL's form and SQLite's.
const SPELLINGS: &[(&str, &str)] = &[("BYTEA", "BLOB"), ("LEAST(", "MIN("), ("GREATEST(", "MAX(")];

/// The statements of a migration file, comments dropped, whitespace collapsed, upper-cased,
/// spellings unified; a statement ends with a line ending in `;` (outside `$$` bodies).
fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.split("--").next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        current.push(' ');
        current.push_str(line);
        if line.ends_with(';') && current.matches("$$").count().is_multiple_of(2) {
            let mut s = current.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
            for (postgres, sqlite) in SPELLINGS {
                s = s.replace(postgres, sqlite);
            }
            out.push(s);
            current.clear();
        }
    }
    assert!(current.trim().is_empty(), "unterminated statement: {current}");
    out
}

fn shared(statements: Vec<String>) -> Vec<String> {
    statements.into_iter().filter(|s| !DIALECT_ONLY.iter().any(|p| s.starts_with(p))).collect()
}

#[test]
fn migrations_agree() {
    let root = agora_testkit::repo_root().join("migrations");
    let names = |dialect: &str| {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dialect))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert_eq!(sqlite, names("postgres"), "every migration exists in both dialects");
    assert!(sqlite.len() >= 3);
    for name in &sqlite {
        let read = |dialect: &str| std::fs::read_to_string(root.join(dialect).join(name)).unwrap();
        let (lite, pg) = (statements(&read("sqlite")), statements(&read("postgres")));
        let (lite, pg) = (shared(lite), shared(pg));
        for (i, (a, b)) in lite.iter().zip(&pg).enumerate() {
            assert_eq!(a, b, "{name}: statement {i} differs");
        }
        assert_eq!(lite.len(), pg.len(), "{name}: the dialects have different statements");
    }
}

#[test]
fn the_splitter_keeps_trigger_and_function_bodies_whole() {
    let text = "CREATE TABLE t (x BLOB);\n-- note\nCREATE TRIGGER a BEFORE UPDATE ON t\nBEGIN SELECT RAISE(ABORT, 'no'); END;\n\
                CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    RAISE EXCEPTION 'no';\nEND;\n$$;\n";
    let s = statements(text);
    assert_eq!(s.len(), 3, "{s:?}");
    assert!(s[1].starts_with("CREATE TRIGGER") && s[1].ends_with("END;"));
    assert!(s[2].starts_with("CREATE FUNCTION") && s[2].ends_with("$$;"));
}
