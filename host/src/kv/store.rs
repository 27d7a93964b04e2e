//! The `kv_entries` table: one row per (namespace, key).

use crate::db::Conn;

use crate::db::{now_ms, Backend, Db};

/// Bytes used in the namespace, and by `key` among them; in the caller's transaction, which
/// on PostgreSQL first takes the namespace's lock so that two writes cannot both squeeze
/// under the quota.
pub async fn usage_in(conn: &mut Conn, backend: Backend, ns: &str, key: &str) -> Result<(i64, i64), sqlx::Error> {
    if backend == Backend::Postgres {
        crate::db::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(ns).execute(&mut *conn).await?;
    }
    let row = crate::db::query(
        "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS used, \
         CAST(COALESCE(SUM(CASE WHEN kv_key = $2 THEN size_bytes ELSE 0 END), 0) AS BIGINT) AS old \
         FROM kv_entries WHERE namespace = $1",
    )
    .bind(ns)
    .bind(key)
    .fetch_one(conn)
    .await?;
    Ok((row.get("used"), row.get("old")))
}

pub async fn put_in(conn: &mut Conn, ns: &str, key: &str, value: Vec<u8>, size: i64) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO kv_entries (namespace, kv_key, kv_value, size_bytes, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (namespace, kv_key) DO UPDATE SET kv_value = excluded.kv_value, \
         size_bytes = excluded.size_bytes, updated_at = excluded.updated_at",
    )
    .bind(ns)
    .bind(key)
    .bind(value)
    .bind(size)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, ns: &str, key: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    Ok(crate::db::query("SELECT kv_value FROM kv_entries WHERE namespace = $1 AND kv_key = $2")
        .bind(ns)
        .bind(key)
        .fetch_optional(&db.read)
        .await?
        .map(|r| r.get("kv_value")))
}

pub async fn delete(db: &Db, ns: &str, key: &str) -> Result<bool, sqlx::Error> {
    Ok(db
        .execute(crate::db::query("DELETE FROM kv_entries WHERE namespace = $1 AND kv_key = $2").bind(ns).bind(key))
        .await?
        .rows_affected()
        == 1)
}

/// Keys starting with `prefix`, in ascending order, at most 1000.
pub async fn keys(db: &Db, ns: &str, prefix: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows = crate::db::query(
        "SELECT kv_key FROM kv_entries WHERE namespace = $1 AND SUBSTR(kv_key, 1, CAST($2 AS INTEGER)) = $3 \
         ORDER BY kv_key LIMIT 1000",
    )
    .bind(ns)
    .bind(prefix.chars().count() as i64)
    .bind(prefix)
    .fetch_all(&db.read)
    .await?;
    Ok(rows.iter().map(|r| r.get("kv_key")).collect())
}
